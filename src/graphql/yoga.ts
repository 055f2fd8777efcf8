// graphql-yoga for /graphql: only the persisted operations of the calling app's bundles, for the tenant named by
// X-Tenant-ID (which must be the token's), with introspection off, graphql-armor limits, no batching and masked
// errors. It answers every request the precompiled path leaves to it, refusals and edge cases included.
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { useGenericAuth } from '@envelop/generic-auth';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { graphqlError, GraphQLCode } from '../errors.js';
import { firstUnstorableText, TEXT_PROBLEM } from '../http/input.js';
import type { GraphQLContext } from './builder.js';
import { MAX_TOKENS, persistedOperationId, type PersistedOperation } from './persisted.js';
import type { PersistedTransport } from './precompiled.js';
import type { Caller } from './transport.js';

export type TesseraYoga = YogaServerInstance<{ req: FastifyRequest; reply: FastifyReply }, GraphQLContext>;

/** Per Yoga request: the caller, identified once, and the persisted operation it named. */
class RequestState {
  private readonly callers = new WeakMap<Request, Promise<Caller>>();
  readonly operations = new WeakMap<Request, PersistedOperation>();

  constructor(private readonly transport: PersistedTransport<Caller>) {}

  caller(request: Request): Promise<Caller> {
    let caller = this.callers.get(request);
    if (!caller) {
      caller = this.transport.identify(request.headers.get('authorization'), request.headers.get('x-tenant-id'));
      this.callers.set(request, caller);
    }
    return caller;
  }
}

/** The id from the params Yoga parsed; a GET `?documentId=` is read from the request URL. */
function extractOperationId(params: { extensions?: Record<string, unknown> } & Record<string, unknown>, request: Request): string | null {
  const documentId = typeof params.documentId === 'string' ? params.documentId : new URL(request.url).searchParams.get('documentId');
  return persistedOperationId({ ...params, documentId });
}

/** Authentication comes first: no answer about operations to an unauthenticated caller. */
function authenticateFirst(state: RequestState): Plugin {
  return {
    async onParams({ request }) {
      await state.caller(request);
    },
  };
}

/**
 * The contract's own request form, `{"query": "<approved GraphQL document>"}`: text that is one of the caller's
 * approved operations (transport.ts says which forms match) becomes a request for that operation, so the
 * registered document runs, never the text sent. Any other text goes on to persistedOnly, which refuses it as
 * raw query text (PERSISTED_QUERY_ONLY), with the same answer whatever the text is.
 */
function approvedQueryText(state: RequestState, transport: PersistedTransport<Caller>): Plugin {
  return {
    async onParams({ request, params, setParams }) {
      if (typeof params.query !== 'string' || persistedOperationId(params as { documentId?: unknown; extensions?: unknown }) !== null) return;
      if (new URL(request.url).searchParams.get('documentId')) return;
      const id = transport.approvedOperationId(await state.caller(request), params.query);
      if (id) setParams({ ...params, query: undefined, documentId: id } as typeof params);
    },
  };
}

function persistedOnly(state: RequestState, transport: PersistedTransport<Caller>): Plugin {
  return usePersistedOperations({
    extractPersistedOperationId: extractOperationId as never,
    async getPersistedOperation(key, request) {
      const operation = transport.operationFor(await state.caller(request), key);
      if (!operation) return null;
      state.operations.set(request, operation);
      return operation.document;
    },
    customErrors: {
      persistedQueryOnly: {
        message: 'only persisted operations are accepted: send documentId (sha256:<hex>) or extensions.persistedQuery',
        extensions: { code: GraphQLCode.persistedQueryOnly, http: { status: 400 } },
      },
      notFound: {
        message: 'the operation is not in the persisted operation list of this app',
        extensions: { code: GraphQLCode.persistedQueryNotInList, http: { status: 404 } },
      },
      keyNotFound: {
        message: 'a persisted operation id is required: send documentId (sha256:<hex>) or extensions.persistedQuery',
        extensions: { code: GraphQLCode.persistedQueryIdRequired, http: { status: 400 } },
      },
    },
  });
}

