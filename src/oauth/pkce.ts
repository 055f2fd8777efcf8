// PKCE (RFC 7636), as RFC 9700 section 2.1.1 wants it: S256 only, required for public clients and wherever
// governance says so.
import { createHash } from 'node:crypto';
import { InvalidRequest } from '../errors.js';
import type { App } from '../platform/service.js';

/** RFC 7636 section 4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~". */
export const PKCE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** The authorization request's code_challenge, checked; null when the client may go without PKCE. */
export function checkChallenge(app: App, challenge: string | undefined, method: string | undefined): string | null {
  if (challenge === undefined) {
    if (method !== undefined) throw new InvalidRequest('code_challenge_method given without code_challenge');
    if (app.tokenEndpointAuthMethod === 'none') throw new InvalidRequest('PKCE is required: send code_challenge with code_challenge_method=S256');
    if (app.enforcePkce) throw new InvalidRequest('PKCE is required for this client: send code_challenge with code_challenge_method=S256');
    return null;
  }
  // A missing method means "plain" (RFC 7636 section 4.3), which is refused like an explicit plain.
  if (method !== 'S256') throw new InvalidRequest('code_challenge_method must be S256');
  if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) throw new InvalidRequest('code_challenge must be a base64url SHA-256 (43 characters)');
  return challenge;
}
