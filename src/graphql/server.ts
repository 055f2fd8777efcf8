// POST/GET /graphql: graphql-yoga on Fastify, serving only the persisted operations of the calling app's
// bundles, for the tenant named by X-Tenant-ID (which must be the token's), with introspection off,
// graphql-armor limits, no batching and masked errors. The ordinary calls of persisted operations are run by
// precompiled.ts before Yoga (validated and compiled once; Yoga's per-request pipeline costs more than the
// request itself); the checks, context, stats and error masking below are shared by both paths.
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { useGenericAuth } from '@envelop/generic-auth';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, NoSchemaIntrospectionCustomRule } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { MAX_TOKENS, type BundleRegistry, type RegisteredOperation } from '../bundles/service.js';
import { TENANT_FILTER } from '../db/orm.js';
import { TesseraError } from '../errors.js';
import { IncidentService } from '../incidents/service.js';
import type { Principal, TokenService } from '../keys/tokens.js';
import type { WebhookService } from '../webhooks/service.js';
import type { GraphQLContext } from './builder.js';
import { PrecompiledOperations, persistedOperationId } from './precompiled.js';
import { getSchema } from './schema.js';

interface Caller {
  principal: Principal;
  tenantId: string;
}

function graphqlError(message: string, code: string, status: number, headers?: Record<string, string>): GraphQLError {
  return new GraphQLError(message, { extensions: { code, http: { status, ...(headers ? { headers } : {}) } } });
}

/** The id from the params Yoga parsed; a GET `?documentId=` is read from the request URL. */
function extractOperationId(params: { extensions?: Record<string, unknown> } & Record<string, unknown>, request: Request): string | null {
  const documentId = typeof params.documentId === 'string' ? params.documentId : new URL(request.url).searchParams.get('documentId');
  return persistedOperationId({ ...params, documentId });
}

