// Operator REST under /api/v1/platform/: bundles and versions, their deprecation and retirement with the use each
// version still has, assignments to apps (the channel or a pinned version) and who holds a bundle, operation usage.
// Kept out of the public OpenAPI document (the contract withholds /api/v1/platform/* from integrators).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { NotFound } from '../errors.js';
import { authenticate, requireScope, SCOPE_ADMIN, SCOPE_OPERATOR } from '../http/auth.js';
import { Pagination } from '../http/schemas.js';
import type { TokenService } from '../keys/tokens.js';
import type { ClientDirectory } from '../platform/clients.js';
import type { BundleVersion } from './entities.js';
import { LATEST } from './entities.js';
import { assertBundleName } from './files.js';
import { RetirementRefused, type BundleReleases } from './releases.js';
import { assertVersion } from './versions.js';
import type { OperationStats } from './stats.js';

const ClientParams = Type.Object({ client_id: Type.String({ maxLength: 100 }) });
const BundleParams = Type.Object({ bundle: Type.String({ maxLength: 100 }) });
const VersionParams = Type.Object({ bundle: Type.String({ maxLength: 100 }), version: Type.String({ maxLength: 40 }) });
/** A pinned version; absent, the channel (`latest`). */
const TrackQuery = Type.Object({ version: Type.Optional(Type.String({ maxLength: 40 })) }, { additionalProperties: false });

export interface BundleRouteDeps {
  releases: BundleReleases;
  stats: OperationStats;
  clients: ClientDirectory;
  tokens: TokenService;
}

