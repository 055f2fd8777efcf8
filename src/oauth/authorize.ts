// The authorization endpoint's flow (RFC 6749 section 4.1.1, RFC 7636): the client and redirect URI are checked
// first, then the request; the user signs in (with a per-account lockout) and consents, once per scope set, and
// the code goes back to the redirect URI with `state` and `iss` (RFC 9207). OpenID Connect's `prompt` and `max_age`
// (OIDC Core section 3.1.2.1) decide when a sign-in or a consent must be made again, or, with prompt=none, cannot be
// asked for. This decides; the endpoints (authorize-endpoints.ts) render.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { forTenant } from '../db/tenant.js';
import {
  AccessDenied,
  authorizationErrorParams,
  ConsentRequired,
  Forbidden,
  InvalidRequest,
  InvalidScope,
  LoginRequired,
  UnauthorizedClient,
  UnsupportedResponseType,
} from '../errors.js';
import { newId, sha256 } from '../ids.js';
import type { ClientDirectory } from '../platform/clients.js';
import type { App } from '../platform/service.js';
import type { TenancyService, User } from '../tenancy/service.js';
import { AuthorizationCode, AuthorizationRequest, Consent, Grant, LoginSession } from './entities.js';
import { LoginLockout, lockedMessage } from './lockout.js';
import { oidcParams } from './oidc-params.js';
import { param, parseScope, type Params } from './params.js';
import { checkChallenge } from './pkce.js';
import { SecondFactor, type SecondFactorPage } from './second-factor.js';
import { equalSecrets } from './secrets.js';

/** RFC 6749 section 4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED"; we keep 60 s. */
const CODE_TTL_SECONDS = 60;
const REQUEST_TTL_SECONDS = 600;

export type AuthorizeStep =
  | { kind: 'login'; request: AuthorizationRequest; app: App; error?: string; status?: number; retryAfter?: number }
  | { kind: 'consent'; request: AuthorizationRequest; app: App; user: User }
  /** Between the password and a session: a code, or an authenticator to enrol (second-factor.ts). */
  | { kind: 'mfa'; request: AuthorizationRequest; app: App; page: SecondFactorPage; error?: string; status?: number; retryAfter?: number }
  | { kind: 'redirect'; location: string };

/** The browser's live login session, and its user. */
interface SignedIn {
  session: LoginSession;
  user: User;
}

/** A client and redirect URI that can be trusted with the answer, errors included (RFC 9700 section 4.11). */
export interface VerifiedClient {
  app: App;
  redirectUri: string;
}

/** A way to sign in besides the password, as the login page offers it: an identity provider of the tenant. */
export interface SignInOption {
  id: string;
  name: string;
}

/** A sign-in an identity provider vouched for, handed back to these pages by a one-time ticket. */
export interface ExternalSignInResult {
  tenantId: string;
  /** The pending request it was started for; null when the provider started it (IdP-initiated SAML). */
  requestId: string | null;
  userId: string;
  amr: string[];
}

/**
 * Sign-in through a tenant's identity providers (README "Federation"). The federation module, built after this one,
 * plugs itself in (`useExternalSignIn`); without it the login page offers passwords alone.
 */
export interface ExternalSignIn {
  /** The tenant's enabled providers: the login page's buttons. */
  options(tenantId: string): Promise<SignInOption[]>;
  /** Home-realm discovery: the enabled provider that holds the email's domain, or null. */
  providerForEmail(tenantId: string, email: string): Promise<SignInOption | null>;
  /** Starts a round trip to the provider for the pending request: where to send the browser. */
  begin(pending: { tenantId: string; requestId: string }, providerId: string): Promise<string>;
  /** The sign-in a ticket stands for, once (the ticket is used up), or null. */
  redeem(ticket: string): Promise<ExternalSignInResult | null>;
}