export function registerGraphQL(
  app: FastifyInstance,
  deps: { orm: MikroORM; tokens: TokenService; bundles: BundleRegistry; webhooks: WebhookService },
  /** precompiled: false serves everything through Yoga (the tests compare both paths). */
  options: { precompiled?: boolean } = {},
): void {
  const incidents = new IncidentService();
  const callers = new WeakMap<Request, Promise<Caller>>();
  const operations = new WeakMap<Request, RegisteredOperation>();

  /** The platform's token verifier; 401 without a valid token, 403 for another tenant (both paths). */
  const identify = async (authorization: string | null | undefined, tenantId: string | null | undefined): Promise<Caller> => {
    const match = /^Bearer +(\S+)$/i.exec(authorization ?? '');
    if (!match) throw graphqlError('an Authorization: Bearer token is required', 'UNAUTHENTICATED', 401, { 'www-authenticate': 'Bearer' });
    let principal: Principal;
    try {
      principal = await deps.tokens.verify(match[1]!);
    } catch (error) {
      const description = error instanceof TesseraError ? error.description : 'token is not valid';
      throw graphqlError(description, 'UNAUTHENTICATED', 401, { 'www-authenticate': `Bearer error="invalid_token", error_description="${description}"` });
    }
    if (!tenantId) throw graphqlError('the X-Tenant-ID header is required', 'FORBIDDEN', 403);
    if (tenantId !== principal.tenantId) throw graphqlError('the token is not valid for this X-Tenant-ID', 'FORBIDDEN', 403);
    return { principal, tenantId };
  };

  /** Once per Yoga request. */
  const authenticate = (request: Request): Promise<Caller> => {
    let caller = callers.get(request);
    if (!caller) {
      caller = identify(request.headers.get('authorization'), request.headers.get('x-tenant-id'));
      callers.set(request, caller);
    }
    return caller;
  };

  /** The operation if one of the app's bundles holds it; FORBIDDEN if the token lacks a scope it needs. */
  const operationFor = ({ principal }: Caller, operationId: string): RegisteredOperation | null => {
    const operation = deps.bundles.lookup(principal.clientId, operationId);
    if (!operation) return null;
    const missing = operation.requiredScopes.filter((s) => !principal.scopes.has(s));
    if (missing.length) throw graphqlError(`the token lacks the scopes this operation needs: ${missing.join(', ')}`, 'FORBIDDEN', 403);
    return operation;
  };

  /** A fork of the EntityManager per request, its tenant filter bound to X-Tenant-ID (DESIGN "Conventions" 8). */
  const contextFor = ({ principal, tenantId }: Caller): GraphQLContext => {
    const em = deps.orm.em.fork();
    em.setFilterParams(TENANT_FILTER, { tenantId });
    return { principal, tenantId, em, incidents, webhooks: deps.webhooks };
  };

  const recordCall = ({ principal, tenantId }: Caller, operation: RegisteredOperation, ms: number, failed: boolean) =>
    deps.bundles.recordCall(principal.clientId, tenantId, operation, ms, failed);

  /** Expected errors (GraphQLErrors, with their extensions.code) pass; anything else is logged and masked. */
  const maskError = (error: unknown, message: string): Error => {
    const original = (error as GraphQLError).originalError;
    if (error instanceof GraphQLError && (!original || original instanceof GraphQLError)) return error;
    app.log.error({ err: original ?? error }, 'GraphQL resolver failed');
    return new GraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  };

  /** Authentication comes first: no answer about operations to an unauthenticated caller. */
  const authenticateFirst: Plugin = {
    async onParams({ request }) {
      await authenticate(request);
    },
  };

  /** Scopes the operation needs are checked before execution, so no resolver writes on a refused call. */
  const operationScopesAndStats: Plugin<GraphQLContext & { request: Request }> = {
    onExecute({ args }) {
      const request = (args.contextValue as { request: Request }).request;
      const operation = operations.get(request);
      if (!operation) return;
      const caller = args.contextValue;
      const started = performance.now();
      return {
        onExecuteDone({ result }) {
          const failed = 'errors' in result && Array.isArray(result.errors) && result.errors.length > 0;
          recordCall(caller, operation, performance.now() - started, failed);
        },
      };
    },
  };

  const noIntrospection: Plugin = {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };

  /**
   * graphql-armor throws its rejections out of validation; here they become validation errors like any
   * other, so Yoga answers them as GraphQL over HTTP says: GRAPHQL_VALIDATION_FAILED, and 400 for
   * application/graphql-response+json (200 for legacy application/json clients).
   */
  const validationFailures: Plugin = {
    onValidate({ validateFn, setValidationFn }) {
      setValidationFn((...args: Parameters<typeof validateFn>) => {
        try {
          return validateFn(...args);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
      });
    },
  };

  const armor = new EnvelopArmor({
    maxDepth: { n: 8 },
    maxAliases: { n: 5 },
    maxDirectives: { n: 10 },
    maxTokens: { n: MAX_TOKENS },
    costLimit: { maxCost: 5000 },
    blockFieldSuggestion: { enabled: true },
  });

  const yoga = createYoga<{ req: FastifyRequest; reply: FastifyReply }, GraphQLContext>({
    schema: getSchema(),
    graphqlEndpoint: '/graphql',
    graphiql: false,
    landingPage: false,
    batching: false,
    extraParamNames: ['documentId'],
    logging: {
      debug: (...a) => app.log.debug(a),
      info: (...a) => app.log.info(a),
      warn: (...a) => app.log.warn(a),
      error: (...a) => app.log.error(a),
    },
    maskedErrors: { maskError: (error, message) => maskError(error, message) },
    plugins: [
      authenticateFirst,
      usePersistedOperations({
        extractPersistedOperationId: extractOperationId as never,
        async getPersistedOperation(key, request) {
          const operation = operationFor(await authenticate(request), key);
          if (!operation) return null;
          operations.set(request, operation);
          return operation.document;
        },
        customErrors: {
          persistedQueryOnly: {
            message: 'only persisted operations are accepted: send documentId (sha256:<hex>) or extensions.persistedQuery',
            extensions: { code: 'PERSISTED_QUERY_ONLY', http: { status: 400 } },
          },
          notFound: {
            message: 'the operation is not in the persisted operation list of this app',
            extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST', http: { status: 404 } },
          },
          keyNotFound: {
            message: 'a persisted operation id is required: send documentId (sha256:<hex>) or extensions.persistedQuery',
            extensions: { code: 'PERSISTED_QUERY_ID_REQUIRED', http: { status: 400 } },
          },
        },
      }),
      // The verifier's answer as the context's current user. Rejection already happened in
      // authenticateFirst, so 'resolve-only' spares a walk over every document on every request.
      useGenericAuth<Caller, GraphQLContext & { request: Request }>({
        mode: 'resolve-only',
        resolveUserFn: (context) => authenticate(context.request),
      }),
      noIntrospection,
      ...armor.protect().plugins,
      validationFailures,
      operationScopesAndStats,
    ],
    context: async ({ request }) => contextFor(await authenticate(request)),
  });

  const precompiled = options.precompiled === false ? null : new PrecompiledOperations(yoga as never, { identify, operationFor, context: contextFor, recordCall, maskError });
  // Compiled when the registry loads them (at start, and on every publish or assignment), not on first use.
  if (precompiled) {
    const stopPreparing = deps.bundles.onLoad((operations) => precompiled.prepare(operations));
    app.addHook('onClose', async () => stopPreparing());
  }

  app.route({
    url: '/graphql',
    method: ['GET', 'POST'],
    schema: {
      tags: ['GraphQL'],
      summary: 'The shared GraphQL transport (persisted operations only)',
      description:
        'Send `Authorization: Bearer <token>` and `X-Tenant-ID: <tenant-id>`, and an approved persisted operation: `{"documentId": "sha256:<hex>", "variables": {...}}` (or Apollo `extensions.persistedQuery`). Raw query text is refused (400 PERSISTED_QUERY_ONLY); an operation outside your bundles is 404 PERSISTED_QUERY_NOT_IN_LIST. Errors carry `extensions.code`.',
      security: [{ bearerAuth: [] }],
    },
    handler: async (req, reply) => {
      if (await precompiled?.serve(req, reply)) return reply;
      const response = await yoga.handleNodeRequestAndResponse(req, reply, { req, reply });
      response.headers.forEach((value, key) => void reply.header(key, value));
      reply.status(response.status);
      reply.send(response.body);
      return reply;
    },
  });
}