/** Counts each executed persisted operation for its app (calls, errors, latency), and logs its faults. */
function operationStats(state: RequestState, transport: PersistedTransport<Caller>): Plugin<GraphQLContext & { request: Request }> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const context = args.contextValue as GraphQLContext & { request: Request };
      const operation = state.operations.get(context.request);
      if (!operation) return;
      setExecuteFn((executeArgs) => transport.traced(context, operation, async () => (await executeFn(executeArgs)) as ExecutionResult));
      const started = performance.now();
      return {
        onExecuteDone({ result }) {
          const failed = 'errors' in result && Array.isArray(result.errors) && result.errors.length > 0;
          transport.recordCall(context, operation, performance.now() - started, failed);
          if (failed) transport.logFaults(context.log, (result as { errors: unknown[] }).errors);
        },
      };
    },
  };
}

/** An answer to an operation the app holds only through a deprecated bundle version says so (precompiled.ts alike). */
function deprecationHeader(state: RequestState, transport: PersistedTransport<Caller>): Plugin {
  return {
    async onResponse({ request, response }) {
      const operation = state.operations.get(request);
      if (!operation) return;
      const caller = await state.caller(request).catch(() => null);
      const deprecation = caller && transport.deprecation(caller, operation);
      if (deprecation) response.headers.set('deprecation', deprecation);
    },
  };
}

/** A request error (GraphQL over HTTP: 400), raised before anything runs. */
const badRequest = (message: string) => graphqlError(message, GraphQLCode.badUserInput, { status: 400 });

function isJsonObject(text: string): boolean {
  try {
    const value = JSON.parse(text);
    return value === null || (typeof value === 'object' && !Array.isArray(value));
  } catch {
    return false;
  }
}

/** GET's `variables` and `extensions` are JSON objects in the query string; anything else is the caller's mistake. */
const getParamsAreJson: Plugin = {
  onRequestParse({ request, url }) {
    if (request.method !== 'GET') return;
    for (const name of ['variables', 'extensions']) {
      const raw = url.searchParams.get(name);
      if (raw && !isJsonObject(raw)) throw badRequest(`${name} must be a JSON object`);
    }
  },
};

/** Variables PostgreSQL could not store are refused before anything runs (http/input.ts checks REST alike). */
const storableVariables: Plugin = {
  onParams({ params }) {
    const found = firstUnstorableText(params.variables, 'variables');
    if (found) throw badRequest(`${found} ${TEXT_PROBLEM}`);
  },
};

const noIntrospection: Plugin = {
  onValidate({ addValidationRule }) {
    addValidationRule(NoSchemaIntrospectionCustomRule);
  },
};

/**
 * graphql-armor throws its rejections out of validation; here they become validation errors like any other, so
 * Yoga answers them as GraphQL over HTTP says: GRAPHQL_VALIDATION_FAILED, and 400 for
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

export function createTesseraYoga(schema: GraphQLSchema, transport: PersistedTransport<Caller>, log: FastifyBaseLogger): TesseraYoga {
  const state = new RequestState(transport);
  return createYoga<{ req: FastifyRequest; reply: FastifyReply }, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: false,
    landingPage: false,
    batching: false,
    extraParamNames: ['documentId'],
    logging: {
      debug: (...a) => log.debug(a),
      info: (...a) => log.info(a),
      warn: (...a) => log.warn(a),
      error: (...a) => log.error(a),
    },
    maskedErrors: { maskError: (error, message) => transport.maskError(error, message) },
    plugins: [
      getParamsAreJson,
      authenticateFirst(state),
      storableVariables,
      approvedQueryText(state, transport),
      persistedOnly(state, transport),
      // The verifier's answer as the context's current user. Rejection already happened in authenticateFirst,
      // so 'resolve-only' spares a walk over every document on every request.
      useGenericAuth<Caller, GraphQLContext & { request: Request }>({ mode: 'resolve-only', resolveUserFn: (context) => state.caller(context.request) }),
      noIntrospection,
      ...armor.protect().plugins,
      validationFailures,
      operationStats(state, transport),
      deprecationHeader(state, transport),
    ],
    context: async ({ request, req }) => transport.context(await state.caller(request), req.log),
  });
}
