// The OAuth 2 authorization server's policy: authorization code + PKCE (RFC 6749 section 4.1, RFC 7636),
// client credentials (section 4.4), refresh with rotation and reuse detection (RFC 9700 section 4.14),
// revocation (RFC 7009) and introspection (RFC 7662). Routes render; this decides.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { LockMode } from '@mikro-orm/core';
import { hash, verify } from '@node-rs/argon2';
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import type { Config } from '../config.js';
import { TENANT_FILTER } from '../db/orm.js';
import {
  InvalidClient,
  InvalidGrant,
  InvalidRequest,
  InvalidScope,
  UnauthorizedClient,
  type TesseraError,
} from '../errors.js';
import { newId, sha256 } from '../ids.js';
import type { RevocationList } from '../keys/revocations.js';
import type { TokenService } from '../keys/tokens.js';
import type { App } from '../platform/entities.js';
import { secretMatches, type PlatformService } from '../platform/service.js';
import { User } from '../tenancy/entities.js';
import {
  AuthorizationCode,
  AuthorizationRequest,
  Consent,
  Grant,
  GrantAccessToken,
  LoginSession,
  LoginThrottle,
  RefreshToken,
} from './entities.js';

/** RFC 6749 section 4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED"; we keep 60 s. */
const CODE_TTL_SECONDS = 60;
const REQUEST_TTL_SECONDS = 600;
const REFRESH_PREFIX = 'trt_';
/** RFC 7636 section 4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~". */
const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

export interface ClientCredentialsInput {
  basic?: { clientId: string; secret: string };
  bodyClientId?: string;
  bodySecret?: string;
}

/** Errors of the authorize endpoint that are sent back to the client's redirect URI (section 4.1.2.1). */
export class RedirectableError extends Error {
  constructor(
    readonly code: string,
    readonly description: string,
  ) {
    super(description);
  }
}

/** Errors shown to the user instead, because the redirect URI cannot be trusted (section 4.1.2.1, RFC 9700 4.11). */
export class PageError extends Error {
  constructor(
    readonly status: number,
    readonly description: string,
  ) {
    super(description);
  }
}

export interface AuthorizeQuery {
  [key: string]: string | string[] | undefined;
}

export type AuthorizeStep =
  | { kind: 'login'; request: AuthorizationRequest; app: App; error?: string; status?: number; retryAfter?: number }
  | { kind: 'consent'; request: AuthorizationRequest; app: App; user: User }
  | { kind: 'redirect'; location: string };

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

function single(query: AuthorizeQuery, name: string): string | undefined {
  const value = query[name];
  // RFC 6749 section 3.1: parameters MUST NOT be included more than once.
  if (Array.isArray(value)) throw new RedirectableError('invalid_request', `${name} must not be repeated`);
  return value === '' ? undefined : value;
}

function parseScope(raw: string | undefined): string[] | null {
  if (raw === undefined) return null;
  return [...new Set(raw.split(' ').filter(Boolean))];
}

/** A well-formed argon2id hash of nothing in particular: unknown emails cost the same time as known ones. */
let dummyHash: Promise<string> | undefined;

export class OAuthService {
  constructor(
    private readonly orm: MikroORM,
    private readonly platform: PlatformService,
    private readonly tokens: TokenService,
    private readonly revocations: RevocationList,
    private readonly config: Config,
  ) {}

  /** A fork whose tenant filter is bound to the app's tenant: nothing of another tenant is even found. */
  private forkFor(tenantId: string): EntityManager {
    const em = this.orm.em.fork();
    em.setFilterParams(TENANT_FILTER, { tenantId });
    return em;
  }

  // ---------------------------------------------------------------- client authentication (RFC 6749 2.3)

