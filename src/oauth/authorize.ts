// The authorization endpoint's flow (RFC 6749 section 4.1.1, RFC 7636): the client and redirect URI are checked
// first, then the request; the user signs in (with a per-account lockout) and consents, once per scope set, and
// the code goes back to the redirect URI with `state` and `iss` (RFC 9207). This decides; the endpoints
// (authorize-endpoints.ts) render.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { forTenant } from '../db/tenant.js';
import { AccessDenied, authorizationErrorParams, Forbidden, InvalidRequest, InvalidScope, UnauthorizedClient, UnsupportedResponseType } from '../errors.js';
import { newId, sha256 } from '../ids.js';
import type { ClientDirectory } from '../platform/clients.js';
import type { App } from '../platform/service.js';
import type { TenancyService, User } from '../tenancy/service.js';
import { AuthorizationCode, AuthorizationRequest, Consent, Grant, LoginSession, LoginThrottle } from './entities.js';
import { param, parseScope, type Params } from './params.js';
import { checkChallenge } from './pkce.js';
import { equalSecrets } from './secrets.js';

/** RFC 6749 section 4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED"; we keep 60 s. */
const CODE_TTL_SECONDS = 60;
const REQUEST_TTL_SECONDS = 600;

export type AuthorizeStep =
  | { kind: 'login'; request: AuthorizationRequest; app: App; error?: string; status?: number; retryAfter?: number }
  | { kind: 'consent'; request: AuthorizationRequest; app: App; user: User }
  | { kind: 'redirect'; location: string };

/** A client and redirect URI that can be trusted with the answer, errors included (RFC 9700 section 4.11). */
export interface VerifiedClient {
  app: App;
  redirectUri: string;
}

const scopeSetOf = (scopes: string[]) => [...scopes].sort().join(' ');

