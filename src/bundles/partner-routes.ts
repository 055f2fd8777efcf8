// Partner self-service (the app's own token, or its tenant admin's): the operations an app may run, with their ids in
// both hash forms, the scopes each needs and the deprecation of the version it holds them through, the manifests a
// client build takes, the part of the schema they reach (partial-schema.ts) for codegen and editors, and the app's
// calls per hour (stats.ts). A partner no longer needs an operator to send ids by hand, and still never sees the rest
// of the schema.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { print, type GraphQLSchema } from 'graphql';
import { NotFound } from '../errors.js';
import { authenticate, requireTenant, SCOPE_ADMIN } from '../http/auth.js';
import { isoSeconds } from '../http/pagination.js';
import { bearerSecurity as security, errorResponses as errors, Nullable, stringEnum, Timestamp } from '../http/schemas.js';
import { sha256 } from '../ids.js';
import type { TokenService } from '../keys/tokens.js';
import type { ClientDirectory } from '../platform/clients.js';
import { codegenId } from './files.js';
import { partialSdl } from './partial-schema.js';
import type { BundleRegistry } from './registry.js';
import { clientManifests, type BundleReleases } from './releases.js';
import { MAX_ACTIVITY_DAYS, type OperationStats } from './stats.js';

export interface PartnerRouteDeps {
  registry: BundleRegistry;
  releases: BundleReleases;
  stats: OperationStats;
  clients: ClientDirectory;
  tokens: TokenService;
  schema: GraphQLSchema;
}

const tags = ['Operations'];
const ClientParams = Type.Object({ client_id: Type.String({ maxLength: 100 }) });

const OperationView = Type.Object({
  id: Type.String({ description: 'GraphQL over HTTP documentId: sha256 of the printed document' }),
  codegen_id: Type.String({ description: "The id graphql-codegen's client preset (persistedDocuments, sha256) computes for the same document" }),
  name: Type.String(),
  type: stringEnum(['query', 'mutation'] as const),
  required_scopes: Type.Array(Type.String(), { description: 'Scopes the token must carry for the operation to run' }),
  bundle: Type.String(),
  version: Type.String({ description: 'The bundle version the app holds the operation through' }),
  deprecated: Type.Boolean(),
  deprecated_at: Nullable(Type.String({ format: 'date-time' })),
  document: Type.String(),
});

const OperationsView = Type.Object({
  client_id: Type.String(),
  sandbox: Type.Boolean({ description: 'The app belongs to a sandbox tenant: these operations serve its sample data' }),
  bundles: Type.Array(
    Type.Object({
      bundle: Type.String(),
      track: Type.String({ description: '`latest` (follows the newest version) or a pinned version' }),
      version: Nullable(Type.String()),
      status: Nullable(Type.String()),
    }),
  ),
  operations: Type.Array(OperationView),
  manifests: Type.Object({
    apollo: Type.Object({}, { additionalProperties: true, description: 'Apollo persisted-query manifest (generatePersistedQueryManifest format)' }),
    documentIds: Type.Record(Type.String(), Type.String()),
    codegenDocumentIds: Type.Record(Type.String(), Type.String()),
  }),
});

const CallCounts = {
  calls: Type.Integer(),
  errors: Type.Integer({ description: 'Calls that answered with errors (executed: refusals before execution are not calls)' }),
  mean_latency_ms: Type.Number({ description: 'Mean execution time' }),
};

const ActivityQuery = Type.Object(
  { days: Type.Integer({ minimum: 1, maximum: MAX_ACTIVITY_DAYS, default: 7, description: 'Whole days of hours, ending with the current hour' }) },
  { additionalProperties: false },
);

const GraphqlActivityView = Type.Object({
  client_id: Type.String(),
  since: Type.String({ format: 'date-time', description: 'The start of the first hour of the window (UTC)' }),
  until: Timestamp,
  ...CallCounts,
  hours: Type.Array(Type.Object({ hour: Timestamp, ...CallCounts }), { description: 'Each hour (UTC) with at least one call, oldest first' }),
  operations: Type.Array(
    Type.Object({ operation_id: Type.String({ description: 'sha256:<hex>, as in the operation list' }), operation_name: Type.String(), ...CallCounts }),
    { description: 'Each operation called in the window, most called first' },
  ),
});

