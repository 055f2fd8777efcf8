// The federation module's routes:
//   POST/GET /v1/platform/identity-providers, GET/PATCH/DELETE .../{id}   a tenant admin manages the tenant's providers
//   GET  /v1/saml/{tenant_slug}/metadata                                 the tenant's SAML SP metadata (public)
//   POST /v1/saml/{tenant_slug}/acs                                      SAML HTTP-POST binding: the IdP's Response
//   GET  /v1/federation/oidc/callback                                    an OpenID provider's authorization response
// The browser then goes to /v1/oauth/federated (src/oauth), where its sign-in continues. The policy is the services'.
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { asTesseraError } from '../errors.js';
import { authenticate, requireTenantScope, SCOPE_ADMIN, tenantOf } from '../http/auth.js';
import { bearerSecurity as security, ErrorBody, Pagination } from '../http/schemas.js';
import type { TokenService } from '../keys/tokens.js';
import { renderError } from '../oauth/pages.js';
import type { TenancyService } from '../tenancy/service.js';
import type { IdentityProviderService } from './providers.js';
import { NewProviderBody, ProviderList, ProviderParams, ProviderPatchBody, ProviderView } from './schemas.js';
import type { FederationService } from './service.js';

export interface FederationRouteDeps {
  providers: IdentityProviderService;
  federation: FederationService;
  tenancy: TenancyService;
  tokens: TokenService;
}

const tags = ['Identity providers'];
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

/** Where the browser goes on with a verified sign-in: the hosted pages, which check it is the one that started. */
const continueAt = (ticket: string) => `/v1/oauth/federated?ticket=${encodeURIComponent(ticket)}`;

export function registerFederationRoutes(root: FastifyInstance, { providers, federation, tenancy, tokens }: FederationRouteDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const admin = [authenticate(tokens), requireTenantScope(SCOPE_ADMIN)];
  const slugOf = async (request: FastifyRequest) => (await tenancy.tenant(request.em, tenantOf(request)))?.slug ?? '';
  const actorOf = (request: FastifyRequest) => request.principal!.subject;

  app.post(
    '/v1/platform/identity-providers',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Add an identity provider',
        description:
          'A SAML 2.0 IdP (`metadata_xml`, or `entity_id`, `sso_url` and `certificates`; `allow_idp_initiated`) or an OpenID provider (`issuer`, `client_id`, ' +
          '`client_secret`, `scopes`), with `name`, `email_domains` (home-realm discovery), `role_mapping` and `enabled`. The client secret is stored sealed ' +
          'and never answered. The answer names what to give the IdP: `redirect_uri` (OIDC), or `sp_entity_id`, `acs_url` and `sp_metadata_url` (SAML).',
        security,
        body: NewProviderBody,
        response: { 201: ProviderView, ...errors },
      },
    },
    async (request, reply) => {
      const provider = await providers.create(request.em, tenantOf(request), actorOf(request), request.body);
      return reply.code(201).send(providers.view(provider, await slugOf(request)));
    },
  );

  app.get(
    '/v1/platform/identity-providers',
    { preHandler: admin, schema: { tags, summary: "The tenant's identity providers", security, querystring: Pagination, response: { 200: ProviderList, ...errors } } },
    async (request) => {
      const page = await providers.list(request.em, request.query.limit, request.query.cursor);
      const slug = await slugOf(request);
      return { identity_providers: page.items.map((p) => providers.view(p, slug)), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/platform/identity-providers/:id',
    { preHandler: admin, schema: { tags, summary: 'One identity provider', security, params: ProviderParams, response: { 200: ProviderView, ...errors } } },
    async (request) => providers.view(await providers.get(request.em, request.params.id), await slugOf(request)),
  );

  app.patch(
    '/v1/platform/identity-providers/:id',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Change an identity provider',
        description: 'Only the fields named change (the protocol never does); `client_secret` replaces the secret; `metadata_xml` replaces the entity id, SSO URL and certificates.',
        security,
        params: ProviderParams,
        body: ProviderPatchBody,
        response: { 200: ProviderView, ...errors },
      },
    },
    async (request) => providers.view(await providers.update(request.em, tenantOf(request), actorOf(request), request.params.id, request.body), await slugOf(request)),
  );

  app.delete(
    '/v1/platform/identity-providers/:id',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Remove an identity provider',
        description: "Its users stay (they can no longer sign in through it). Refused (409) for the last enabled provider while federation_required is on.",
        security,
        params: ProviderParams,
        response: { 204: { type: 'null' }, ...errors },
      },
    },
    async (request, reply) => {
      await providers.remove(request.em, tenantOf(request), actorOf(request), request.params.id);
      return reply.code(204).send();
    },
  );

  /** A browser-facing refusal: a page, never JSON (the user came from an IdP's page). */
  const page = (request: FastifyRequest, reply: FastifyReply, error: unknown) => {
    const known = asTesseraError(error);
    if (known.status >= 500) request.log.error({ err: error }, 'federated sign-in failed');
    return renderError(reply, known.status, known.description);
  };

  root.get('/v1/saml/:tenant_slug/metadata', { schema: { hide: true } }, async (request, reply) => {
    const { tenant_slug: slug } = request.params as { tenant_slug: string };
    const xml = await federation.spMetadata(slug);
    return reply.type('application/samlmetadata+xml; charset=utf-8').header('cache-control', 'public, max-age=300').send(xml);
  });

  root.register(async (scope) => {
    // The HTTP-POST binding's form (SAML 2.0 bindings section 3.5); its fields are checked here, as a page answers them.
    await scope.register(formbody);
    scope.post('/v1/saml/:tenant_slug/acs', { schema: { hide: true }, config: { checksItsOwnInput: true } }, async (request, reply) => {
      const { tenant_slug: slug } = request.params as { tenant_slug: string };
      const body = (request.body ?? {}) as Record<string, unknown>;
      const field = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : undefined);
      try {
        const ticket = await federation.acs(slug, field('SAMLResponse'), field('RelayState'));
        return reply.header('cache-control', 'no-store').redirect(continueAt(ticket), 303);
      } catch (error) {
        return page(request, reply, error);
      }
    });
  });

  root.get('/v1/federation/oidc/callback', { schema: { hide: true }, config: { checksItsOwnInput: true } }, async (request, reply) => {
    try {
      const query = new URL(request.url, 'http://callback.invalid').searchParams;
      const ticket = await federation.oidcCallback(query);
      return reply.header('cache-control', 'no-store').redirect(continueAt(ticket), 303);
    } catch (error) {
      return page(request, reply, error);
    }
  });
}

