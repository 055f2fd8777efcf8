// The browser's side of RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): GET and POST
// /v1/oauth/logout. An app's request (section 2: GET with a query, or POST with a form) and the user's confirmation
// (a POST of the confirmation form, told apart by its csrf_token) both end here; the flow (logout.ts) decides. Every
// error is a page, never a redirect: nothing about the request is trusted until it has been checked.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { asTesseraError } from '../errors.js';
import { BROWSER_COOKIE, COOKIE_PATH, isInsecureLoopback, SESSION_COOKIE } from './authorize-endpoints.js';
import type { LogoutStep, RpInitiatedLogout } from './logout.js';
import { renderError, renderLogoutConfirm, renderSignedOut } from './pages.js';
import { param, type Params } from './params.js';

export function logoutEndpoints(logout: RpInitiatedLogout, config: Config) {
  const cookieOptions = { path: COOKIE_PATH, httpOnly: true, sameSite: 'lax' as const, secure: !isInsecureLoopback(config.issuer) };

  /** The browser's id, which the confirmation form is bound to; a browser that has none gets one. */
  const browserId = (request: FastifyRequest, reply: FastifyReply): string => {
    const existing = request.cookies[BROWSER_COOKIE];
    if (existing && /^[A-Za-z0-9_-]{32,64}$/.test(existing)) return existing;
    const fresh = randomBytes(24).toString('base64url');
    reply.setCookie(BROWSER_COOKIE, fresh, cookieOptions);
    return fresh;
  };

  /** A step as a response; once the session is over (any step but the confirmation), its cookie goes too. */
  const respond = (reply: FastifyReply, step: LogoutStep, redirectStatus: 302 | 303) => {
    if (step.kind === 'confirm') return renderLogoutConfirm(reply, step);
    reply.clearCookie(SESSION_COOKIE, cookieOptions);
    if (step.kind === 'redirect') return reply.header('cache-control', 'no-store').redirect(step.location, redirectStatus);
    return renderSignedOut(reply, step);
  };

  const answerError = (request: FastifyRequest, reply: FastifyReply, error: unknown) => {
    const known = asTesseraError(error);
    if (known.status >= 500) request.log.error({ err: error }, 'logout request failed');
    reply.headers(known.headers);
    return renderError(reply, known.status, known.description);
  };

  /** GET or POST /v1/oauth/logout. */
  return async function logoutEndpoint(request: FastifyRequest, reply: FastifyReply) {
    const params = ((request.method === 'GET' ? request.query : request.body) ?? {}) as Params;
    try {
      const csrfToken = request.method === 'POST' ? param(params, 'csrf_token') : undefined;
      if (csrfToken === undefined) {
        return respond(reply, await logout.request(params, browserId(request, reply), request.cookies[SESSION_COOKIE]), request.method === 'GET' ? 302 : 303);
      }
      return respond(reply, await logout.confirm(params, request.cookies[BROWSER_COOKIE], String(csrfToken), request.cookies[SESSION_COOKIE]), 303);
    } catch (error) {
      return answerError(request, reply, error);
    }
  };
}
