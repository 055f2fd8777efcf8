// The browser's side of the authorization endpoint: GET /v1/oauth/authorize, the hosted sign-in (POST
// /v1/oauth/login), second-factor (GET and POST /v1/oauth/mfa, README "MFA") and consent (GET and POST
// /v1/oauth/consent) pages. Every error of them is answered by one
// handler, `answerError`, which decides between the error page and the redirect from one fact, as
// node-oidc-provider does: whether the client and its redirect URI were verified (RFC 6749 section 4.1.2.1,
// RFC 9700 section 4.11).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { asTesseraError, InvalidRequest, RateLimited } from '../errors.js';
import { isLoopbackHost } from '../http/loopback.js';
import type { Limiter } from '../http/rate-limit.js';
import type { ScopeCatalog } from '../platform/scopes.js';
import type { AuthorizationFlow, AuthorizeStep, VerifiedClient } from './authorize.js';
import { renderSecondFactor } from './mfa-pages.js';
import { renderConsent, renderError, renderLogin } from './pages.js';
import { param, type Params } from './params.js';

// Shared with the logout endpoint (logout-endpoints.ts), which ends the session these pages start.
export const BROWSER_COOKIE = 'tessera_browser';
export const SESSION_COOKIE = 'tessera_session';
export const COOKIE_PATH = '/v1/oauth';

/** Where an error may be sent back: a verified redirect URI and the request's state; null shows a page. */
interface ErrorTarget {
  redirectUri: string;
  state: string | undefined;
}

/** Only a plain-http loopback issuer (local development) goes without Secure cookies. */
export function isInsecureLoopback(issuer: string): boolean {
  const url = new URL(issuer);
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}

