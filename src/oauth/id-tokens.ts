// What Tessera says about a signed-in user to an OpenID Connect client: the ID token's account of the sign-in (`acr`,
// `amr`, `auth_time`, `sid`: OIDC Core section 2) and the user's claims each scope allows (OIDC Core section 5.4), the
// same in the ID token and at the UserInfo endpoint.
import type { User } from '../tenancy/service.js';

/**
 * The `acr` values (OIDC Core section 2): who vouched for the user, from the login session's `amr` (RFC 8176). A
 * tenant's identity provider (`fed`) comes first, whatever else the session says: Tessera cannot check the factors
 * an upstream provider reports. Otherwise a second factor Tessera checked itself (`otp`, or a key) makes `mfa`.
 */
export const ACR = {
  password: 'urn:tessera:acr:pwd',
  mfa: 'urn:tessera:acr:mfa',
  federated: 'urn:tessera:acr:fed',
} as const;

/** RFC 8176 section 2 values that stand for a factor beyond the password. */
const SECOND_FACTORS = new Set(['otp', 'mfa', 'hwk', 'swk', 'sms', 'face', 'fpt']);

export function acrOf(amr: readonly string[]): string {
  if (amr.includes('fed')) return ACR.federated;
  if (amr.some((method) => SECOND_FACTORS.has(method))) return ACR.mfa;
  return ACR.password;
}

/**
 * The user's claims that `scopes` allow (OIDC Core section 5.4). Users have an email and roles, no name:
 * - `profile`: `preferred_username` (the email, the name they sign in with) and `roles` (their roles in their
 *   organisation, `admin` or `member`); `name` and the other profile claims are left out, since Tessera holds no value
 *   for them (OIDC Core section 5.3.2: a claim without a value is omitted);
 * - `email`: `email` and `email_verified: false`, since Tessera sends no mail and so never saw the user receive any at
 *   that address (an administrator typed it, or an identity provider sent it).
 */
export function userClaims(user: User, scopes: Iterable<string>): Record<string, unknown> {
  const granted = new Set(scopes);
  return {
    ...(granted.has('profile') ? { preferred_username: user.email, roles: [...user.roles] } : {}),
    ...(granted.has('email') ? { email: user.email, email_verified: false } : {}),
  };
}

/** Every claim Tessera may put in an ID token or a UserInfo answer (OpenID Connect Discovery 1.0 `claims_supported`). */
export const CLAIMS_SUPPORTED = ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'at_hash', 'acr', 'amr', 'sid', 'preferred_username', 'roles', 'email', 'email_verified'];
