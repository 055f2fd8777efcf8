// Authorization server metadata (RFC 8414), at both well-known paths, naming the real endpoints.
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { ScopeCatalog } from '../platform/scopes.js';

export function registerDiscovery(app: FastifyInstance, config: Config, scopes: ScopeCatalog): void {
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
    scopes_supported: (await scopes.published()).map((s) => s.name),
    authorization_response_iss_parameter_supported: true,
    service_documentation: `${config.issuer}/api/docs`,
  });
  const schema = { tags: ['OAuth'], summary: 'Authorization server metadata (RFC 8414)' };
  const serve = async (_request: unknown, reply: import('fastify').FastifyReply) => reply.header('cache-control', 'public, max-age=300').send(await metadata());
  app.get('/.well-known/oauth-authorization-server', { schema }, serve);
  app.get('/.well-known/openid-configuration', { schema }, serve);
}