/** Told when a tenant has turned local passwords off (`federation_required`). */
const LOCAL_PASSWORDS_OFF = 'Your organisation signs you in through its identity provider: passwords are off here. Use its button, or enter your work email.';

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
  /** Wrong passwords and wrong second-factor codes, counted together per account. */
  private readonly lockout: LoginLockout;
  private readonly secondFactor: SecondFactor;

  constructor(
    private readonly orm: MikroORM,
    private readonly clients: ClientDirectory,
    private readonly tenancy: TenancyService,
    private readonly config: Config,
    private readonly clock: Clock,
  ) {
    this.lockout = new LoginLockout(config, clock);
    this.secondFactor = new SecondFactor(tenancy, this.lockout, clock);
  }

  private external: ExternalSignIn | null = null;

  /** Called by the federation module when it is built. */
  useExternalSignIn(external: ExternalSignIn): void {
    this.external = external;
  }

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
    const { nonce, prompt, maxAge } = oidcParams(query);
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
      nonce,
      prompt,
      maxAge,
      csrfToken: randomBytes(24).toString('base64url'),
      browserBinding: sha256(browserId),
      createdAt: this.now(),
      expiresAt: new Date(this.clock.now() + REQUEST_TTL_SECONDS * 1000),
    });
    await em.flush();
    return this.continue(em, request, app, sessionId);
  }

  /**
   * After a request exists: sign in if needed, ask consent if not remembered (or if prompt=consent), else issue the
   * code. With prompt=none nothing is asked: what would have been is the error (OIDC Core section 3.1.2.6).
   */
  private async continue(em: EntityManager, request: AuthorizationRequest, app: App, sessionId: string | undefined): Promise<AuthorizeStep> {
    const signedIn = await this.loginSession(em, sessionId);
    if (!signedIn || this.mustSignInAgain(request, signedIn.session)) {
      if (request.prompt.includes('none')) return this.refuse(em, request, new LoginRequired(signedIn ? 'the user must sign in again (max_age)' : 'the user is not signed in'));
      return { kind: 'login', request, app };
    }
    // The console's own client is the platform itself: nothing to consent to (the user signs in to Tessera).
    const remembered = app.firstParty === 'console' || (await em.findOne(Consent, { userId: signedIn.user.id, appId: app.id, scopeSet: scopeSetOf(request.scopes) }));
    if (!remembered || (request.prompt.includes('consent') && app.firstParty !== 'console')) {
      if (request.prompt.includes('none')) return this.refuse(em, request, new ConsentRequired('the user has not allowed this application these scopes'));
      return { kind: 'consent', request, app, user: signedIn.user };
    }
    return { kind: 'redirect', location: await this.issueCode(em, request, signedIn) };
  }

  /**
   * OIDC Core section 3.1.2.1: prompt=login asks for a sign-in made for this request, and max_age for one at most that
   * many seconds old. A session begun after the request was made is such a sign-in, however long the consent takes.
   */
  private mustSignInAgain(request: AuthorizationRequest, session: LoginSession): boolean {
    if (session.createdAt.getTime() >= request.createdAt.getTime()) return false;
    if (request.prompt.includes('login')) return true;
    return typeof request.maxAge === 'number' && this.clock.now() - session.createdAt.getTime() > request.maxAge * 1000;
  }

  /** A request that cannot go on without asking the user (prompt=none): it ends, and its error goes to the client. */
  private async refuse(em: EntityManager, request: AuthorizationRequest, error: Error): Promise<AuthorizeStep> {
    em.remove(request);
    await em.flush();
    return { kind: 'redirect', location: this.errorLocation(request.redirectUri, request.state, error) };
  }

  private async loginSession(em: EntityManager, sessionId: string | undefined): Promise<SignedIn | null> {
    if (!sessionId) return null;
    const session = await em.findOne(LoginSession, { id: sha256(sessionId), expiresAt: { $gt: this.now() } });
    const user = session ? await this.tenancy.user(em, session.userId) : null;
    // A password-only session of a user who must now confirm a code (the policy changed since) signs nobody in.
    return session && user && (await this.secondFactor.satisfiedBy(em, session.amr, user)) ? { session, user } : null;
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
    // Federation required: no password is checked at all (nor counted toward the lockout).
    if (!(await this.passwordsAllowed(em, request.tenantId))) return { step: { kind: 'login', request, app, status: 403, error: LOCAL_PASSWORDS_OFF } };
    const { throttle, retryAfter } = await this.lockout.state(em, request.tenantId, email);
    if (retryAfter) return { step: { kind: 'login', request, app, status: 429, retryAfter, error: lockedMessage(retryAfter) } };
    const user = await this.tenancy.checkCredentials(em, email, password);
    if (!user) {
      await this.lockout.recordFailure(em, request.tenantId, email, throttle);
      return { step: { kind: 'login', request, app, status: 401, error: 'The email or password is not correct.' } };
    }
    // A second factor to come: the failure count stands until it is right, or the password would reset the count of
    // wrong codes, and the codes could be guessed without end.
    const secondFactor = await this.secondFactor.afterPassword(em, request, user);
    if (secondFactor) return { step: { kind: 'mfa', request, app, page: secondFactor } };
    this.lockout.clear(em, throttle);
    return this.signIn(em, request, app, user, ['pwd']);
  }

  /** The page of the second factor the request waits for (after the password), or where the request stands without one. */
  async secondFactorPage(requestId: string, browserId: string | undefined, sessionId: string | undefined): Promise<AuthorizeStep> {
    const { em, request, app } = await this.pending(requestId, browserId);
    const page = await this.secondFactor.page(em, request);
    return page ? { kind: 'mfa', request, app, page } : this.continue(em, request, app, sessionId);
  }

  /** The second-factor form: a code, a new authenticator's first code, or on once its recovery codes were shown. */
  async submitSecondFactor(requestId: string, browserId: string | undefined, csrfToken: string, code: string): Promise<{ step: AuthorizeStep; sessionId?: string }> {
    const { em, request, app } = await this.pending(requestId, browserId, csrfToken);
    // Local passwords turned off since the password was checked: the code completes no password sign-in.
    if (!(await this.passwordsAllowed(em, request.tenantId))) return { step: { kind: 'login', request, app, status: 403, error: LOCAL_PASSWORDS_OFF } };
    const outcome = await this.secondFactor.submit(em, request, code);
    if (outcome.kind === 'signed-in') return this.signIn(em, request, app, outcome.user, outcome.amr);
    if (outcome.kind === 'restart') return { step: { kind: 'login', request, app, status: 401, error: outcome.error } };
    const { page, status, error, retryAfter } = outcome;
    return { step: { kind: 'mfa', request, app, page, status, error, retryAfter } };
  }

  private async passwordsAllowed(em: EntityManager, tenantId: string): Promise<boolean> {
    return !(await this.tenancy.tenant(em, tenantId))?.federationRequired;
  }

  /** What the login page of a tenant offers: its identity providers, and whether local passwords are on. */
  async signInOptions(tenantId: string): Promise<{ providers: SignInOption[]; passwords: boolean }> {
    const providers = this.external ? await this.external.options(tenantId) : [];
    return { providers, passwords: await this.passwordsAllowed(forTenant(this.orm.em, tenantId), tenantId) };
  }

  /**
   * The login form without a password: a provider's button (`providerId`), or an email alone (home-realm discovery:
   * its domain's provider, else the password form, unless local passwords are off). Checked like the password form:
   * the browser that started the request, and its CSRF token.
   */
  async discover(requestId: string, browserId: string | undefined, csrfToken: string, email: string, providerId: string | undefined): Promise<AuthorizeStep> {
    const { em, request, app } = await this.pending(requestId, browserId, csrfToken);
    const pending = { tenantId: request.tenantId, requestId: request.id };
    if (providerId !== undefined) {
      if (!this.external) throw new InvalidRequest('Sign-in through an identity provider is not available.');
      return { kind: 'redirect', location: await this.external.begin(pending, providerId) };
    }
    if (!email.trim()) return { kind: 'login', request, app, status: 400, error: 'Enter your email address.' };
    const provider = this.external ? await this.external.providerForEmail(request.tenantId, email) : null;
    if (provider) return { kind: 'redirect', location: await this.external!.begin(pending, provider.id) };
    if (!(await this.passwordsAllowed(em, request.tenantId))) return { kind: 'login', request, app, status: 403, error: LOCAL_PASSWORDS_OFF };
    return { kind: 'login', request, app };
  }

  /**
   * Back from an identity provider with a ticket: the sign-in it stands for goes on in the browser that started the
   * request (its binding is checked, as on every step), or, for an IdP-initiated one, in the newest pending request
   * of this browser in the tenant; with none, the user is told to start from the application.
   */
  async completeExternal(ticket: string, browserId: string | undefined): Promise<{ step: AuthorizeStep; sessionId?: string }> {
    const result = this.external ? await this.external.redeem(ticket) : null;
    if (!result) throw new InvalidRequest('This sign-in has expired or was finished already. Go back to the application and start again.');
    const requestId = result.requestId ?? (await this.newestPendingOf(result.tenantId, browserId));
    if (!requestId) throw new InvalidRequest('You signed in with your identity provider, but no application asked for a sign-in from this browser. Start from the application.');
    const { em, request, app } = await this.pending(requestId, browserId);
    if (request.tenantId !== result.tenantId) throw new InvalidRequest('This sign-in request has expired or is not valid. Go back to the application and start again.');
    const user = await this.tenancy.user(em, result.userId);
    if (!user) throw new InvalidRequest('This account no longer exists. Ask your administrator.');
    return this.signIn(em, request, app, user, result.amr);
  }

  private async newestPendingOf(tenantId: string, browserId: string | undefined): Promise<string | null> {
    if (!browserId) return null;
    const found = await forTenant(this.orm.em, tenantId).findOne(
      AuthorizationRequest,
      { browserBinding: sha256(browserId), expiresAt: { $gt: this.now() } },
      { orderBy: { createdAt: 'desc' } },
    );
    return found?.id ?? null;
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

  async decideConsent(requestId: string, browserId: string | undefined, csrfToken: string, sessionId: string | undefined, approve: boolean): Promise<AuthorizeStep> {
    const { em, request, app } = await this.pending(requestId, browserId, csrfToken);
    const signedIn = await this.loginSession(em, sessionId);
    // The same sign-in as the consent page was shown to: prompt=login and max_age are not bypassed by posting the form.
    if (!signedIn || this.mustSignInAgain(request, signedIn.session)) return { kind: 'login', request, app };
    const { user } = signedIn;
    if (!approve) {
      em.remove(request);
      await em.flush();
      return { kind: 'redirect', location: this.errorLocation(request.redirectUri, request.state, new AccessDenied('the user denied the request')) };
    }
    const scopeSet = scopeSetOf(request.scopes);
    if (!(await em.findOne(Consent, { userId: user.id, appId: app.id, scopeSet }))) {
      em.create(Consent, { id: newId('cns'), tenantId: app.tenantId, userId: user.id, appId: app.id, scopeSet, createdAt: this.now() });
    }
    return { kind: 'redirect', location: await this.issueCode(em, request, signedIn) };
  }

  /** The code, under a new grant that remembers the sign-in, for the ID tokens of the grant (OIDC Core section 2). */
  private async issueCode(em: EntityManager, request: AuthorizationRequest, { user, session }: SignedIn): Promise<string> {
    const code = randomBytes(32).toString('base64url');
    const grant = em.create(Grant, {
      id: newId('grt'),
      tenantId: request.tenantId,
      appId: request.appId,
      userId: user.id,
      scopes: request.scopes,
      createdAt: this.now(),
      authTime: session.createdAt,
      amr: session.amr,
      loginSessionId: session.id,
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
      nonce: request.nonce,
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
