import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import type { JWK } from 'jose';

/** Lifecycle: next (published, not signing) -> active (signing) -> retired (published) -> expired (gone). */
export type KeyState = 'next' | 'active' | 'retired' | 'expired';

export const SigningKey = defineEntity({
  name: 'SigningKey',
  tableName: 'signing_keys',
  properties: {
    kid: p.string().primary(),
    alg: p.string(),
    state: p.string().$type<KeyState>(),
    publicJwk: p.json<JWK>(),
    privateKeySealed: p.text().hidden(),
    createdAt: p.datetime().onCreate(() => new Date()),
    activatedAt: p.datetime().nullable(),
    retiredAt: p.datetime().nullable(),
    /** No token signed by this key expires after this instant (bumped ahead of signing). */
    tokenHorizon: p.datetime().nullable(),
  },
});
export type SigningKey = InferEntity<typeof SigningKey>;

/** Revoked token ids (jti), kept until the token would have expired anyway. */
export const RevokedToken = defineEntity({
  name: 'RevokedToken',
  tableName: 'revoked_tokens',
  properties: {
    jti: p.string().primary(),
    expiresAt: p.datetime(),
    revokedAt: p.datetime().onCreate(() => new Date()),
  },
});
export type RevokedToken = InferEntity<typeof RevokedToken>;

/** The tables of keys/: platform-wide, owned by no tenant. */
export const keyEntities = [SigningKey, RevokedToken];
