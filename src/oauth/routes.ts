// /v1/oauth/*: authorize with hosted login and consent, token, revoke, introspect; RFC 8414 discovery.
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { InvalidRequest, RateLimited, UnsupportedGrantType } from '../errors.js';
import { isLoopbackHost } from '../http/loopback.js';
import { createLimiter } from '../http/rate-limit.js';
import type { App } from '../platform/entities.js';
import type { PlatformService } from '../platform/service.js';
import { ErrorBody } from '../platform/schemas.js';
import { renderConsent, renderError, renderLogin } from './pages.js';
import { PageError, RedirectableError, type AuthorizeQuery, type AuthorizeStep, type ClientCredentialsInput, type OAuthService } from './service.js';

const BROWSER_COOKIE = 'tessera_browser';
const SESSION_COOKIE = 'tessera_session';
const COOKIE_PATH = '/v1/oauth';

type Form = Record<string, string | string[] | undefined>;

/** Form fields are single-valued (RFC 6749 section 3.1 and 3.2): a repeated one is an invalid request. */
function field(form: Form, name: string): string | undefined {
  const value = form[name];
  if (Array.isArray(value)) throw new InvalidRequest(`${name} must not be repeated`);
  return value === '' ? undefined : value;
}

/** RFC 6749 section 2.3.1: the client id and secret are form-urlencoded before base64 ('+' is a space). */
function formUnescape(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s; // generated ids and secrets: nothing to decode
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new InvalidRequest('malformed Basic credentials');
  }
}

/** RFC 6749 section 2.3.1: Basic credentials are form-urlencoded before base64. */
function basicCredentials(request: FastifyRequest): ClientCredentialsInput['basic'] {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) throw new InvalidRequest('the Authorization header must use the Basic scheme here');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new InvalidRequest('malformed Basic credentials');
  return { clientId: formUnescape(decoded.slice(0, colon)), secret: formUnescape(decoded.slice(colon + 1)) };
}

function credentials(request: FastifyRequest, form: Form): ClientCredentialsInput {
  return { basic: basicCredentials(request), bodyClientId: field(form, 'client_id'), bodySecret: field(form, 'client_secret') };
}

/** Only a plain-http loopback issuer (local development) goes without Secure cookies. */
function isInsecureLoopback(issuer: string): boolean {
  const url = new URL(issuer);
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}