export function authorizeEndpoints(flow: AuthorizationFlow, scopes: ScopeCatalog, loginLimit: Limiter, config: Config) {
  // Secure cookies everywhere except a loopback issuer in development (browsers drop Secure on http).
  const cookieOptions = { path: COOKIE_PATH, httpOnly: true, sameSite: 'lax' as const, secure: !isInsecureLoopback(config.issuer) };

  /** The id that binds a pending request to the browser that started it. */
  const browserId = (request: FastifyRequest, reply: FastifyReply): string => {
    const existing = request.cookies[BROWSER_COOKIE];
    if (existing && /^[A-Za-z0-9_-]{32,64}$/.test(existing)) return existing;
    const fresh = randomBytes(24).toString('base64url');
    reply.setCookie(BROWSER_COOKIE, fresh, cookieOptions);
    return fresh;
  };

  /** A step of the flow as a response. `redirectStatus`: 302 after GET; 303 after POST (RFC 9700 section 4.12). */
  const respond = async (reply: FastifyReply, step: AuthorizeStep, redirectStatus: 302 | 303, extra: { email?: string } = {}) => {
    if (step.kind === 'redirect') return reply.code(redirectStatus).header('cache-control', 'no-store').redirect(step.location, redirectStatus);
    if (step.kind === 'login') {
      if (step.retryAfter) reply.header('retry-after', String(step.retryAfter));
      // The tenant's identity providers as buttons, and whether its local passwords are on (README "Federation").
      const { providers, passwords } = await flow.signInOptions(step.app.tenantId);
      return renderLogin(reply, { appName: step.app.name, requestId: step.request.id, csrfToken: step.request.csrfToken, email: extra.email, error: step.error, providers, passwords }, step.status ?? 200);
    }
    if (step.kind === 'mfa') {
      if (step.retryAfter) reply.header('retry-after', String(step.retryAfter));
      return renderSecondFactor(reply, step.page, { requestId: step.request.id, csrfToken: step.request.csrfToken, error: step.error }, step.status ?? 200);
    }
    const descriptions = new Map((await scopes.published()).map((s) => [s.name, s.description]));
    return renderConsent(reply, {
      appName: step.app.name,
      userEmail: step.user.email,
      requestId: step.request.id,
      csrfToken: step.request.csrfToken,
      scopes: step.request.scopes.map((name) => ({ name, description: descriptions.get(name) ?? name })),
    });
  };

  /** The one answer to an error of these pages: back to a verified redirect URI, or a page, never a JSON body. */
  const answerError = (request: FastifyRequest, reply: FastifyReply, error: unknown, target: ErrorTarget | null, redirectStatus: 302 | 303) => {
    const known = asTesseraError(error);
    if (known.status >= 500) request.log.error({ err: error }, 'authorization request failed');
    if (target) return reply.redirect(flow.errorLocation(target.redirectUri, target.state, error), redirectStatus);
    reply.headers(known.headers);
    // The one limit these pages have is on sign-in attempts; its API wording is not for people.
    const message = known instanceof RateLimited ? 'Too many sign-in attempts from this address. Wait a minute and try again.' : known.description;
    return renderError(reply, known.status, message);
  };

  return {
    /** GET /v1/oauth/authorize. Validation of the query is the flow's own, so that its errors can be redirected. */
    async authorize(request: FastifyRequest, reply: FastifyReply) {
      const query = request.query as Params;
      let target: ErrorTarget | null = null;
      try {
        const client: VerifiedClient = await flow.verifyClient(query);
        target = { redirectUri: client.redirectUri, state: typeof query.state === 'string' ? query.state : undefined };
        return await respond(reply, await flow.start(query, client, browserId(request, reply), request.cookies[SESSION_COOKIE]), 302);
      } catch (error) {
        return answerError(request, reply, error, target, 302);
      }
    },

    /** POST /v1/oauth/login: the credentials of the sign-in form. */
    async login(request: FastifyRequest, reply: FastifyReply) {
      const form = (request.body ?? {}) as Params;
      try {
        await loginLimit.check([request.ip]);
        const email = param(form, 'email') ?? '';
        // An identity provider's button, or an email alone (home-realm discovery): no password to check.
        const provider = param(form, 'provider');
        if (provider !== undefined || param(form, 'password') === undefined) {
          return await respond(reply, await flow.discover(param(form, 'request_id') ?? '', request.cookies[BROWSER_COOKIE], param(form, 'csrf_token') ?? '', email, provider), 303, { email });
        }
        const { step, sessionId } = await flow.login(param(form, 'request_id') ?? '', request.cookies[BROWSER_COOKIE], param(form, 'csrf_token') ?? '', email, param(form, 'password') ?? '');
        if (sessionId) reply.setCookie(SESSION_COOKIE, sessionId, { ...cookieOptions, maxAge: config.oauth.sessionTtl });
        // Post/redirect/get: reloading the consent page must not post the password again.
        if (step.kind === 'consent') return reply.redirect(`/v1/oauth/consent?request_id=${encodeURIComponent(step.request.id)}`, 303);
        if (step.kind === 'mfa') return reply.redirect(`/v1/oauth/mfa?request_id=${encodeURIComponent(step.request.id)}`, 303);
        return await respond(reply, step, 303, { email });
      } catch (error) {
        return answerError(request, reply, error, null, 303);
      }
    },

    /**
     * GET /v1/oauth/federated?ticket=: back from an identity provider (the federation module's ACS or callback sent the
     * browser here, where its cookies are sent again: the answer's own POST carried none). The ticket's sign-in goes on
     * in the browser that started the request.
     */
    async federated(request: FastifyRequest, reply: FastifyReply) {
      const ticket = (request.query as Params).ticket;
      try {
        const { step, sessionId } = await flow.completeExternal(typeof ticket === 'string' ? ticket : '', request.cookies[BROWSER_COOKIE]);
        if (sessionId) reply.setCookie(SESSION_COOKIE, sessionId, { ...cookieOptions, maxAge: config.oauth.sessionTtl });
        // The ticket's URL does not stay in the history: the consent page has its own.
        if (step.kind === 'consent') return reply.redirect(`/v1/oauth/consent?request_id=${encodeURIComponent(step.request.id)}`, 303);
        return await respond(reply, step, 303);
      } catch (error) {
        return answerError(request, reply, error, null, 303);
      }
    },

    /** GET /v1/oauth/mfa: the second factor a pending request waits for, after the password. */
    async secondFactorPage(request: FastifyRequest, reply: FastifyReply) {
      const requestId = (request.query as Params).request_id;
      try {
        const step = await flow.secondFactorPage(typeof requestId === 'string' ? requestId : '', request.cookies[BROWSER_COOKIE], request.cookies[SESSION_COOKIE]);
        return await respond(reply, step, 302);
      } catch (error) {
        return answerError(request, reply, error, null, 302);
      }
    },

    /** POST /v1/oauth/mfa: a code, a new authenticator's first code, or on past the recovery codes. */
    async secondFactor(request: FastifyRequest, reply: FastifyReply) {
      const form = (request.body ?? {}) as Params;
      try {
        // Codes are guessed like passwords: as many a minute per address as sign-ins (counted apart, so that mistyped
        // passwords do not use them up), beside the account's lockout.
        await loginLimit.check([`mfa:${request.ip}`]);
        const { step, sessionId } = await flow.submitSecondFactor(param(form, 'request_id') ?? '', request.cookies[BROWSER_COOKIE], param(form, 'csrf_token') ?? '', param(form, 'code') ?? '');
        if (sessionId) reply.setCookie(SESSION_COOKIE, sessionId, { ...cookieOptions, maxAge: config.oauth.sessionTtl });
        if (step.kind === 'consent') return reply.redirect(`/v1/oauth/consent?request_id=${encodeURIComponent(step.request.id)}`, 303);
        return await respond(reply, step, 303);
      } catch (error) {
        return answerError(request, reply, error, null, 303);
      }
    },

    /** GET /v1/oauth/consent: the consent page of a pending request. */
    async consentPage(request: FastifyRequest, reply: FastifyReply) {
      const requestId = (request.query as Params).request_id;
      try {
        const step = await flow.resume(typeof requestId === 'string' ? requestId : '', request.cookies[BROWSER_COOKIE], request.cookies[SESSION_COOKIE]);
        return await respond(reply, step, 302);
      } catch (error) {
        return answerError(request, reply, error, null, 302);
      }
    },

    /** POST /v1/oauth/consent: Allow or Deny. */
    async consent(request: FastifyRequest, reply: FastifyReply) {
      const form = (request.body ?? {}) as Params;
      try {
        const decision = param(form, 'decision');
        if (decision !== 'approve' && decision !== 'deny') throw new InvalidRequest('Choose Allow or Deny.');
        const step = await flow.decideConsent(param(form, 'request_id') ?? '', request.cookies[BROWSER_COOKIE], param(form, 'csrf_token') ?? '', request.cookies[SESSION_COOKIE], decision === 'approve');
        return await respond(reply, step, 303);
      } catch (error) {
        return answerError(request, reply, error, null, 303);
      }
    },
  };
}
