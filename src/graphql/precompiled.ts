// The served path of persisted operations: the documents a partner may run are a closed set known before any
// request (the bundles), so each is validated once, with the very validation Yoga runs per request (graphql's
// rules, no introspection, graphql-armor's limits), and compiled once with graphql-jit, when the registry loads
// it (server.ts subscribes with the operation source's onLoad). A request that names
// one of them, and that Yoga would answer with its regular JSON result, is executed here straight from the
// Fastify route; every other request (refusals, raw query text, anything unusual about the HTTP request)
// goes to Yoga, which stays the one owner of GraphQL over HTTP's refusals and edge cases.
//
// Why not everything through Yoga: measured on the bench (see the commit that added this file), Yoga's
// per-request pipeline (Request/Response objects, envelop hooks, parse and validation cache look-ups, params
// checks) costs more than the whole token check + SELECT of the baseline route, so it cannot reach 0.8x of it.
// What this path does is exactly what Yoga does for these requests, through the same functions: the caller,
// operation and scope checks and the context are transport.ts's; the result becomes a response through Yoga's
// own processRegularResult (status rules, media type, error extensions), and errors are masked by the same
// maskError. test/graphql-precompiled.test.ts compares both paths response for response.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { getOperationAST, getVariableValues, GraphQLError, type ExecutionResult, type GraphQLSchema, type Source } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { processRegularResult, type YogaServerInstance } from 'graphql-yoga';
import { firstUnstorableText } from '../http/input.js';
import type { GraphQLContext } from './builder.js';
import { persistedOperationId, type PersistedOperation } from './persisted.js';

/** What the served path shares with Yoga's plugins (transport.ts makes it), so that both decide alike. */
export interface PersistedTransport<Caller> {
  /** The caller, or a GraphQLError (401/403) that Yoga will answer. */
  identify(authorization: string | null | undefined, tenantId: string | null | undefined): Promise<Caller>;
  /** The operation if the caller's app holds it; throws FORBIDDEN when the token lacks its scopes. */
  operationFor(caller: Caller, operationId: string): PersistedOperation | null;
  /** The id of the caller's operation that query text is, if it is one (yoga.ts runs that operation instead). */
  approvedOperationId(caller: Caller, text: string): string | null;
  context(caller: Caller, log: FastifyBaseLogger): GraphQLContext;
  recordCall(caller: Caller, operation: PersistedOperation, ms: number, failed: boolean): void;
  /**
   * The `Deprecation` header (RFC 9745: `@<epoch seconds>`) of an answer to an operation the caller's app holds only
   * through a deprecated bundle version; null otherwise.
   */
  deprecation(caller: Caller, operation: PersistedOperation): string | null;
  /** Runs an operation inside its trace span (observability/tracing.ts): its name, type and caller, never its variables. */
  traced<T extends ExecutionResult>(caller: Caller, operation: PersistedOperation, run: () => Promise<T>): Promise<T>;
  /** Logs, with the request's logger (its id), the errors of a result that are faults of ours. */
  logFaults(log: FastifyBaseLogger, errors: readonly unknown[] | undefined): void;
  maskError(error: unknown, message: string): Error;
}

type RegularMediaType = 'application/json' | 'application/graphql-response+json';

/** A GraphQL-over-HTTP request that names a persisted operation, in a form Yoga would accept as it is. */
interface PersistedCall {
  method: 'GET' | 'POST';
  operationId: string;
  operationName: string | undefined;
  variables: Record<string, unknown> | undefined;
  mediaType: RegularMediaType;
}

/** Yoga's masked-errors default message (createYoga's maskedErrors.errorMessage). */
const MASKED_MESSAGE = 'Unexpected error.';

export class PrecompiledOperations<Caller> {
  /** Per registered operation: its compiled form, or null when Yoga must answer it (invalid, not compilable). */
  private readonly compiled = new WeakMap<PersistedOperation, Executable | null>();

  constructor(
    private readonly yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>,
    private readonly transport: PersistedTransport<Caller>,
  ) {}

  /** Answers the request and returns true, or returns false without touching the reply: then Yoga answers. */
  async serve(req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const call = persistedCall(req);
    if (!call) return false;
    const caller = await this.transport.identify(req.headers.authorization, header(req, 'x-tenant-id')).catch(() => null);
    if (!caller) return false;
    const operation = this.servedOperation(caller, call);
    if (!operation) return false;
    const compiled = this.compiledFor(operation);
    if (!compiled) return false;
    const result = await this.execute(caller, operation, compiled, call.variables, req.log);
    const deprecation = this.transport.deprecation(caller, operation);
    if (deprecation) reply.header('deprecation', deprecation);
    await this.respond(reply, result, call.mediaType);
    return true;
  }

