// Standard Webhooks (https://www.standardwebhooks.com): `whsec_`-prefixed base64 secrets, and the
// `webhook-id`, `webhook-timestamp`, `webhook-signature` headers, the signature being
// `v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`, one per live secret, space-separated.
import { createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';
/** 192 bits at least: a guessable signing secret would let anyone forge deliveries. */
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;

export function generateSecret(): string {
  return `${PREFIX}${randomBytes(32).toString('base64')}`;
}

/** What is wrong with a caller-chosen secret ("must look like ..."), or null when it is fine. */
export function secretProblem(secret: string): string | null {
  if (!secret.startsWith(PREFIX)) return `must look like ${PREFIX}<base64 of 24 to 64 random bytes>`;
  const raw = secret.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) return 'must be base64 after the whsec_ prefix';
  const bytes = Buffer.from(raw, 'base64').length;
  if (bytes < MIN_SECRET_BYTES) return `is too weak: ${bytes} bytes, at least ${MIN_SECRET_BYTES} random bytes are needed`;
  if (bytes > MAX_SECRET_BYTES) return `is too long: at most ${MAX_SECRET_BYTES} bytes`;
  return null;
}

export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice(PREFIX.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

export function signatureHeaders(secrets: string[], id: string, body: string, now = new Date()): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => sign(s, id, timestamp, body)).join(' '),
  };
}