  async authenticateClient(input: ClientCredentialsInput): Promise<App> {
    if (input.basic && (input.bodySecret !== undefined || (input.bodyClientId && input.bodyClientId !== input.basic.clientId))) {
      throw new InvalidRequest('use one client authentication method: HTTP Basic or client_secret in the body, not both');
    }
    const clientId = input.basic?.clientId ?? input.bodyClientId;
    const secret = input.basic?.secret ?? input.bodySecret;
    if (!clientId) throw new InvalidClient('client authentication is required');
    const record = this.platform.cachedClient(clientId) ?? (await this.platform.findClient(clientId));
    if (!record) throw new InvalidClient('client authentication failed');
    if (record.app.tokenEndpointAuthMethod === 'none') {
      // A public client identifies itself but has nothing to authenticate with (RFC 6749 section 2.1).
      if (secret !== undefined) throw new InvalidClient('client authentication failed');
      return record.app;
    }
    // The record just found is the one checked: one cache lookup (or one query) per authentication.
    if (secret === undefined || !secretMatches(record, secret)) throw new InvalidClient('client authentication failed');
    return record.app;
  }

  // ---------------------------------------------------------------- authorize (RFC 6749 4.1.1)

  /** Checks that decide whether the redirect URI can be trusted at all; failures are shown, never redirected. */
  async resolveClient(query: AuthorizeQuery): Promise<{ app: App; redirectUri: string }> {
    const clientId = query.client_id;
    const redirectUri = query.redirect_uri;
    if (Array.isArray(clientId) || Array.isArray(redirectUri)) throw new PageError(400, 'The request repeats client_id or redirect_uri.');
    if (!clientId) throw new PageError(400, 'The request has no client_id.');
    const record = await this.platform.findClient(clientId);
    if (!record) throw new PageError(400, 'The application that sent you here is not registered.');
    if (!redirectUri) throw new PageError(400, 'The request has no redirect_uri.');
    // Exact string comparison (RFC 9700 section 2.1, 4.1.3): no normalisation, no prefix or pattern matching.
    if (!record.app.redirectUris.includes(redirectUri)) {
      throw new PageError(400, 'The redirect_uri is not registered for this application.');
    }
    return { app: record.app, redirectUri };
  }

  async startAuthorization(query: AuthorizeQuery, app: App, redirectUri: string, browserId: string, sessionId: string | undefined): Promise<AuthorizeStep> {
    const responseType = single(query, 'response_type');
    if (!responseType) throw new RedirectableError('invalid_request', 'response_type is required');
    if (responseType !== 'code') throw new RedirectableError('unsupported_response_type', 'only response_type=code is supported');
    if (!app.grantTypes.includes('authorization_code')) {
      throw new RedirectableError('unauthorized_client', 'this client is not registered for the authorization_code grant');
    }
    const requested = parseScope(single(query, 'scope'));
    const scopes = requested ?? app.approvedScopes;
    const unapproved = scopes.filter((s) => !app.approvedScopes.includes(s));
    if (unapproved.length) throw new RedirectableError('invalid_scope', `scope not approved for this client: ${unapproved.join(' ')}`);
    if (scopes.length === 0) throw new RedirectableError('invalid_scope', 'scope must name at least one scope');
    const codeChallenge = this.checkPkce(app, single(query, 'code_challenge'), single(query, 'code_challenge_method'));
    const state = single(query, 'state') ?? null;

    const em = this.forkFor(app.tenantId);
    const request = em.create(AuthorizationRequest, {
      id: newId('ar'),
      tenantId: app.tenantId,
      appId: app.id,
      redirectUri,
      scopes,
      state,
      codeChallenge,
      csrfToken: randomBytes(24).toString('base64url'),
      browserBinding: sha256(browserId),
      expiresAt: new Date(Date.now() + REQUEST_TTL_SECONDS * 1000),
    });
    await em.flush();
    return this.continueAuthorization(em, request, app, sessionId);
  }