  /**
   * Yoga's processRegularResult makes the response (status from the errors' http extensions, media type, the
   * errors without their internals). A result without errors is the one case answered without it, for its
   * cost (a fetch Response per request): Yoga's rules give it 200, the media type and the result as it is.
   */
  private async respond(reply: FastifyReply, result: ExecutionResult, mediaType: RegularMediaType): Promise<void> {
    if (!result.errors && !result.extensions) {
      reply.status(200).header('content-type', `${mediaType}; charset=utf-8`).send(JSON.stringify(result));
      return;
    }
    const response = (await processRegularResult(result, this.yoga.fetchAPI, mediaType)) as Response;
    response.headers.forEach((value, key) => void reply.header(key, value));
    reply.status(response.status);
    reply.send(await response.text());
  }

  /** Held by the caller's app, within the token's scopes, and runnable by this method under this name. */
  private servedOperation(caller: Caller, call: PersistedCall): PersistedOperation | null {
    let operation: PersistedOperation | null;
    try {
      operation = this.transport.operationFor(caller, call.operationId);
    } catch {
      return null;
    }
    if (!operation) return null;
    // Yoga answers 405 for a mutation over GET, and an error for an operationName the document lacks.
    if (call.method === 'GET' && operation.type !== 'query') return null;
    if (call.operationName !== undefined && call.operationName !== operation.name) return null;
    return operation;
  }

  /** Validates and compiles every operation the registry serves, ahead of the requests naming them. */
  prepare(operations: PersistedOperation[]): void {
    for (const operation of operations) this.compiledFor(operation);
  }

  /**
   * Validated through Yoga's own validate (every plugin's rules: graphql's, no introspection, armor's limits)
   * and compiled, once per registered operation. An invalid document, or one graphql-jit cannot compile, is
   * left to Yoga, which refuses or runs it as before.
   */
  private compiledFor(operation: PersistedOperation): Executable | null {
    let compiled = this.compiled.get(operation);
    if (compiled !== undefined) return compiled;
    try {
      const { validate, schema } = this.yoga.getEnveloped({});
      const definition = getOperationAST(operation.document, operation.name);
      const source = operation.document.loc?.source;
      const query = validate(schema, operation.document).length || !definition || !source ? null : compileQuery(schema, operation.document, operation.name);
      compiled = query && isCompiledQuery(query) ? { query, schema, variables: definition!.variableDefinitions ?? [], source: source! } : null;
    } catch {
      compiled = null;
    }
    this.compiled.set(operation, compiled);
    return compiled;
  }

  /** Executes, masks errors as Yoga does, and counts the call for the app (calls, errors, latency). */
  private async execute(caller: Caller, operation: PersistedOperation, compiled: Executable, variables: Record<string, unknown> | undefined, log: FastifyBaseLogger): Promise<ExecutionResult> {
    const started = performance.now();
    const result = await this.transport.traced(caller, operation, () => this.run(caller, compiled, variables ?? {}, log));
    const failed = Boolean(result.errors?.length);
    this.transport.recordCall(caller, operation, performance.now() - started, failed);
    if (!failed) return result;
    this.transport.logFaults(log, result.errors);
    return { errors: result.errors!.map((error) => this.transport.maskError(error, MASKED_MESSAGE) as GraphQLError), ...('data' in result ? { data: result.data } : {}) };
  }

  private async run(caller: Caller, compiled: Executable, variables: Record<string, unknown>, log: FastifyBaseLogger): Promise<ExecutionResult> {
    // The variables are checked by graphql's own coercion, for its exact messages and locations; the errors
    // found before execution are request errors (GraphQL over HTTP: 400), as Yoga's executor marks them.
    const coerced = getVariableValues(compiled.schema, compiled.variables, variables);
    if (coerced.errors) return { errors: coerced.errors.map(asRequestError) };
    const result = await compiled.query.query(undefined, this.transport.context(caller, log), variables);
    if (!result.errors?.length) return result;
    // graphql-jit's errors carry locations but not the nodes they come from: rebuilt on the document's source,
    // so they serialise as graphql's (Yoga rebuilds every error from nodes, source and positions).
    return { errors: result.errors.map((error) => located(error, compiled.source)), data: result.data };
  }
}

interface Executable {
  query: CompiledQuery;
  schema: GraphQLSchema;
  variables: NonNullable<ReturnType<typeof getOperationAST>>['variableDefinitions'] & object;
  source: Source;
}

