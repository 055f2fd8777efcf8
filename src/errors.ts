// The error model (DESIGN "Errors"): one class per protocol error code, each with a stable string code, and the
// one place that turns an error into an answer, whatever the transport: a REST body, an OAuth authorization
// error (a redirect or a page, RFC 6749 section 4.1.2.1) and a GraphQL error or user error. Third-party errors
// are turned into these at the boundary where they happen.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DriverException } from '@mikro-orm/core';
import { GraphQLError } from 'graphql';

export abstract class TesseraError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  /** Extra response headers, e.g. WWW-Authenticate or Retry-After. */
  headers: Record<string, string> = {};
  constructor(readonly description: string) {
    super(description);
  }

  /** When the caller may try again (RFC 9110 section 10.2.3), in whole seconds, at least one. */
  protected retryAfter(seconds: number): void {
    this.headers['retry-after'] = String(Math.max(1, Math.ceil(seconds)));
  }
}

/** An input field at fault: its path as a REST caller sent it (`body.url`, `query.cursor`) and what is wrong. */
export interface FieldProblem {
  path: string;
  problem: string;
}

export class InvalidRequest extends TesseraError {
  readonly code = 'invalid_request';
  readonly status = 400;
  constructor(
    description: string,
    /** The field at fault, when the request names one (GraphQL answers it as a user error of that field). */
    readonly field?: FieldProblem,
  ) {
    super(description);
  }

  /** `body.url must use https`: the field's path, then what is wrong with it. */
  static field(path: string, problem: string): InvalidRequest {
    return new InvalidRequest(`${path} ${problem}`, { path, problem });
  }
}

/** A scope that is unknown, unpublished or not approved for the app (RFC 6749 section 5.2 uses the same code). */
export class InvalidScope extends TesseraError {
  readonly code = 'invalid_scope';
  readonly status = 400;
}

/** RFC 6750 section 3.1: the token is missing, malformed, expired, revoked or not ours. */
export class Unauthorized extends TesseraError {
  readonly code = 'unauthorized';
  readonly status = 401;
  constructor(description: string, bearerError?: 'invalid_token' | 'invalid_request') {
    super(description);
    // A request without any credentials gets a bare challenge (RFC 6750 section 3.1, last paragraph).
    this.headers['www-authenticate'] = bearerError
      ? `Bearer error="${bearerError}", error_description="${description.replace(/"/g, "'")}"`
      : 'Bearer';
  }
}

export class Forbidden extends TesseraError {
  readonly code = 'forbidden';
  readonly status = 403;
  /** RFC 6750 section 3.1 insufficient_scope, naming the scope the route needs. */
  static missingScope(scope: string): Forbidden {
    const error = new Forbidden(`this action needs the scope ${scope}`);
    error.headers['www-authenticate'] = `Bearer error="insufficient_scope", scope="${scope}"`;
    return error;
  }
}

// OAuth 2 error codes (RFC 6749 sections 4.1.2.1 and 5.2), in the same body shape as every other error.

/** Client authentication failed: 401 with a Basic challenge (section 5.2), whichever method was tried. */
export class InvalidClient extends TesseraError {
  readonly code = 'invalid_client';
  readonly status = 401;
  constructor(description: string) {
    super(description);
    this.headers['www-authenticate'] = 'Basic realm="tessera", charset="UTF-8"';
  }
}

export class InvalidGrant extends TesseraError {
  readonly code = 'invalid_grant';
  readonly status = 400;
}

export class UnauthorizedClient extends TesseraError {
  readonly code = 'unauthorized_client';
  readonly status = 400;
}

export class UnsupportedGrantType extends TesseraError {
  readonly code = 'unsupported_grant_type';
  readonly status = 400;
}

export class UnsupportedResponseType extends TesseraError {
  readonly code = 'unsupported_response_type';
  readonly status = 400;
}

/** The resource owner (or the authorization server) denied the request (section 4.1.2.1). */
export class AccessDenied extends TesseraError {
  readonly code = 'access_denied';
  readonly status = 403;
}

// OpenID Connect authorization errors (OIDC Core section 3.1.2.6), only ever sent back to a verified redirect URI.