export async function registerOAuthRoutes(app: FastifyInstance, oauth: OAuthService, platform: PlatformService, config: Config): Promise<void> {
  // Awaited first: hooks apply only to routes declared after them.
  await app.register(formbody);

  // Secure cookies everywhere except a loopback issuer in development (browsers drop Secure on http).
  const cookieOptions = { path: COOKIE_PATH, httpOnly: true, sameSite: 'lax' as const, secure: !isInsecureLoopback(config.issuer) };
  // Per IP before anything else, then per client (the client_id is not yet trusted): both in one lookup.
  const tokenLimits = createLimiter(app, [
    { name: 'token-ip', max: config.rateLimits.tokenPerIp, what: 'from this address' },
    { name: 'token-client', max: config.rateLimits.tokenPerClient, what: 'for this client' },
  ]);
  const loginLimit = createLimiter(app, [{ name: 'login-ip', max: config.rateLimits.loginPerIp, what: 'to sign in from this address' }]);

  // ------------------------------------------------------------------ the hosted pages

  const browserId = (request: FastifyRequest, reply: FastifyReply): string => {
    const existing = request.cookies[BROWSER_COOKIE];
    if (existing && /^[A-Za-z0-9_-]{32,64}$/.test(existing)) return existing;
    const fresh = randomBytes(24).toString('base64url');
    reply.setCookie(BROWSER_COOKIE, fresh, cookieOptions);
    return fresh;
  };

  /** Turns a step of the flow into a response. `redirectStatus`: 302 after GET; 303 after POST (RFC 9700 section 4.12). */
  const respond = async (reply: FastifyReply, step: AuthorizeStep, redirectStatus: 302 | 303, extra: { email?: string } = {}) => {
    if (step.kind === 'redirect') return reply.code(redirectStatus).header('cache-control', 'no-store').redirect(step.location, redirectStatus);
    if (step.kind === 'login') {
      if (step.retryAfter) reply.header('retry-after', String(step.retryAfter));
      return renderLogin(reply, { appName: step.app.name, requestId: step.request.id, csrfToken: step.request.csrfToken, email: extra.email, error: step.error }, step.status ?? 200);
    }
    const descriptions = new Map((await platform.publishedScopes()).map((s) => [s.name, s.description]));
    return renderConsent(reply, {
      appName: step.app.name,
      userEmail: step.user.email,
      requestId: step.request.id,
      csrfToken: step.request.csrfToken,
      scopes: step.request.scopes.map((name) => ({ name, description: descriptions.get(name) ?? name })),
    });
  };

  const pageErrors = (reply: FastifyReply, error: unknown) => {
    if (error instanceof PageError) return renderError(reply, error.status, error.description);
    throw error;
  };

  // The pages alone read and set cookies: @fastify/cookie is registered in their own context, so its
  // hooks do not run for the token endpoint, the API or GraphQL, which never use cookies.
  await app.register(async (pages) => {
    await pages.register(cookie);

    pages.get(
      '/v1/oauth/authorize',
      {
        schema: {
          tags: ['OAuth'],
          summary: 'Start the OAuth authorization code flow',
          description:
            'Authorization code with PKCE (S256). Redirects to the registered redirect URI with `code`, `state` and `iss` (RFC 9207), or with `error`. An unknown client or unregistered redirect URI gets an error page, never a redirect.',
          querystring: {
            type: 'object',
            properties: {
              response_type: { type: 'string', enum: ['code'] },
              client_id: { type: 'string' },
              redirect_uri: { type: 'string' },
              scope: { type: 'string' },
              state: { type: 'string' },
              code_challenge: { type: 'string' },
              code_challenge_method: { type: 'string', enum: ['S256'] },
            },
          },
          response: { 302: { description: 'Redirect to the client with a code or an error', type: 'null' } },
        },
        // Validation of the query is the flow's own (errors go to the redirect URI), not Ajv's.
        validatorCompiler: () => () => true,
      },
      async (request, reply) => {
        const query = request.query as AuthorizeQuery;
        let client: { app: App; redirectUri: string };
        try {
          client = await oauth.resolveClient(query);
        } catch (error) {
          return pageErrors(reply, error);
        }
        try {
          const step = await oauth.startAuthorization(query, client.app, client.redirectUri, browserId(request, reply), request.cookies[SESSION_COOKIE]);
          return respond(reply, step, 302);
        } catch (error) {
          if (!(error instanceof RedirectableError)) throw error;
          const state = typeof query.state === 'string' ? query.state : undefined;
          return reply.redirect(oauth.errorRedirect(client.redirectUri, state, error.code, error.description), 302);
        }
      },
    );

    pages.post('/v1/oauth/login', { schema: { hide: true } }, async (request, reply) => {
      const form = (request.body ?? {}) as Form;
      try {
        await loginLimit.check([request.ip]);
        const email = field(form, 'email') ?? '';
        const { step, sessionId } = await oauth.login(
          field(form, 'request_id') ?? '',
          request.cookies[BROWSER_COOKIE],
          field(form, 'csrf_token') ?? '',
          email,
          field(form, 'password') ?? '',
        );
        if (sessionId) reply.setCookie(SESSION_COOKIE, sessionId, { ...cookieOptions, maxAge: config.oauth.sessionTtl });
        // Post/redirect/get: reloading the consent page must not post the password again.
        if (step.kind === 'consent') return reply.redirect(`/v1/oauth/consent?request_id=${encodeURIComponent(step.request.id)}`, 303);
        return await respond(reply, step, 303, { email });
      } catch (error) {
        if (error instanceof RateLimited) {
          reply.headers(error.headers);
          return renderError(reply, 429, 'Too many sign-in attempts from this address. Wait a minute and try again.');
        }
        return pageErrors(reply, error);
      }
    });

    pages.get('/v1/oauth/consent', { schema: { hide: true } }, async (request, reply) => {
      const requestId = (request.query as Form).request_id;
      try {
        const step = await oauth.resumeAuthorization(typeof requestId === 'string' ? requestId : '', request.cookies[BROWSER_COOKIE], request.cookies[SESSION_COOKIE]);
        return await respond(reply, step, 302);
      } catch (error) {
        return pageErrors(reply, error);
      }
    });

    pages.post('/v1/oauth/consent', { schema: { hide: true } }, async (request, reply) => {
      const form = (request.body ?? {}) as Form;
      try {
        const decision = field(form, 'decision');
        if (decision !== 'approve' && decision !== 'deny') throw new PageError(400, 'Choose Allow or Deny.');
        const step = await oauth.decideConsent(
          field(form, 'request_id') ?? '',
          request.cookies[BROWSER_COOKIE],
          field(form, 'csrf_token') ?? '',
          request.cookies[SESSION_COOKIE],
          decision === 'approve',
        );
        return await respond(reply, step, 303);
      } catch (error) {
        return pageErrors(reply, error);
      }
    });
  });

  // ------------------------------------------------------------------ token, revoke, introspect

  const formOnly = (request: FastifyRequest): Form => {
    if (!request.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
      throw new InvalidRequest('send the parameters as application/x-www-form-urlencoded');
    }
    return (request.body ?? {}) as Form;
  };

  /**
   * Counts the request per IP and per named client, and returns the client's credentials, parsed once for
   * the limits and the authentication both. Credentials that do not even parse still count for the IP.
   */
  const limitedCredentials = async (request: FastifyRequest, form: Form): Promise<ClientCredentialsInput> => {
    let input: ClientCredentialsInput;
    try {
      input = credentials(request, form);
    } catch (malformed) {
      await tokenLimits.check([request.ip]);
      throw malformed;
    }
    // Awaited only when there is something to wait for (Redis): in-process counting costs no promise.
    const counting = tokenLimits.check([request.ip, input.basic?.clientId ?? input.bodyClientId]);
    if (counting) await counting;
    return input;
  };

  const tokenEndpointSchema = (summary: string, description: string, response: object) => ({
    tags: ['OAuth'],
    summary,
    description,
    consumes: ['application/x-www-form-urlencoded'],
    body: { type: 'object', additionalProperties: true },
    response: { ...response, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody },
  });

  app.register(async (scope) => {
    // RFC 6749 section 5.1: token responses, errors included, are never cached.
    scope.addHook('onSend', (_request, reply, payload, done) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      done(null, payload);
    });
    // The form is parsed by @fastify/formbody; a request without a body is checked by the handler, not Ajv.
    scope.addHook('preValidation', (request, _reply, done) => {
      request.body ??= {};
      done();
    });

    scope.post(
      '/v1/oauth/token',
      {
        schema: tokenEndpointSchema(
          'Exchange or mint access tokens',
          'Grants: authorization_code (with code_verifier), client_credentials, refresh_token. Client authentication: client_secret_basic or client_secret_post; public clients send client_id and PKCE.',
          {
            200: {
              type: 'object',
              properties: {
                access_token: { type: 'string' },
                token_type: { type: 'string' },
                expires_in: { type: 'integer' },
                scope: { type: 'string' },
                refresh_token: { type: 'string' },
              },
            },
          },
        ),
      },
      async (request) => {
        const form = formOnly(request);
        const input = await limitedCredentials(request, form);
        const grantType = field(form, 'grant_type');
        if (!grantType) throw new InvalidRequest('grant_type is required');
        if (!['authorization_code', 'client_credentials', 'refresh_token'].includes(grantType)) {
          throw new UnsupportedGrantType(`grant_type ${grantType} is not supported`);
        }
        const client = await oauth.authenticateClient(input);
        // `return await`: a promise returned from an async function costs V8 two more microtask turns.
        if (grantType === 'client_credentials') return await oauth.clientCredentials(client, field(form, 'scope'));
        if (grantType === 'authorization_code') {
          return await oauth.exchangeCode(client, field(form, 'code'), field(form, 'redirect_uri'), field(form, 'code_verifier'));
        }
        return await oauth.refresh(client, field(form, 'refresh_token'), field(form, 'scope'));
      },
    );

    scope.post(
      '/v1/oauth/revoke',
      {
        schema: tokenEndpointSchema('Revoke a token (RFC 7009)', 'Revokes an access or refresh token of the authenticated client. Always 200.', {
          200: { type: 'null', description: 'Revoked, or nothing to revoke' },
        }),
      },
      async (request, reply) => {
        const form = formOnly(request);
        const client = await oauth.authenticateClient(await limitedCredentials(request, form));
        const token = field(form, 'token');
        if (!token) throw new InvalidRequest('token is required');
        await oauth.revoke(client, token);
        return reply.send();
      },
    );

    scope.post(
      '/v1/oauth/introspect',
      {
        schema: tokenEndpointSchema('Introspect a token (RFC 7662)', 'Tells whether a token of the authenticated client is active, with its claims.', {
          200: { type: 'object', properties: { active: { type: 'boolean' } }, additionalProperties: true },
        }),
      },
      async (request) => {
        const form = formOnly(request);
        const client = await oauth.authenticateClient(await limitedCredentials(request, form));
        const token = field(form, 'token');
        if (!token) throw new InvalidRequest('token is required');
        return oauth.introspect(client, token);
      },
    );
  });

  // ------------------------------------------------------------------ discovery (RFC 8414)

  const metadata = async () => ({
    issuer: config.issuer,
    authorization_endpoint: `${config.issuer}/v1/oauth/authorize`,
    token_endpoint: `${config.issuer}/v1/oauth/token`,
    revocation_endpoint: `${config.issuer}/v1/oauth/revoke`,
    introspection_endpoint: `${config.issuer}/v1/oauth/introspect`,
    jwks_uri: `${config.issuer}/.well-known/jwks.json`,
    grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    scopes_supported: (await platform.publishedScopes()).map((s) => s.name),
    authorization_response_iss_parameter_supported: true,
    service_documentation: `${config.issuer}/api/docs`,
  });
  const discoverySchema = { tags: ['OAuth'], summary: 'Authorization server metadata (RFC 8414)' };
  app.get('/.well-known/oauth-authorization-server', { schema: discoverySchema }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(await metadata()),
  );
  app.get('/.well-known/openid-configuration', { schema: discoverySchema }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(await metadata()),
  );
}
