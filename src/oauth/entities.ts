import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** A pending /authorize request, kept server-side while the user logs in and consents (10 minutes). */
export const AuthorizationRequest = defineEntity({
  name: 'AuthorizationRequest',
  tableName: 'oauth_authorization_requests',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    appId: p.string(),
    redirectUri: p.text(),
    scopes: p.json<string[]>(),
    state: p.text().nullable(),
    codeChallenge: p.string().nullable(),
    /** OIDC Core section 3.1.2.1: echoed in the ID token, so the client can tie it to this request. */
    nonce: p.text().nullable(),
    /** OIDC Core section 3.1.2.1 `prompt`: `login`, `consent` (or `none`, answered at once); empty when not sent. */
    prompt: p.json<string[]>(),
    /** OIDC Core section 3.1.2.1 `max_age`, in seconds: an older sign-in must be made again. */
    maxAge: p.integer().nullable(),
    /** CSRF token of the login and consent forms. */
    csrfToken: p.string().hidden(),
    /** SHA-256 of the browser cookie: only the browser that started the request may finish it. */
    browserBinding: p.string().hidden(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
  },
});
export type AuthorizationRequest = InferEntity<typeof AuthorizationRequest>;

export const LoginSession = defineEntity({
  name: 'LoginSession',
  tableName: 'oauth_login_sessions',
  properties: {
    /** SHA-256 of the session cookie value. */
    id: p.string().primary(),
    tenantId: p.string(),
    userId: p.string(),
    /** When the user signed in: the ID token's `auth_time`, and what `max_age` is measured from. */
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
    /** How the user signed in (RFC 8176 Authentication Method Reference values: `pwd`, `otp`, `fed`...). */
    amr: p.json<string[]>(),
  },
});
export type LoginSession = InferEntity<typeof LoginSession>;

export const Consent = defineEntity({
  name: 'Consent',
  tableName: 'oauth_consents',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    userId: p.string(),
    appId: p.string(),
    /** The scope set consented to, sorted and space-separated. */
    scopeSet: p.text(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type Consent = InferEntity<typeof Consent>;

/** One authorization: the code, the refresh tokens and the access tokens that descend from it. */
export const Grant = defineEntity({
  name: 'Grant',
  tableName: 'oauth_grants',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    appId: p.string(),
    userId: p.string(),
    scopes: p.json<string[]>(),
    createdAt: p.datetime().onCreate(() => new Date()),
    /**
     * How the user signed in for this grant: when (`auth_time`), how (`amr`) and in which login session (`sid`), for
     * every ID token of the grant, refreshed ones included (OIDC Core section 12.2). Null on grants made before OIDC.
     */
    authTime: p.datetime().nullable(),
    amr: p.json<string[]>().nullable(),
    loginSessionId: p.string().nullable(),
    revokedAt: p.datetime().nullable(),
    revokedReason: p.string().nullable(),
  },
});
export type Grant = InferEntity<typeof Grant>;

export const AuthorizationCode = defineEntity({
  name: 'AuthorizationCode',
  tableName: 'oauth_authorization_codes',
  properties: {
    /** SHA-256 of the code. */
    id: p.string().primary(),
    tenantId: p.string(),
    appId: p.string(),
    userId: p.string(),
    grantId: p.string(),
    redirectUri: p.text(),
    scopes: p.json<string[]>(),
    codeChallenge: p.string().nullable(),
    /** The authorization request's nonce, for the ID token this code is exchanged for (OIDC Core section 3.1.3.6). */
    nonce: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
    usedAt: p.datetime().nullable(),
  },
});
export type AuthorizationCode = InferEntity<typeof AuthorizationCode>;

export const RefreshToken = defineEntity({
  name: 'RefreshToken',
  tableName: 'oauth_refresh_tokens',
  properties: {
    /** SHA-256 of the token. */
    id: p.string().primary(),
    tenantId: p.string(),
    appId: p.string(),
    grantId: p.string(),
    scopes: p.json<string[]>(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
    /** Set when exchanged: a second use is a replay (RFC 9700 section 4.14.2). */
    usedAt: p.datetime().nullable(),
  },
});
export type RefreshToken = InferEntity<typeof RefreshToken>;

/** Access tokens issued under a grant, so that revoking the grant revokes them too. */
export const GrantAccessToken = defineEntity({
  name: 'GrantAccessToken',
  tableName: 'oauth_grant_access_tokens',
  properties: {
    jti: p.string().primary(),
    tenantId: p.string(),
    grantId: p.string(),
    expiresAt: p.datetime(),
  },
});
export type GrantAccessToken = InferEntity<typeof GrantAccessToken>;

/** Failed logins per tenant and email, for temporary lockout. */
export const LoginThrottle = defineEntity({
  name: 'LoginThrottle',
  tableName: 'oauth_login_throttles',
  properties: {
    id: p.string().primary(), // tenant_id + ':' + lower(email)
    tenantId: p.string(),
    failures: p.integer(),
    lastFailureAt: p.datetime(),
    lockedUntil: p.datetime().nullable(),
  },
});
export type LoginThrottle = InferEntity<typeof LoginThrottle>;

/**
 * The step between a correct password and a session (README "MFA"): a code to confirm, or an authenticator to enrol
 * and then its recovery codes to be shown. One per pending authorization request, bound to it (and so to its browser
 * and CSRF token), gone with it; it expires sooner.
 */
export const MfaChallenge = defineEntity({
  name: 'MfaChallenge',
  tableName: 'oauth_mfa_challenges',
  properties: {
    requestId: p.string().primary(),
    tenantId: p.string(),
    userId: p.string(),
    /** `verify`: a code of the user's authenticator; `enrol`: a new one's; `enrolled`: its recovery codes were shown. */
    step: p.string().$type<'verify' | 'enrol' | 'enrolled'>(),
    /** The secret of the authenticator being enrolled, sealed for this request; null once enrolled. */
    secretSealed: p.text().nullable(),
    createdAt: p.datetime(),
    expiresAt: p.datetime(),
  },
});
export type MfaChallenge = InferEntity<typeof MfaChallenge>;