  /** PKCE (RFC 7636; RFC 9700 section 2.1.1): S256 only; required for public clients and by governance. */
  private checkPkce(app: App, challenge: string | undefined, method: string | undefined): string | null {
    if (challenge === undefined) {
      if (method !== undefined) throw new RedirectableError('invalid_request', 'code_challenge_method given without code_challenge');
      if (app.tokenEndpointAuthMethod === 'none') throw new RedirectableError('invalid_request', 'PKCE is required: send code_challenge with code_challenge_method=S256');
      if (app.enforcePkce) throw new RedirectableError('invalid_request', 'PKCE is required for this client: send code_challenge with code_challenge_method=S256');
      return null;
    }
    // A missing method means "plain" (RFC 7636 section 4.3), which is refused like an explicit plain.
    if (method !== 'S256') throw new RedirectableError('invalid_request', 'code_challenge_method must be S256');
    if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) throw new RedirectableError('invalid_request', 'code_challenge must be a base64url SHA-256 (43 characters)');
    return challenge;
  }

  /** After a request exists: log in if needed, ask consent if not remembered, else issue the code. */
  private async continueAuthorization(em: EntityManager, request: AuthorizationRequest, app: App, sessionId: string | undefined): Promise<AuthorizeStep> {
    const user = await this.sessionUser(em, sessionId);
    if (!user) return { kind: 'login', request, app };
    const remembered = await em.findOne(Consent, { userId: user.id, appId: app.id, scopeSet: [...request.scopes].sort().join(' ') });
    if (!remembered) return { kind: 'consent', request, app, user };
    return { kind: 'redirect', location: await this.issueCode(em, request, user) };
  }

  private async sessionUser(em: EntityManager, sessionId: string | undefined): Promise<User | null> {
    if (!sessionId) return null;
    const session = await em.findOne(LoginSession, { id: sha256(sessionId), expiresAt: { $gt: new Date() } });
    if (!session) return null;
    return em.findOne(User, { id: session.userId });
  }

  /** A pending request, only for the browser that started it and with the form's CSRF token (RFC 6749 10.12). */
  async pendingRequest(requestId: string, browserId: string | undefined, csrfToken?: string): Promise<{ em: EntityManager; request: AuthorizationRequest; app: App }> {
    const expired = new PageError(400, 'This sign-in request has expired or is not valid. Go back to the application and start again.');
    if (!requestId || !browserId) throw expired;
    const found = await this.orm.em.fork().findOne(AuthorizationRequest, { id: requestId }, { filters: false });
    if (!found || found.expiresAt <= new Date()) throw expired;
    if (!equalSecrets(found.browserBinding, sha256(browserId))) throw expired;
    if (csrfToken !== undefined && !equalSecrets(found.csrfToken, csrfToken)) {
      throw new PageError(403, 'The form could not be verified. Go back to the application and start again.');
    }
    const em = this.forkFor(found.tenantId);
    const request = await em.findOneOrFail(AuthorizationRequest, { id: requestId });
    const record = await this.platform.findClient(request.appId);
    if (!record) throw expired;
    return { em, request, app: record.app };
  }

  async resumeAuthorization(requestId: string, browserId: string | undefined, sessionId: string | undefined): Promise<AuthorizeStep> {
    const { em, request, app } = await this.pendingRequest(requestId, browserId);
    return this.continueAuthorization(em, request, app, sessionId);
  }

  /** Password login with per-account lockout after repeated failures. Returns the new session id on success. */
  async login(
    requestId: string,
    browserId: string | undefined,
    csrfToken: string,
    email: string,
    password: string,
  ): Promise<{ step: AuthorizeStep; sessionId?: string }> {
    const { em, request, app } = await this.pendingRequest(requestId, browserId, csrfToken);
    const throttleId = `${request.tenantId}:${email.trim().toLowerCase()}`;
    const throttle = await em.findOne(LoginThrottle, { id: throttleId });
    const now = new Date();
    if (throttle?.lockedUntil && throttle.lockedUntil > now) {
      const retryAfter = Math.ceil((throttle.lockedUntil.getTime() - now.getTime()) / 1000);
      return { step: { kind: 'login', request, app, status: 429, retryAfter, error: `Too many failed attempts. Try again in ${Math.ceil(retryAfter / 60)} minute(s).` } };
    }
    const user = await em.findOne(User, { email: email.trim().toLowerCase() });
    const valid = user ? await verify(user.passwordHash, password) : (await verify(await (dummyHash ??= hash(randomBytes(16).toString('hex'))), password), false);
    if (!user || !valid) {
      await this.recordFailure(em, throttleId, request.tenantId, throttle);
      return { step: { kind: 'login', request, app, status: 401, error: 'The email or password is not correct.' } };
    }
    if (throttle) em.remove(throttle);
    const sessionId = randomBytes(32).toString('base64url');
    em.create(LoginSession, {
      id: sha256(sessionId),
      tenantId: request.tenantId,
      userId: user.id,
      expiresAt: new Date(now.getTime() + this.config.oauth.sessionTtl * 1000),
    });
    await em.flush();
    return { step: await this.continueAuthorization(em, request, app, sessionId), sessionId };
  }

  private async recordFailure(em: EntityManager, id: string, tenantId: string, throttle: LoginThrottle | null): Promise<void> {
    const now = new Date();
    const windowMs = this.config.oauth.loginLockout * 1000;
    const row = throttle ?? em.create(LoginThrottle, { id, tenantId, failures: 0, lastFailureAt: now, lockedUntil: null });
    // Failures long ago, or before a lockout that has ended, start a new count.
    if (now.getTime() - row.lastFailureAt.getTime() > windowMs || (row.lockedUntil && row.lockedUntil <= now)) {
      row.failures = 0;
      row.lockedUntil = null;
    }
    row.failures += 1;
    row.lastFailureAt = now;
    if (row.failures >= this.config.oauth.loginMaxFailures) row.lockedUntil = new Date(now.getTime() + windowMs);
    await em.flush();
  }

  async decideConsent(requestId: string, browserId: string | undefined, csrfToken: string, sessionId: string | undefined, approve: boolean): Promise<AuthorizeStep> {
    const { em, request, app } = await this.pendingRequest(requestId, browserId, csrfToken);
    const user = await this.sessionUser(em, sessionId);
    if (!user) return { kind: 'login', request, app };
    if (!approve) {
      em.remove(request);
      await em.flush();
      return { kind: 'redirect', location: this.errorRedirect(request.redirectUri, request.state, 'access_denied', 'the user denied the request') };
    }
    const scopeSet = [...request.scopes].sort().join(' ');
    if (!(await em.findOne(Consent, { userId: user.id, appId: app.id, scopeSet }))) {
      em.create(Consent, { id: newId('cns'), tenantId: app.tenantId, userId: user.id, appId: app.id, scopeSet });
    }
    return { kind: 'redirect', location: await this.issueCode(em, request, user) };
  }

  private async issueCode(em: EntityManager, request: AuthorizationRequest, user: User): Promise<string> {
    const code = randomBytes(32).toString('base64url');
    const grant = em.create(Grant, {
      id: newId('grt'),
      tenantId: request.tenantId,
      appId: request.appId,
      userId: user.id,
      scopes: request.scopes,
      revokedAt: null,
      revokedReason: null,
    });
    em.create(AuthorizationCode, {
      id: sha256(code),
      tenantId: request.tenantId,
      appId: request.appId,
      userId: user.id,
      grantId: grant.id,
      redirectUri: request.redirectUri,
      scopes: request.scopes,
      codeChallenge: request.codeChallenge,
      expiresAt: new Date(Date.now() + CODE_TTL_SECONDS * 1000),
      usedAt: null,
    });
    em.remove(request); // one request, one code
    await em.flush();
    return this.redirectWith(request.redirectUri, { code, state: request.state });
  }

  /** RFC 9207: every authorization response names the issuer, so a mix-up is detectable by the client. */
  redirectWith(redirectUri: string, params: Record<string, string | null | undefined>): string {
    const url = new URL(redirectUri);
    for (const [key, value] of Object.entries(params)) if (value !== null && value !== undefined) url.searchParams.append(key, value);
    url.searchParams.append('iss', this.config.issuer);
    return url.toString();
  }

  errorRedirect(redirectUri: string, state: string | null | undefined, error: string, description: string): string {
    return this.redirectWith(redirectUri, { error, error_description: description, state });
  }

  // ---------------------------------------------------------------- token endpoint (RFC 6749 section 3.2)

  async clientCredentials(app: App, scope: string | undefined): Promise<TokenResponse> {
    if (!app.grantTypes.includes('client_credentials') || app.tokenEndpointAuthMethod === 'none') {
      throw new UnauthorizedClient('this client is not registered for the client_credentials grant');
    }
    const scopes = this.grantedScopes(parseScope(scope), app.approvedScopes);
    const issued = await this.tokens.issue({ subject: app.id, clientId: app.id, scopes, tenantId: app.tenantId, ttlSeconds: app.accessTokenTtl });
    return { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: scopes.join(' ') };
  }

  private grantedScopes(requested: string[] | null, allowed: string[], limit: 'client' | 'grant' = 'client'): string[] {
    if (requested === null) return allowed;
    if (requested.length === 0) throw new InvalidScope('scope must name at least one scope');
    const outside = requested.filter((s) => !allowed.includes(s));
    if (outside.length) throw new InvalidScope(`scope not allowed for this ${limit}: ${outside.join(' ')}`);
    return requested;
  }

  async exchangeCode(app: App, code: string | undefined, redirectUri: string | undefined, verifier: string | undefined): Promise<TokenResponse> {
    if (!app.grantTypes.includes('authorization_code')) throw new UnauthorizedClient('this client is not registered for the authorization_code grant');
    if (!code) throw new InvalidRequest('code is required');
    if (!redirectUri) throw new InvalidRequest('redirect_uri is required');
    if (verifier !== undefined && !PKCE_VALUE.test(verifier)) throw new InvalidRequest('code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~');
    const em = this.forkFor(app.tenantId);
    let failure: TesseraError | undefined;
    const response = await em.transactional(async (tx) => {
      const row = await tx.findOne(AuthorizationCode, { id: sha256(code) }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!row) throw new InvalidGrant('authorization code is not valid');
      // RFC 6749 section 4.1.3: the code must have been issued to the authenticated client.
      if (row.appId !== app.id) throw new InvalidGrant('authorization code was issued to another client');
      if (row.usedAt) {
        // A replayed code: revoke everything it issued (RFC 6749 section 4.1.2, RFC 9700 section 4.5), then refuse.
        await this.revokeGrant(tx, row.grantId, 'authorization code replayed');
        failure = new InvalidGrant('authorization code has already been used');
        return null;
      }
      if (row.expiresAt <= new Date()) throw new InvalidGrant('authorization code has expired');
      if (row.redirectUri !== redirectUri) throw new InvalidGrant('redirect_uri does not match the authorization request');
      if (row.codeChallenge) {
        if (!verifier) throw new InvalidGrant('code_verifier is required: the authorization request had a code_challenge');
        if (!equalSecrets(s256(verifier), row.codeChallenge)) throw new InvalidGrant('code_verifier does not match the code_challenge');
      } else if (verifier !== undefined) {
        // PKCE downgrade (RFC 9700 section 4.8.2): a verifier for a request that had no challenge.
        throw new InvalidGrant('code_verifier was sent but the authorization request had no code_challenge');
      }
      row.usedAt = new Date();
      return this.issueForGrant(tx, app, row.grantId, row.userId, row.scopes);
    });
    if (failure) throw failure;
    return response!;
  }

  async refresh(app: App, token: string | undefined, scope: string | undefined): Promise<TokenResponse> {
    if (!app.grantTypes.includes('refresh_token')) throw new UnauthorizedClient('this client is not registered for the refresh_token grant');
    if (!token) throw new InvalidRequest('refresh_token is required');
    const em = this.forkFor(app.tenantId);
    let failure: TesseraError | undefined;
    const response = await em.transactional(async (tx) => {
      const row = await tx.findOne(RefreshToken, { id: sha256(token) }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!row || row.appId !== app.id) throw new InvalidGrant('refresh token is not valid');
      const grant = await tx.findOneOrFail(Grant, { id: row.grantId });
      if (grant.revokedAt) throw new InvalidGrant('refresh token has been revoked');
      if (row.usedAt) {
        // Reuse of a rotated refresh token: someone holds a stolen copy. Revoke the whole family.
        await this.revokeGrant(tx, grant.id, 'refresh token reused');
        failure = new InvalidGrant('refresh token has already been used; the grant has been revoked');
        return null;
      }
      if (row.expiresAt <= new Date()) throw new InvalidGrant('refresh token has expired');
      // RFC 6749 section 6: a narrower scope applies to this access token only; an omitted scope means
      // the scope originally granted, which the new refresh token keeps.
      const scopes = this.grantedScopes(parseScope(scope), grant.scopes, 'grant');
      row.usedAt = new Date();
      return this.issueForGrant(tx, app, grant.id, grant.userId, scopes, grant.scopes);
    });
    if (failure) throw failure;
    return response!;
  }

  private async issueForGrant(em: EntityManager, app: App, grantId: string, userId: string, scopes: string[], refreshScopes = scopes): Promise<TokenResponse> {
    const issued = await this.tokens.issue({ subject: userId, clientId: app.id, scopes, tenantId: app.tenantId, ttlSeconds: app.accessTokenTtl });
    em.create(GrantAccessToken, { jti: issued.jti, tenantId: app.tenantId, grantId, expiresAt: issued.expiresAt });
    const response: TokenResponse = { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: scopes.join(' ') };
    if (app.grantTypes.includes('refresh_token')) {
      const refreshToken = `${REFRESH_PREFIX}${randomBytes(32).toString('base64url')}`;
      em.create(RefreshToken, {
        id: sha256(refreshToken),
        tenantId: app.tenantId,
        appId: app.id,
        grantId,
        scopes: refreshScopes,
        expiresAt: new Date(Date.now() + this.config.oauth.refreshTtl * 1000),
        usedAt: null,
      });
      response.refresh_token = refreshToken;
    }
    return response;
  }

  /** Ends a grant: its refresh tokens stop at once (checked on use), its live access tokens are revoked. */
  private async revokeGrant(em: EntityManager, grantId: string, reason: string): Promise<void> {
    const grant = await em.findOne(Grant, { id: grantId });
    if (!grant || grant.revokedAt) return;
    grant.revokedAt = new Date();
    grant.revokedReason = reason;
    const live = await em.find(GrantAccessToken, { grantId, expiresAt: { $gt: new Date() } });
    for (const token of live) await this.revocations.revoke(em, token.jti, token.expiresAt);
  }

  // ---------------------------------------------------------------- revocation and introspection

  /** RFC 7009: always succeeds for the caller; only the client's own tokens are affected. */
  async revoke(app: App, token: string): Promise<void> {
    if (token.startsWith(REFRESH_PREFIX)) {
      const em = this.forkFor(app.tenantId);
      await em.transactional(async (tx) => {
        const row = await tx.findOne(RefreshToken, { id: sha256(token) });
        // Section 2.1: revoking a refresh token also invalidates the access tokens of the same grant.
        if (row && row.appId === app.id) await this.revokeGrant(tx, row.grantId, 'revoked by client');
      });
      return;
    }
    const principal = await this.tokens.verify(token).catch(() => null);
    if (!principal || principal.clientId !== app.id) return;
    await this.orm.em.fork().transactional((tx) => this.revocations.revoke(tx, principal.jti, new Date(principal.expiresAt * 1000)));
  }

  /** RFC 7662: `active: false` for anything that is not a live token of this client. */
  async introspect(app: App, token: string): Promise<Record<string, unknown>> {
    if (token.startsWith(REFRESH_PREFIX)) {
      const em = this.forkFor(app.tenantId);
      const row = await em.findOne(RefreshToken, { id: sha256(token) });
      if (!row || row.appId !== app.id || row.usedAt || row.expiresAt <= new Date()) return { active: false };
      const grant = await em.findOneOrFail(Grant, { id: row.grantId });
      if (grant.revokedAt) return { active: false };
      return {
        active: true,
        token_type: 'refresh_token',
        scope: row.scopes.join(' '),
        client_id: app.id,
        sub: grant.userId,
        tenant_id: app.tenantId,
        iat: Math.floor(row.createdAt.getTime() / 1000),
        exp: Math.floor(row.expiresAt.getTime() / 1000),
        iss: this.config.issuer,
      };
    }
    const principal = await this.tokens.verify(token).catch(() => null);
    if (!principal || principal.clientId !== app.id) return { active: false };
    return {
      active: true,
      token_type: 'Bearer',
      scope: [...principal.scopes].join(' '),
      client_id: principal.clientId,
      sub: principal.subject,
      ...(principal.tenantId ? { tenant_id: principal.tenantId } : {}),
      iat: principal.issuedAt,
      exp: principal.expiresAt,
      iss: this.config.issuer,
      aud: this.config.audience,
      jti: principal.jti,
    };
  }
}

function equalSecrets(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
