// Authorization server metadata, one document at both well-known paths: RFC 8414's
// `/.well-known/oauth-authorization-server` and OpenID Connect Discovery 1.0's `/.well-known/openid-configuration`
// (RFC 8414 section 2 registers the OpenID Connect fields as authorization server metadata too, so one document
// serves both and the two never disagree). It names the real endpoints and says only what the server does.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Config } from '../config.js';
import type { ScopeCatalog } from '../platform/scopes.js';
import { ACR, CLAIMS_SUPPORTED } from './id-tokens.js';
import { PROMPT_VALUES_SUPPORTED } from './oidc-params.js';

const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'];

/** `signingAlgorithms`: the algorithms of the published keys, the signing key's first (keys/keyring.ts). */
export function registerDiscovery(app: FastifyInstance, config: Config, scopes: ScopeCatalog, signingAlgorithms: () => string[]): void {
  const endpoint = (path: string) => `${config.issuer}${path}`;
  const metadata = async () => ({
    issuer: config.issuer,
    authorization_endpoint: endpoint('/v1/oauth/authorize'),
    token_endpoint: endpoint('/v1/oauth/token'),
    userinfo_endpoint: endpoint('/v1/oauth/userinfo'),
    jwks_uri: endpoint('/.well-known/jwks.json'),
    end_session_endpoint: endpoint('/v1/oauth/logout'),
    revocation_endpoint: endpoint('/v1/oauth/revoke'),
    introspection_endpoint: endpoint('/v1/oauth/introspect'),
    scopes_supported: (await scopes.published()).map((s) => s.name),
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: signingAlgorithms(),
    token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    code_challenge_methods_supported: ['S256'],
    claims_supported: CLAIMS_SUPPORTED,
    claim_types_supported: ['normal'],
    acr_values_supported: Object.values(ACR),
    prompt_values_supported: PROMPT_VALUES_SUPPORTED,
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    authorization_response_iss_parameter_supported: true,
    service_documentation: endpoint('/api/docs'),
  });
  const schema = { tags: ['OAuth'], summary: 'Authorization server metadata (RFC 8414, OpenID Connect Discovery 1.0)' };
  const serve = async (_request: unknown, reply: FastifyReply) => reply.header('cache-control', 'public, max-age=300').send(await metadata());
  app.get('/.well-known/oauth-authorization-server', { schema }, serve);
  app.get('/.well-known/openid-configuration', { schema }, serve);
}