/** prompt=none, and the user would have to sign in (no session, or one older than max_age). */
export class LoginRequired extends TesseraError {
  readonly code = 'login_required';
  readonly status = 400;
}

/** prompt=none, and the user would have to consent (the scopes asked for were never allowed to this app). */
export class ConsentRequired extends TesseraError {
  readonly code = 'consent_required';
  readonly status = 400;
}

/** OIDC Core section 6: request objects are not supported (`request_parameter_supported: false`). */
export class RequestNotSupported extends TesseraError {
  readonly code = 'request_not_supported';
  readonly status = 400;
}

/** OIDC Core section 6: request objects by reference are not supported (`request_uri_parameter_supported: false`). */
export class RequestUriNotSupported extends TesseraError {
  readonly code = 'request_uri_not_supported';
  readonly status = 400;
}

export class NotFound extends TesseraError {
  readonly code = 'not_found';
  readonly status = 404;
}

export class Conflict extends TesseraError {
  readonly code = 'conflict';
  readonly status = 409;
}

export class RateLimited extends TesseraError {
  readonly code = 'rate_limited';
  readonly status = 429;
  constructor(description: string, retryAfterSeconds: number) {
    super(description);
    // RFC 6585 section 4.
    this.retryAfter(retryAfterSeconds);
  }
}

export class UnsupportedMediaType extends TesseraError {
  readonly code = 'unsupported_media_type';
  readonly status = 415;
}

/** The database did not answer in time, or not at all: the caller may retry (RFC 9110 section 15.6.4). */
export class TemporarilyUnavailable extends TesseraError {
  readonly code = 'temporarily_unavailable';
  readonly status = 503;
  constructor(description: string, retryAfterSeconds: number) {
    super(description);
    this.retryAfter(retryAfterSeconds);
  }
}

/** A fault of ours: the answer says so and nothing more (the cause goes to the log only). */
export class ServerError extends TesseraError {
  readonly code = 'server_error';
  readonly status = 500;
  constructor() {
    super('an unexpected error occurred');
  }
}

// ------------------------------------------------------------------------------------------------ REST

export interface ErrorBody {
  error: string;
  error_description: string;
}