function asRequestError(error: GraphQLError): GraphQLError {
  const http = { ...(error.extensions.http as object | undefined), status: 400 };
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: error.originalError, extensions: { ...error.extensions, http } });
}

function located(error: GraphQLError, source: Source): GraphQLError {
  const positions = error.locations?.map(({ line, column }) => offsetOf(source.body, line, column));
  return new GraphQLError(error.message, { source, positions, path: error.path, originalError: error.originalError ?? undefined, extensions: error.extensions });
}

/** The character offset of a 1-based line and column. */
function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) offset = text.indexOf('\n', offset) + 1;
  return offset + column - 1;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The request as GraphQL over HTTP params, when Yoga would take it as it is and answer it with a regular JSON
 * result; null for anything else (Yoga then answers it, refusals included).
 */
function persistedCall(req: FastifyRequest): PersistedCall | null {
  // A browser's cross-origin call gets Yoga's CORS headers; partners call server to server.
  if (req.headers.origin !== undefined) return null;
  const mediaType = regularMediaType(header(req, 'accept'));
  if (!mediaType) return null;
  const params = req.method === 'GET' ? getParams(req) : req.method === 'POST' ? postParams(req) : null;
  if (!params) return null;
  const operationId = persistedOperationId(params);
  if (!operationId) return null;
  return { method: req.method as 'GET' | 'POST', operationId, operationName: params.operationName as string | undefined, variables: params.variables as Record<string, unknown> | undefined, mediaType };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Yoga's own checks of the params (use-check-graphql-query-params) as they apply to a persisted operation (whose
 * params the persisted-operations plugin rewrites to these four before the check), minus the query text.
 */
function acceptableParams(params: Record<string, unknown>): Record<string, unknown> | null {
  if (params.query != null) return null;
  if (params.variables != null && !isPlainObject(params.variables)) return null;
  // Yoga refuses variables PostgreSQL could not store (yoga.ts, storableVariables).
  if (firstUnstorableText(params.variables, 'variables')) return null;
  if (params.extensions != null && !isPlainObject(params.extensions)) return null;
  if (params.operationName != null && typeof params.operationName !== 'string') return null;
  return { ...params, variables: params.variables ?? undefined, operationName: params.operationName ?? undefined };
}

function postParams(req: FastifyRequest): Record<string, unknown> | null {
  // Yoga's JSON request parser: the first content type of the header, exactly application/json.
  const contentType = header(req, 'content-type')?.split(',')[0];
  if (!contentType || !(contentType === 'application/json' || contentType.startsWith('application/json;'))) return null;
  return isPlainObject(req.body) ? acceptableParams(req.body) : null;
}

function getParams(req: FastifyRequest): Record<string, unknown> | null {
  const search = new URLSearchParams(req.url.slice(req.url.indexOf('?') + 1));
  try {
    // Yoga's GET parser: these four, empty meaning absent; and the documentId yoga.ts reads from the URL.
    return acceptableParams({
      query: search.get('query') || undefined,
      operationName: search.get('operationName') || undefined,
      variables: search.get('variables') ? JSON.parse(search.get('variables')!) : undefined,
      extensions: search.get('extensions') ? JSON.parse(search.get('extensions')!) : undefined,
      documentId: search.get('documentId') || undefined,
    });
  } catch {
    return null;
  }
}

/**
 * The media type Yoga's result processors pick for this Accept header, when it is one of the regular JSON
 * ones: Yoga reads the entries (utf-8 only, parameters other than charset ignored), and among the processors
 * tried in order (event stream, multipart, regular JSON) the regular one, tried last, wins whenever an entry
 * matches it; within it, the first entry that matches decides, `application/json` winning over
 * `application/graphql-response+json` for a wildcard. Null: no entry matches (Yoga answers 406).
 */
export function regularMediaType(accept: string | undefined): RegularMediaType | null {
  const entries = (accept || '*/*').replace(/\s/g, '').toLowerCase().split(',');
  for (const entry of entries) {
    const [mediaType, ...params] = entry.split(';');
    const charset = params.find((p) => p.includes('charset=')) ?? 'charset=utf-8';
    if (charset !== 'charset=utf-8' || mediaType === undefined) continue;
    if (matches(mediaType, 'application/json')) return 'application/json';
    if (matches(mediaType, 'application/graphql-response+json')) return 'application/graphql-response+json';
  }
  return null;
}

function matches(asked: string, offered: string): boolean {
  const [askedType, askedSubtype] = asked.split('/');
  const [type, subtype] = offered.split('/');
  return (askedType === '*' || askedType === type) && (askedSubtype === '*' || askedSubtype === subtype);
}
