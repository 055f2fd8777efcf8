import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from './secret-box.js';

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('round-trips and never shows the plaintext', () => {
    const sealed = box.seal('-----BEGIN PRIVATE KEY-----', 'signing-key:a');
    expect(sealed).not.toContain('PRIVATE');
    expect(box.open(sealed, 'signing-key:a')).toBe('-----BEGIN PRIVATE KEY-----');
  });

  it('refuses a ciphertext moved to another purpose, a tampered one, or another key', () => {
    const sealed = box.seal('secret', 'webhook:1');
    expect(() => box.open(sealed, 'webhook:2')).toThrow();
    const parts = sealed.split('.');
    parts[2] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join('.'), 'webhook:1')).toThrow();
    expect(() => new SecretBox(randomBytes(32)).open(sealed, 'webhook:1')).toThrow();
  });
});