export interface RestAnswer {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

/** Turns Ajv's messages into one sentence naming the field, e.g. "body.redirect_uris[0] must match format uri". */
function describeValidation(error: FastifyError): string {
  const context = error.validationContext ?? 'request';
  const parts = (error.validation ?? []).map((v) => {
    const path = `${context}${v.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')}`;
    const params = v.params as Record<string, unknown>;
    if (v.keyword === 'additionalProperties') return `${path} has unknown field '${params.additionalProperty}'`;
    if (v.keyword === 'required') return `${path}.${params.missingProperty} is required`;
    if (v.keyword === 'enum') return `${path} must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
    return `${path} ${v.message}`;
  });
  return parts.length ? parts.join('; ') : error.message;
}

/** Any error as a Tessera error: ours as they are, Fastify's own 4xx explained, anything else a ServerError. */
export function asTesseraError(error: unknown, request?: FastifyRequest): TesseraError {
  if (error instanceof TesseraError) return error;
  if (databaseUnavailable(error)) return new TemporarilyUnavailable('the database is not answering; retry in a few seconds', DATABASE_RETRY_AFTER_SECONDS);
  const fastifyError = error as FastifyError | undefined;
  if (fastifyError?.validation) return new InvalidRequest(describeValidation(fastifyError));
  if (fastifyError?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new UnsupportedMediaType(`Unsupported Media Type: ${request?.headers['content-type']?.split(';')[0]?.trim() || 'none'}`);
  }
  if (fastifyError?.code === 'FST_ERR_BAD_URL') return new InvalidRequest(`the URL is not valid: '${request?.url ?? ''}' does not decode`);
  // Fastify's own 4xx (malformed JSON, body too large) are safe to explain.
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return new FrameworkRefusal(status, fastifyError!.message);
  return new ServerError();
}

/** A 4xx that Fastify decided before any handler ran. */
class FrameworkRefusal extends TesseraError {
  readonly code: string;
  constructor(
    readonly status: number,
    description: string,
  ) {
    super(description);
    this.code = status === 415 ? 'unsupported_media_type' : status === 413 ? 'payload_too_large' : 'invalid_request';
  }
}

export function restAnswer(error: unknown, request?: FastifyRequest): RestAnswer {
  const known = asTesseraError(error, request);
  return { status: known.status, body: { error: known.code, error_description: known.description }, headers: known.headers };
}

/** A fault of ours is logged at error level, with the request id and without SQL text or row values. */
function answer(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const rest = restAnswer(error, request);
  if (rest.status >= 500) request.log[rest.status === 503 ? 'warn' : 'error']({ err: error }, 'request failed');
  return reply.code(rest.status).headers(rest.headers).send(rest.body);
}

/** Fastify's option for the errors it answers before routing (a URL that does not decode). */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  answer(request, reply, error);
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => answer(request, reply, error));
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', error_description: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
}

// ------------------------------------------------------------------------------------------------ faults of ours

const DATABASE_RETRY_AFTER_SECONDS = 5;

/** SQLSTATE classes and codes of a database that cannot answer now (PostgreSQL appendix A). */
const UNAVAILABLE_SQLSTATE = /^(08|57P0[123]|53300|57014)/;
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);
const UNAVAILABLE_MESSAGES = /Timeout acquiring a connection|Query read timeout|Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|canceling statement due to statement timeout|timeout expired/;

/**
 * Whether `error` says the database did not answer (a pool or statement timeout, a lost or refused connection),
 * as pg, knex and MikroORM report it (DESIGN "Conventions" 3: converted at the boundary, here).
 */
export function databaseUnavailable(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const { code, sqlState, name, message, cause } = error as { code?: unknown; sqlState?: unknown; name?: unknown; message?: unknown; cause?: unknown };
  if (typeof sqlState === 'string' && UNAVAILABLE_SQLSTATE.test(sqlState)) return true;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || (/^[0-9A-Z]{5}$/.test(code) && UNAVAILABLE_SQLSTATE.test(code)))) return true;
  if (name === 'KnexTimeoutError' || name === 'ConnectionException') return true;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message)) return true;
  return cause !== undefined && cause !== error && databaseUnavailable(cause);
}

/** Whether `error` comes from the database driver: its message and stack quote the SQL and its values. */
function fromDatabase(error: object): boolean {
  const { name, sqlState, code, sql } = error as { name?: unknown; sqlState?: unknown; code?: unknown; sql?: unknown };
  return (
    error instanceof DriverException ||
    sqlState !== undefined ||
    sql !== undefined ||
    name === 'DatabaseError' ||
    (typeof name === 'string' && name.endsWith('Exception') && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code))
  );
}

/**
 * What the log may hold of an error (the logger's `err` serializer, src/app.ts): a database error's type and
 * SQLSTATE only (its message quotes the statement and the row values, tenant data included); any other error as
 * it is.
 */
export function loggable(error: unknown): unknown {
  if (!error || typeof error !== 'object' || !fromDatabase(error)) return error;
  const { name, code, sqlState } = error as { name?: unknown; code?: unknown; sqlState?: unknown };
  const state = sqlState ?? code;
  return { type: String(name), ...(typeof state === 'string' ? { code: state } : {}), message: 'a database statement failed (its text and values are not logged)', stack: '' };
}

// ------------------------------------------------------------------------------------------------ OAuth authorization errors

/**
 * The codes an authorization error may carry back to the client's redirect URI (RFC 6749 section 4.1.2.1, OIDC Core
 * section 3.1.2.6).
 * Any other error (a fault of ours included) goes back as server_error.
 */
const AUTHORIZATION_ERROR_CODES = new Set([
  'invalid_request',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'server_error',
  // OIDC Core section 3.1.2.6.
  'login_required',
  'consent_required',
  'request_not_supported',
  'request_uri_not_supported',
]);

/** The `error` and `error_description` an authorization response carries to a verified redirect URI. */
export function authorizationErrorParams(error: unknown): { error: string; error_description: string } {
  const known = asTesseraError(error);
  const sendable = AUTHORIZATION_ERROR_CODES.has(known.code) ? known : new ServerError();
  return { error: sendable.code, error_description: sendable.description };
}

// ------------------------------------------------------------------------------------------------ GraphQL

/** Every `extensions.code` Tessera's GraphQL answers carry (DESIGN "Errors" 2): this list and no other. */
export const GraphQLCode = {
  unauthenticated: 'UNAUTHENTICATED',
  forbidden: 'FORBIDDEN',
  badUserInput: 'BAD_USER_INPUT',
  notFound: 'NOT_FOUND',
  conflict: 'CONFLICT',
  rateLimited: 'RATE_LIMITED',
  unavailable: 'TEMPORARILY_UNAVAILABLE',
  internal: 'INTERNAL_SERVER_ERROR',
  persistedQueryOnly: 'PERSISTED_QUERY_ONLY',
  persistedQueryNotInList: 'PERSISTED_QUERY_NOT_IN_LIST',
  persistedQueryIdRequired: 'PERSISTED_QUERY_ID_REQUIRED',
} as const;
export type GraphQLCode = (typeof GraphQLCode)[keyof typeof GraphQLCode];

const GRAPHQL_CODE_OF: Record<string, GraphQLCode> = {
  invalid_request: GraphQLCode.badUserInput,
  invalid_scope: GraphQLCode.badUserInput,
  unauthorized: GraphQLCode.unauthenticated,
  forbidden: GraphQLCode.forbidden,
  access_denied: GraphQLCode.forbidden,
  not_found: GraphQLCode.notFound,
  conflict: GraphQLCode.conflict,
  rate_limited: GraphQLCode.rateLimited,
  temporarily_unavailable: GraphQLCode.unavailable,
};

/** A GraphQL error with its code and, for a refusal of the whole request, its HTTP status and headers. */
export function graphqlError(message: string, code: GraphQLCode, http?: { status: number; headers?: Record<string, string> }): GraphQLError {
  const headers = http?.headers && Object.keys(http.headers).length ? { headers: http.headers } : {};
  return new GraphQLError(message, { extensions: { code, ...(http ? { http: { status: http.status, ...headers } } : {}) } });
}

/**
 * A Tessera error as GraphQL answers it. Refusals of the caller (401, 403, 429) and a database that does not
 * answer (503) refuse the whole request and keep their HTTP status and headers; anything else is an error of the field that raised it, in a 200 answer
 * (GraphQL over HTTP), and a fault of ours is masked. `at`: the error graphql-js wrapped it in, whose location
 * and path the answer keeps.
 */
export function toGraphQLError(error: TesseraError, at?: GraphQLError): GraphQLError {
  const code = GRAPHQL_CODE_OF[error.code] ?? GraphQLCode.internal;
  const refusesRequest = error.status === 401 || error.status === 403 || error.status === 429 || error.status === 503;
  const mapped =
    code === GraphQLCode.internal
      ? graphqlError(new ServerError().description, code)
      : graphqlError(error.description, code, refusesRequest ? { status: error.status, headers: error.headers } : undefined);
  if (!at) return mapped;
  return new GraphQLError(mapped.message, { nodes: at.nodes, source: at.source, positions: at.positions, path: at.path, extensions: mapped.extensions });
}

/** A mistake in a mutation's input, answered in the mutation's `userErrors`: the mutation changed nothing. */
export interface UserError {
  field: string;
  code: string;
  message: string;
}

/** What a domain operation answers when the caller's input can be wrong in ways the caller should fix. */
export type Result<T> = { ok: true; value: T } | { ok: false; errors: UserError[] };

/** The transport's part of a field path (`body.url` is the field `url` of a GraphQL input). */
const TRANSPORT_PREFIX = /^(body|query|params)\./;

/**
 * A refusal of a mutation's input as the user error GraphQL answers for it, or null for an error of another
 * kind (a missing scope, a fault of ours), which stays a GraphQL error. `idField` names the argument that
 * identifies what was not found.
 */
export function userErrorOf(error: unknown, idField = 'id'): UserError | null {
  if (error instanceof InvalidRequest) {
    if (!error.field) return { field: 'input', code: 'INVALID', message: error.description };
    const field = error.field.path.replace(TRANSPORT_PREFIX, '');
    return { field, code: 'INVALID', message: `${field} ${error.field.problem}` };
  }
  if (error instanceof NotFound) return { field: idField, code: 'NOT_FOUND', message: error.description };
  if (error instanceof Conflict) return { field: 'input', code: 'CONFLICT', message: error.description };
  return null;
}
