// Identifiers look like the contract's examples: a type prefix and a random, URL-safe part.
import { createHash, randomBytes } from 'node:crypto';

export type IdPrefix = 'app' | 'ten' | 'usr' | 'sec' | 'stk' | 'aud' | 'wh' | 'dlv' | 'evt' | 'inc' | 'grt' | 'ar' | 'cns' | 'note' | 'bv' | 'att' | 'rcv' | 'irq' | 'idp';

/** 15 random bytes = 120 bits, 20 base64url characters: unguessable and free of '=' padding. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBytes(15).toString('base64url')}`;
}

/** Opaque credential material (client secrets, generated passwords): 32 random bytes. */
export function newSecret(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/** SHA-256, hex: how codes, refresh tokens, session ids and client secrets are stored. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