export function registerPartnerRoutes(root: FastifyInstance, { registry, releases, stats, clients, tokens, schema }: PartnerRouteDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const preHandler = [authenticate(tokens), requireTenant];

  /** The app itself, or an admin of its tenant; anyone else gets the 404 an unknown app gets. */
  const visibleApp = async (request: FastifyRequest, clientId: string) => {
    const principal = request.principal!;
    const record = await clients.find(clientId);
    const own = record && principal.clientId === clientId && principal.tenantId === record.app.tenantId;
    const admin = record && principal.scopes.has(SCOPE_ADMIN) && principal.tenantId === record.app.tenantId;
    if (!own && !admin) throw new NotFound(`no app with client_id ${clientId}`);
    return record!.app;
  };

  app.get(
    '/v1/platform/apps/:client_id/operations',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: "The app's persisted operations",
        description: 'Every operation the app may run, with its ids, the scopes it needs and the deprecation of its bundle version, and the manifests a client build takes.',
        params: ClientParams,
        response: { 200: OperationsView, ...errors },
      },
    },
    async (request) => {
      const target = await visibleApp(request, request.params.client_id);
      const held = registry.heldBy(target.id);
      const versions = await releases.versionsById(held.map((h) => h.holding.versionId));
      const operations = held
        .map(({ operation, holding }) => {
          const version = versions.get(holding.versionId)!;
          return {
            id: operation.id,
            aliasId: codegenId(operation.document),
            name: operation.name,
            type: operation.type,
            required_scopes: operation.requiredScopes,
            bundle: version.bundle,
            version: version.version,
            deprecated: holding.deprecatedAt !== null,
            deprecated_at: holding.deprecatedAt?.toISOString() ?? null,
            document: print(operation.document),
          };
        })
        .sort((a, b) => a.bundle.localeCompare(b.bundle) || a.name.localeCompare(b.name));
      return {
        client_id: target.id,
        // The caller is the app or its tenant's admin: the token's sandbox claim is the tenant's.
        sandbox: request.principal!.sandbox,
        bundles: (await releases.appBundles(target.id)).map(({ bundle, track, version, status }) => ({ bundle, track, version, status })),
        operations: operations.map(({ aliasId, ...o }) => ({ ...o, id: `sha256:${o.id}`, codegen_id: `sha256:${aliasId}` })),
        manifests: clientManifests(operations),
      };
    },
  );

  app.get(
    '/v1/platform/apps/:client_id/operations/schema',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: 'The part of the schema the app\'s operations reach',
        description: 'GraphQL SDL of only the types, fields, arguments and enums the app\'s operations use, with their descriptions: for codegen and editors. Cached by ETag.',
        params: ClientParams,
        response: { 200: Type.String({ description: 'GraphQL SDL' }), 304: { type: 'null', description: 'Not modified' }, ...errors },
      },
    },
    async (request, reply) => {
      const target = await visibleApp(request, request.params.client_id);
      const sdl = partialSdl(schema, registry.heldBy(target.id).map((h) => h.operation.document));
      return sendCached(request, reply, sdl);
    },
  );

  app.get(
    '/v1/platform/apps/:client_id/activity/graphql',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: "The app's GraphQL calls per hour",
        description:
          'Calls, errors and mean latency of the app\'s persisted operations over the last `days` days: per hour (UTC), per operation and in all. ' +
          'Counted by every server process and written every 5 s: the last seconds of other processes may not be in yet.',
        params: ClientParams,
        querystring: ActivityQuery,
        response: { 200: GraphqlActivityView, ...errors },
      },
    },
    async (request) => {
      const target = await visibleApp(request, request.params.client_id);
      const activity = await stats.activity(target.id, target.tenantId, request.query.days);
      return {
        client_id: target.id,
        since: isoSeconds(activity.since),
        until: isoSeconds(activity.until),
        calls: activity.calls,
        errors: activity.errors,
        mean_latency_ms: activity.mean_latency_ms,
        hours: activity.hours.map(({ hour, ...counts }) => ({ hour: isoSeconds(hour), ...counts })),
        operations: activity.operations.map(({ operation_id, ...rest }) => ({ operation_id: `sha256:${operation_id}`, ...rest })),
      };
    },
  );
}

/** The SDL with a strong ETag (its SHA-256): an unchanged schema is a 304 to a client that has it. */
function sendCached(request: FastifyRequest, reply: FastifyReply, sdl: string) {
  const etag = `"${sha256(sdl)}"`;
  reply.header('etag', etag).header('cache-control', 'private, no-cache');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  return reply.type('text/plain; charset=utf-8').send(sdl);
}
