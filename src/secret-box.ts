// Encryption at rest for private keys and (later) webhook secrets: AES-256-GCM under SECRETS_KEY.
// The purpose string is bound as additional authenticated data, so a ciphertext cannot be moved
// from one record to another (e.g. a webhook secret replayed as a signing key).
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
  }

  seal(plaintext: string, purpose: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(purpose));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv, body, cipher.getAuthTag()].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
  }

  /**
   * A secret derived from SECRETS_KEY for `purpose` (HMAC-SHA256, base64url): the same on every process and every
   * start, so a credential the platform holds for itself (the console's client secret) needs no storage.
   */
  derive(purpose: string): string {
    return createHmac('sha256', this.key).update(`derive:${purpose}`).digest('base64url');
  }

  open(sealed: string, purpose: string): string {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== VERSION || !iv || !body || !tag) throw new Error('unrecognised sealed value');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(purpose));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}
