// /v1/oauth/* and the discovery documents: which handler answers each route.
//   GET  /v1/oauth/authorize, POST /v1/oauth/login, GET|POST /v1/oauth/consent   authorize-endpoints.ts
//   GET  /v1/oauth/federated (back from an identity provider)                  authorize-endpoints.ts
//   GET|POST /v1/oauth/mfa (second factor, README "MFA")                        authorize-endpoints.ts
//   GET|POST /v1/oauth/logout                                                   logout-endpoints.ts (flow: logout.ts)
//   POST /v1/oauth/token, /v1/oauth/revoke, /v1/oauth/introspect                 token-endpoints.ts
//   GET|POST /v1/oauth/userinfo                                                 userinfo.ts
//   GET  /.well-known/oauth-authorization-server, /.well-known/openid-configuration  discovery.ts
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { bearerSecurity, ErrorBody } from '../http/schemas.js';
import { createLimiter } from '../http/rate-limit.js';
import type { ScopeCatalog } from '../platform/scopes.js';
import { authorizeEndpoints } from './authorize-endpoints.js';
import type { AuthorizationFlow } from './authorize.js';
import { registerDiscovery } from './discovery.js';
import { logoutEndpoints } from './logout-endpoints.js';
import type { RpInitiatedLogout } from './logout.js';
import { tokenEndpoints, type TokenEndpointDeps } from './token-endpoints.js';

export interface OAuthRouteDeps extends Omit<TokenEndpointDeps, 'limits' | 'sandboxLimits'> {
  flow: AuthorizationFlow;
  logout: RpInitiatedLogout;
  userInfo(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  /** The algorithms of the published signing keys, the signing key's first (discovery). */
  signingAlgorithms(): string[];
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
      nonce: { type: 'string', description: 'OpenID Connect: echoed in the ID token' },
      prompt: { type: 'string', description: 'OpenID Connect: none, login, consent or select_account (space-separated; none alone)' },
      max_age: { type: 'integer', minimum: 0, description: 'OpenID Connect: seconds since the sign-in after which the user signs in again' },
    },
  },
  response: { 302: { description: 'Redirect to the client with a code or an error', type: 'null' } },
};

const logoutParams = {
  type: 'object',
  properties: {
    id_token_hint: { type: 'string', description: 'An ID token Tessera issued to the app (expired ones too)' },
    client_id: { type: 'string' },
    post_logout_redirect_uri: { type: 'string', description: 'One of the app\'s post_logout_redirect_uris, exactly' },
    state: { type: 'string' },
    ui_locales: { type: 'string' },
  },
};
const logoutDescription =
  'OpenID Connect RP-Initiated Logout 1.0: ends the login session, then redirects to `post_logout_redirect_uri` (with `state`) when it is registered for the app, or shows a "You are signed out" page. Without an `id_token_hint` that names the session, the user confirms first.';

const userInfoResponses = {
  200: {
    type: 'object',
    required: ['sub'],
    properties: {
      sub: { type: 'string' },
      preferred_username: { type: 'string' },
      roles: { type: 'array', items: { type: 'string' } },
      email: { type: 'string' },
      email_verified: { type: 'boolean' },
    },
    additionalProperties: false,
  },
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
};
const userInfoDescription =
  'OpenID Connect Core section 5.3: `sub` and the claims of the scopes the access token carries (`profile`: `preferred_username`, `roles`; `email`: `email`, `email_verified`). The token must carry `openid` (else 403, `WWW-Authenticate: Bearer error="insufficient_scope"`).';

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
      properties: {
        access_token: { type: 'string' },
        token_type: { type: 'string' },
        expires_in: { type: 'integer' },
        scope: { type: 'string' },
        refresh_token: { type: 'string' },
        id_token: { type: 'string', description: 'OpenID Connect: when the grant has the scope openid (authorization_code, refresh_token)' },
      },
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
    scope.get('/v1/oauth/mfa', { schema: { hide: true } }, pages.secondFactorPage);
    scope.post('/v1/oauth/mfa', { schema: { hide: true } }, pages.secondFactor);
    scope.get('/v1/oauth/consent', { schema: { hide: true } }, pages.consentPage);
    // Back from a tenant's identity provider with a one-time ticket (README "Federation").
    scope.get('/v1/oauth/federated', { schema: { hide: true } }, pages.federated);
    scope.post('/v1/oauth/consent', { schema: { hide: true } }, pages.consent);
    const logout = logoutEndpoints(deps.logout, config);
    // Its parameters are checked by the flow, whose errors are pages, not Ajv's JSON.
    const unchecked = { validatorCompiler: () => () => true };
    scope.get('/v1/oauth/logout', { schema: { tags: ['OAuth'], summary: 'End the session (OpenID Connect RP-initiated logout)', description: logoutDescription, querystring: logoutParams }, ...unchecked }, logout);
    scope.post(
      '/v1/oauth/logout',
      { schema: { tags: ['OAuth'], summary: 'End the session (OpenID Connect RP-initiated logout)', description: logoutDescription, consumes: ['application/x-www-form-urlencoded'], body: logoutParams }, ...unchecked },
      logout,
    );
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
    // The UserInfo answer is about a user, and never cached either (OIDC Core section 5.3.2).
    scope.get('/v1/oauth/userinfo', { schema: { tags: ['OAuth'], summary: 'The signed-in user (OpenID Connect UserInfo)', description: userInfoDescription, security: bearerSecurity, response: userInfoResponses } }, deps.userInfo);
    scope.post(
      '/v1/oauth/userinfo',
      {
        schema: {
          tags: ['OAuth'],
          summary: 'The signed-in user (OpenID Connect UserInfo)',
          description: `${userInfoDescription} The token may also be sent as a form field \`access_token\` (RFC 6750 section 2.2).`,
          security: bearerSecurity,
          consumes: ['application/x-www-form-urlencoded'],
          body: { type: 'object', additionalProperties: true },
          response: userInfoResponses,
        },
      },
      deps.userInfo,
    );
  });

  registerDiscovery(app, config, deps.scopes, deps.signingAlgorithms);
}