/** `http://127.0.0.1:<port>` and `http://[::1]:<port>`: a native app's loopback listener, on a port chosen at run time. */
const LOOPBACK_IP_URI = /^http:\/\/(127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?(\/.*)?$/;

/**
 * Whether `requested` is the `registered` redirect URI: exactly the same string (RFC 9700 sections 2.1 and 4.1.3:
 * no normalisation, no prefix or pattern matching), but for a loopback IP redirect URI, whose port may be any
 * (RFC 8252 section 7.3); the host `localhost` is not one of them (RFC 8252 section 8.3).
 */
export function redirectUriMatches(registered: string, requested: string): boolean {
  if (registered === requested) return true;
  const want = LOOPBACK_IP_URI.exec(registered);
  const got = LOOPBACK_IP_URI.exec(requested);
  return Boolean(want && got && want[1] === got[1] && (want[2] ?? '') === (got[2] ?? ''));
}

/** A suspended app signs nobody in: the user is told so on a page, and not sent back to it. */
function assertNotSuspended(app: App): void {
  if (app.status === 'suspended') throw new InvalidRequest(`${app.name} is suspended by an administrator of its organisation and cannot sign you in now.`);
}

export class AuthorizationFlow {
  constructor(
    private readonly orm: MikroORM,
    private readonly clients: ClientDirectory,
    private readonly tenancy: TenancyService,
    private readonly config: Config,
    private readonly clock: Clock,
  ) {}

  private now(): Date {
    return new Date(this.clock.now());
  }

  /** Whether the redirect URI can be trusted at all; a failure here is shown to the user, never redirected. */
  async verifyClient(query: Params): Promise<VerifiedClient> {
    const { client_id: clientId, redirect_uri: redirectUri } = query;
    if (Array.isArray(clientId) || Array.isArray(redirectUri)) throw new InvalidRequest('The request repeats client_id or redirect_uri.');
    if (!clientId) throw new InvalidRequest('The request has no client_id.');
    const record = await this.clients.find(clientId);
    if (!record) throw new InvalidRequest('The application that sent you here is not registered.');
    assertNotSuspended(record.app);
    if (!redirectUri) throw new InvalidRequest('The request has no redirect_uri.');
    if (!record.app.redirectUris.some((registered) => redirectUriMatches(registered, redirectUri))) {
      throw new InvalidRequest('The redirect_uri is not registered for this application.');
    }
    return { app: record.app, redirectUri };
  }

  /** The request itself, once the client is verified: its errors go back to the redirect URI. */
  async start(query: Params, { app, redirectUri }: VerifiedClient, browserId: string, sessionId: string | undefined): Promise<AuthorizeStep> {
    const responseType = param(query, 'response_type');
    if (!responseType) throw new InvalidRequest('response_type is required');
    if (responseType !== 'code') throw new UnsupportedResponseType('only response_type=code is supported');
    if (!app.grantTypes.includes('authorization_code')) throw new UnauthorizedClient('this client is not registered for the authorization_code grant');
    const allowed = await this.clients.allowedScopes(app);
    const scopes = parseScope(param(query, 'scope')) ?? allowed;
    const unapproved = scopes.filter((s) => !allowed.includes(s));
    if (unapproved.length) throw new InvalidScope(`scope not approved for this client: ${unapproved.join(' ')}`);
    if (scopes.length === 0) throw new InvalidScope('scope must name at least one scope');
    const codeChallenge = checkChallenge(app, param(query, 'code_challenge'), param(query, 'code_challenge_method'));
    const state = param(query, 'state') ?? null;

    const em = forTenant(this.orm.em, app.tenantId);
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
      createdAt: this.now(),
      expiresAt: new Date(this.clock.now() + REQUEST_TTL_SECONDS * 1000),
    });
    await em.flush();
    return this.continue(em, request, app, sessionId);
  }

  /** After a request exists: sign in if needed, ask consent if not remembered, else issue the code. */
  private async continue(em: EntityManager, request: AuthorizationRequest, app: App, sessionId: string | undefined): Promise<AuthorizeStep> {
    const user = await this.sessionUser(em, sessionId);
    if (!user) return { kind: 'login', request, app };
    const remembered = await em.findOne(Consent, { userId: user.id, appId: app.id, scopeSet: scopeSetOf(request.scopes) });
    if (!remembered) return { kind: 'consent', request, app, user };
    return { kind: 'redirect', location: await this.issueCode(em, request, user) };
  }

  private async sessionUser(em: EntityManager, sessionId: string | undefined): Promise<User | null> {
    if (!sessionId) return null;
    const session = await em.findOne(LoginSession, { id: sha256(sessionId), expiresAt: { $gt: this.now() } });
    return session ? this.tenancy.user(em, session.userId) : null;
  }

  /** A pending request, only for the browser that started it and with the form's CSRF token (RFC 6749 section 10.12). */
  private async pending(requestId: string, browserId: string | undefined, csrfToken?: string): Promise<{ em: EntityManager; request: AuthorizationRequest; app: App }> {
    const expired = new InvalidRequest('This sign-in request has expired or is not valid. Go back to the application and start again.');
    if (!requestId || !browserId) throw expired;
    const found = await this.orm.em.fork().findOne(AuthorizationRequest, { id: requestId }, { filters: false });
    if (!found || found.expiresAt.getTime() <= this.clock.now()) throw expired;
    if (!equalSecrets(found.browserBinding, sha256(browserId))) throw expired;
    if (csrfToken !== undefined && !equalSecrets(found.csrfToken, csrfToken)) {
      throw new Forbidden('The form could not be verified. Go back to the application and start again.');
    }
    const em = forTenant(this.orm.em, found.tenantId);
    const request = await em.findOneOrFail(AuthorizationRequest, { id: requestId });
    const record = await this.clients.find(request.appId);
    if (!record) throw expired;
    assertNotSuspended(record.app);
    return { em, request, app: record.app };
  }

  async resume(requestId: string, browserId: string | undefined, sessionId: string | undefined): Promise<AuthorizeStep> {
    const { em, request, app } = await this.pending(requestId, browserId);
    return this.continue(em, request, app, sessionId);
  }

  /** Password sign-in with a per-account lockout after repeated failures; a success returns the new session id. */
  async login(requestId: string, browserId: string | undefined, csrfToken: string, email: string, password: string): Promise<{ step: AuthorizeStep; sessionId?: string }> {
    const { em, request, app } = await this.pending(requestId, browserId, csrfToken);
    const throttleId = `${request.tenantId}:${email.trim().toLowerCase()}`;
    const throttle = await em.findOne(LoginThrottle, { id: throttleId });
    const now = this.now();
    if (throttle?.lockedUntil && throttle.lockedUntil > now) {
      const retryAfter = Math.ceil((throttle.lockedUntil.getTime() - now.getTime()) / 1000);
      return { step: { kind: 'login', request, app, status: 429, retryAfter, error: `Too many failed attempts. Try again in ${Math.ceil(retryAfter / 60)} minute(s).` } };
    }
    const user = await this.tenancy.checkCredentials(em, email, password);
    if (!user) {
      await this.recordFailure(em, throttleId, request.tenantId, throttle);
      return { step: { kind: 'login', request, app, status: 401, error: 'The email or password is not correct.' } };
    }
    if (throttle) em.remove(throttle);
    return this.signIn(em, request, app, user, ['pwd']);
  }

  /**
   * The user is who they said, by `amr` (RFC 8176: `pwd`, and `otp` or `fed`...): a login session starts, and the
   * pending request goes on (consent, or the code). Every way of signing in ends here: the password form, a second
   * factor, an identity provider's answer.
   */
  async signIn(em: EntityManager, request: AuthorizationRequest, app: App, user: User, amr: string[]): Promise<{ step: AuthorizeStep; sessionId: string }> {
    const now = this.now();
    const sessionId = randomBytes(32).toString('base64url');
    em.create(LoginSession, {
      id: sha256(sessionId),
      tenantId: request.tenantId,
      userId: user.id,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.config.oauth.sessionTtl * 1000),
      amr,
    });
    await em.flush();
    return { step: await this.continue(em, request, app, sessionId), sessionId };
  }

  private async recordFailure(em: EntityManager, id: string, tenantId: string, throttle: LoginThrottle | null): Promise<void> {
    const now = this.now();
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
    const { em, request, app } = await this.pending(requestId, browserId, csrfToken);
    const user = await this.sessionUser(em, sessionId);
    if (!user) return { kind: 'login', request, app };
    if (!approve) {
      em.remove(request);
      await em.flush();
      return { kind: 'redirect', location: this.errorLocation(request.redirectUri, request.state, new AccessDenied('the user denied the request')) };
    }
    const scopeSet = scopeSetOf(request.scopes);
    if (!(await em.findOne(Consent, { userId: user.id, appId: app.id, scopeSet }))) {
      em.create(Consent, { id: newId('cns'), tenantId: app.tenantId, userId: user.id, appId: app.id, scopeSet, createdAt: this.now() });
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
      createdAt: this.now(),
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
      createdAt: this.now(),
      expiresAt: new Date(this.clock.now() + CODE_TTL_SECONDS * 1000),
      usedAt: null,
    });
    em.remove(request); // one request, one code
    await em.flush();
    return this.location(request.redirectUri, { code, state: request.state });
  }

  /** RFC 9207: every authorization response names the issuer, so a mix-up is detectable by the client. */
  private location(redirectUri: string, params: Record<string, string | null | undefined>): string {
    const url = new URL(redirectUri);
    for (const [key, value] of Object.entries(params)) if (value !== null && value !== undefined) url.searchParams.append(key, value);
    url.searchParams.append('iss', this.config.issuer);
    return url.toString();
  }

  /** Where an error of a request goes once its client is verified (RFC 6749 section 4.1.2.1). */
  errorLocation(redirectUri: string, state: string | null | undefined, error: unknown): string {
    return this.location(redirectUri, { ...authorizationErrorParams(error), state });
  }
}