export function registerBundleRoutes(root: FastifyInstance, { releases, stats, clients, tokens }: BundleRouteDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const operator = [authenticate(tokens), requireScope(SCOPE_OPERATOR)];
  const hide = { hide: true };

  /** Any tenant's app for the operator; for a tenant admin only the tenant's own (another's is a 404). */
  const appFor = async (request: FastifyRequest, clientId: string) => {
    const record = await clients.find(clientId);
    const principal = request.principal!;
    const visible = record && (principal.scopes.has(SCOPE_OPERATOR) || (principal.scopes.has(SCOPE_ADMIN) && principal.tenantId === record.app.tenantId));
    if (!visible) throw new NotFound(`no app with client_id ${clientId}`);
    return record.app;
  };

  app.get('/api/v1/platform/bundles', { preHandler: operator, schema: hide }, async () => ({ bundles: await releases.listBundles() }));

  app.get(
    '/api/v1/platform/bundles/:bundle',
    { preHandler: operator, schema: { ...hide, params: BundleParams, querystring: Type.Object({ version: Type.Optional(Type.String({ maxLength: 40 })) }) } },
    async (request) => {
      const { version, operations } = await releases.bundleVersion(assertBundleName(request.params.bundle), request.query.version);
      return {
        name: version.bundle,
        version: version.version,
        description: version.description,
        status: version.status,
        deprecated_at: version.deprecatedAt?.toISOString() ?? null,
        retired_at: version.retiredAt?.toISOString() ?? null,
        published_at: version.publishedAt.toISOString(),
        published_by: version.publishedBy,
        operations: operations.map((o) => ({
          id: o.operationId,
          name: o.operationName,
          type: o.operationType,
          required_scopes: o.requiredScopes,
          document: o.document,
        })),
      };
    },
  );

  /** Which apps hold the bundle, on which track, with their tenants (README "Console": an operator's assignments). */
  app.get(
    '/api/v1/platform/bundles/:bundle/assignments',
    { preHandler: operator, schema: { ...hide, params: BundleParams, querystring: Pagination } },
    async (request) => {
      const bundle = assertBundleName(request.params.bundle);
      const page = await releases.assignments(bundle, request.query.limit, request.query.cursor);
      return { bundle, assignments: page.items, next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/api/v1/platform/bundles/:bundle/manifest',
    { preHandler: operator, schema: { ...hide, params: BundleParams, querystring: Type.Object({ version: Type.Optional(Type.String({ maxLength: 40 })) }) } },
    async (request) => releases.manifest(assertBundleName(request.params.bundle), request.query.version),
  );

  app.get(
    '/api/v1/platform/apps/:client_id/bundles',
    {
      preHandler: [authenticate(tokens), requireScope(SCOPE_OPERATOR, SCOPE_ADMIN)],
      schema: { ...hide, params: ClientParams },
    },
    async (request) => {
      const target = await appFor(request, request.params.client_id);
      return { client_id: target.id, bundles: await releases.appBundles(target.id) };
    },
  );

  app.post(
    '/api/v1/platform/apps/:client_id/bundles',
    {
      preHandler: operator,
      schema: {
        ...hide,
        params: ClientParams,
        body: Type.Object({ bundle: Type.String({ maxLength: 100 }), version: Type.Optional(Type.String({ maxLength: 40 })) }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const target = await appFor(request, request.params.client_id);
      const bundle = assertBundleName(request.body.bundle);
      const { assigned } = await releases.assign(target, bundle, request.principal!.subject, trackOf(request.body.version, 'body.version'));
      return reply.code(assigned ? 201 : 200).send({ client_id: target.id, bundles: await releases.appBundles(target.id) });
    },
  );

  app.delete(
    '/api/v1/platform/apps/:client_id/bundles/:bundle',
    { preHandler: operator, schema: { ...hide, params: Type.Composite([ClientParams, BundleParams]), querystring: TrackQuery } },
    async (request, reply) => {
      const target = await appFor(request, request.params.client_id);
      await releases.unassign(target, assertBundleName(request.params.bundle), request.principal!.subject, trackOf(request.query.version, 'query.version'));
      return reply.code(204).send();
    },
  );

  const versionOf = (params: { bundle: string; version: string }) => ({ bundle: assertBundleName(params.bundle), version: assertVersion(params.version, 'params.version') });

  app.post('/api/v1/platform/bundles/:bundle/versions/:version/deprecate', { preHandler: operator, schema: { ...hide, params: VersionParams } }, async (request) => {
    const { bundle, version } = versionOf(request.params);
    return versionView(await releases.deprecate(bundle, version, request.principal!.subject));
  });

  app.post(
    '/api/v1/platform/bundles/:bundle/versions/:version/retire',
    {
      preHandler: operator,
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: { ...hide, params: VersionParams, body: Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false }) },
    },
    async (request, reply) => {
      const { bundle, version } = versionOf(request.params);
      try {
        return versionView(await releases.retire(bundle, version, request.principal!.subject, { force: request.body?.force }));
      } catch (error) {
        // The refusal lists the apps that still use the version, for a console to show.
        if (error instanceof RetirementRefused) return reply.code(409).send({ error: error.code, error_description: error.description, recent_use: error.recent });
        throw error;
      }
    },
  );

  app.get('/api/v1/platform/bundles/:bundle/versions/:version/usage', { preHandler: operator, schema: { ...hide, params: VersionParams } }, async (request) => {
    const { bundle, version } = versionOf(request.params);
    return releases.usage(bundle, version);
  });

  app.get(
    '/api/v1/platform/operation-stats',
    { preHandler: operator, schema: { ...hide, querystring: Type.Object({ client_id: Type.Optional(Type.String({ maxLength: 100 })) }) } },
    async (request) => ({ stats: await stats.list(request.query.client_id) }),
  );
}

/** A version given in a body or query string; absent, the channel. */
function trackOf(version: string | undefined, field: string): string {
  return version === undefined ? LATEST : assertVersion(version, field);
}

function versionView(v: BundleVersion) {
  return {
    bundle: v.bundle,
    version: v.version,
    status: v.status,
    published_at: v.publishedAt.toISOString(),
    deprecated_at: v.deprecatedAt?.toISOString() ?? null,
    retired_at: v.retiredAt?.toISOString() ?? null,
  };
}
