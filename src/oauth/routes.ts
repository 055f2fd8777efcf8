// /v1/oauth/* and the discovery documents: which handler answers each route.
//   GET  /v1/oauth/authorize, POST /v1/oauth/login, GET|POST /v1/oauth/consent   authorize-endpoints.ts
//   POST /v1/oauth/token, /v1/oauth/revoke, /v1/oauth/introspect                 token-endpoints.ts
//   GET  /.well-known/oauth-authorization-server, /.well-known/openid-configuration  discovery.ts
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { ErrorBody } from '../http/schemas.js';
import { createLimiter } from '../http/rate-limit.js';
import type { ScopeCatalog } from '../platform/scopes.js';
import { authorizeEndpoints } from './authorize-endpoints.js';
import type { AuthorizationFlow } from './authorize.js';
import { registerDiscovery } from './discovery.js';
import { tokenEndpoints, type TokenEndpointDeps } from './token-endpoints.js';

export interface OAuthRouteDeps extends Omit<TokenEndpointDeps, 'limits' | 'sandboxLimits'> {
  flow: AuthorizationFlow;
  scopes: ScopeCatalog;
  config: Config;
}

const authorizeSchema = {
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
};

const formEndpointSchema = (summary: string, description: string, response: object) => ({
  tags: ['OAuth'],
  summary,
  description,
  consumes: ['application/x-www-form-urlencoded'],
  body: { type: 'object', additionalProperties: true },
  response: { ...response, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody },
});

const tokenSchema = formEndpointSchema(
  'Exchange or mint access tokens',
  'Grants: authorization_code (with code_verifier), client_credentials, refresh_token. Client authentication: client_secret_basic or client_secret_post; public clients send client_id and PKCE.',
  {
    200: {
      type: 'object',
      properties: { access_token: { type: 'string' }, token_type: { type: 'string' }, expires_in: { type: 'integer' }, scope: { type: 'string' }, refresh_token: { type: 'string' } },
    },
  },
);
const revokeSchema = formEndpointSchema('Revoke a token (RFC 7009)', 'Revokes an access or refresh token of the authenticated client. Always 200.', {
  200: { type: 'null', description: 'Revoked, or nothing to revoke' },
});
const introspectSchema = formEndpointSchema('Introspect a token (RFC 7662)', 'Tells whether a token of the authenticated client is active, with its claims.', {
  200: { type: 'object', properties: { active: { type: 'boolean' } }, additionalProperties: true },
});

export async function registerOAuthRoutes(app: FastifyInstance, deps: OAuthRouteDeps): Promise<void> {
  const { config } = deps;
  const loginLimit = createLimiter(app, [{ name: 'login-ip', max: config.rateLimits.loginPerIp, what: 'to sign in from this address' }]);
  const pages = authorizeEndpoints(deps.flow, deps.scopes, loginLimit, config);
  // The pages alone read and set cookies: @fastify/cookie is registered in their own context, so its hooks do not
  // run for the token endpoint, the API or GraphQL, which never use cookies.
  await app.register(async (scope) => {
    // Form bodies are parsed for the OAuth routes alone (RFC 6749 section 3.2 and the hosted forms); elsewhere a
    // form-encoded body is 415.
    await scope.register(formbody);
    await scope.register(cookie);
    // The authorize query is validated by the flow (its errors may go to the redirect URI), not by Ajv.
    scope.get('/v1/oauth/authorize', { schema: authorizeSchema, validatorCompiler: () => () => true }, pages.authorize);
    scope.post('/v1/oauth/login', { schema: { hide: true } }, pages.login);
    scope.get('/v1/oauth/consent', { schema: { hide: true } }, pages.consentPage);
    scope.post('/v1/oauth/consent', { schema: { hide: true } }, pages.consent);
  });

  // Per IP before anything else, then per client (the client_id is not yet trusted): both in one lookup. A client of a
  // sandbox tenant is then held to the sandbox's own lower limit too.
  const limits = createLimiter(app, [
    { name: 'token-ip', max: config.rateLimits.tokenPerIp, what: 'from this address' },
    { name: 'token-client', max: config.rateLimits.tokenPerClient, what: 'for this client' },
  ]);
  const sandboxLimits = createLimiter(app, [{ name: 'token-sandbox-client', max: config.rateLimits.sandboxTokenPerClient, what: 'for this sandbox client' }]);
  const endpoints = tokenEndpoints({ ...deps, limits, sandboxLimits });
  await app.register(async (scope) => {
    await scope.register(formbody);
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
    scope.post('/v1/oauth/token', { schema: tokenSchema }, endpoints.token);
    scope.post('/v1/oauth/revoke', { schema: revokeSchema }, endpoints.revoke);
    scope.post('/v1/oauth/introspect', { schema: introspectSchema }, endpoints.introspect);
  });

  registerDiscovery(app, config, deps.scopes);
}
