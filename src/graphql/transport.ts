// What both paths of /graphql decide alike (Yoga's plugins, yoga.ts, and the precompiled path, precompiled.ts):
// who calls and for which tenant, which persisted operation they may run, the context resolvers get, the call
// statistics and the masking of our own faults.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import { GraphQLError, parse, print, type ExecutionResult } from 'graphql';
import { forTenant } from '../db/tenant.js';
import { asTesseraError, Forbidden, graphqlError, GraphQLCode, TesseraError, toGraphQLError } from '../errors.js';
import { bearerToken } from '../http/auth.js';
import { sha256 } from '../ids.js';
import type { Principal, TokenService } from '../keys/tokens.js';
import type { GraphQLContext, GraphQLServices } from './builder.js';
import { MAX_TOKENS, type PersistedOperation, type PersistedOperationSource } from './persisted.js';
import type { PersistedTransport } from './precompiled.js';
import { noteCaller } from '../observability/log.js';
import { SpanStatusCode, trace } from '@opentelemetry/api';

export interface Caller {
  principal: Principal;
  tenantId: string;
}

export interface TransportDeps {
  orm: MikroORM;
  tokens: TokenService;
  operations: PersistedOperationSource;
  services: GraphQLServices;
}

export function createTransport(deps: TransportDeps, log: FastifyBaseLogger): PersistedTransport<Caller> {
  /** Faults already logged with their request's id: masking does not log them again. */
  const logged = new WeakSet<object>();
  return {
    identify: (authorization, tenantId) => identify(deps.tokens, authorization, tenantId),
    operationFor: (caller, operationId) => operationFor(deps.operations, caller, operationId),
    approvedOperationId: (caller, text) => approvedOperationId(deps.operations, caller, text),
    context({ principal, tenantId }, requestLog): GraphQLContext {
      noteCaller(requestLog, principal);
      return { ...deps.services, principal, tenantId, em: forTenant(deps.orm.em, tenantId), log: requestLog };
    },
    recordCall: ({ principal, tenantId }, operation, ms, failed) => deps.operations.recordCall(principal.clientId, tenantId, operation, ms, failed),
    deprecation({ principal }, operation) {
      const since = deps.operations.deprecatedAt(principal.clientId, operation.id);
      return since ? `@${Math.floor(since.getTime() / 1000)}` : null;
    },
    traced: (caller, operation, run) => tracedOperation(caller, operation, run),
    logFaults(requestLog, errors) {
      for (const error of errors ?? []) {
        const found = faultOf(error);
        if (found && !logged.has(found.fault)) {
          logged.add(found.fault);
          requestLog[found.level]({ err: found.fault }, 'GraphQL resolver failed');
        }
      }
    },
    maskError(error, message) {
      const found = faultOf(error);
      if (found && !logged.has(found.fault)) log[found.level]({ err: found.fault }, 'GraphQL request failed');
      return found?.masked ? graphqlError(message, GraphQLCode.internal) : expected(error);
    },
  };
}

const tracer = trace.getTracer('tessera');

/**
 * The operation's span, named as OpenTelemetry's GraphQL conventions say (`<type> <name>`), active while it runs so
 * that its SQL statements, and the events its changes write (webhooks/outbox.ts), are its children. Its variables
 * are never recorded: they carry the tenant's data.
 */
function tracedOperation<T extends ExecutionResult>({ principal, tenantId }: Caller, operation: PersistedOperation, run: () => Promise<T>): Promise<T> {
  const attributes = {
    'graphql.operation.name': operation.name,
    'graphql.operation.type': operation.type,
    'graphql.document.id': `sha256:${operation.id}`,
    'tessera.client_id': principal.clientId,
    'tessera.tenant_id': tenantId,
  };
  return tracer.startActiveSpan(`${operation.type} ${operation.name}`, { attributes }, async (span) => {
    try {
      const result = await run();
      if (result.errors?.length) span.setStatus({ code: SpanStatusCode.ERROR, message: `${result.errors.length} error(s)` });
      return result;
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Query text that is one of the caller's approved operations, as Apollo's safelisting matches it: the SHA-256 of
 * the text as sent, or of graphql's print of it (parsed under the same token limit as requests), is an id or an
 * alias the app holds. Null for any other text, whether or not it is an operation elsewhere.
 */
function approvedOperationId(operations: PersistedOperationSource, { principal }: Caller, text: string): string | null {
  const asSent = sha256(text);
  if (operations.lookup(principal.clientId, asSent)) return asSent;
  let printed: string;
  try {
    printed = print(parse(text, { maxTokens: MAX_TOKENS }));
  } catch {
    return null;
  }
  const id = sha256(printed);
  return operations.lookup(principal.clientId, id) ? id : null;
}

/** The cause of an error if it is a fault of ours (not a GraphQLError, nor a refusal Tessera decided); else null. */
/**
 * A failure for the operator's log, at the level REST logs it (src/errors.ts): a fault of ours (masked, error), or
 * the database not answering (answered as it is, warn). Null for a client's mistake.
 */
function faultOf(error: unknown): { fault: object; level: 'error' | 'warn'; masked: boolean } | null {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (!original || original instanceof GraphQLError) return null;
  const known = asTesseraError(original);
  if (known.status < 500) return null;
  return { fault: original as object, level: known.status === 503 ? 'warn' : 'error', masked: known.code === 'server_error' };
}

/**
 * An expected error as it is answered: a GraphQLError with its extensions.code as it is, a Tessera error (the
 * database not answering included) through the one mapping of src/errors.ts.
 */
function expected(error: unknown): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (!original || original instanceof GraphQLError) return error as Error;
  return toGraphQLError(asTesseraError(original), error instanceof GraphQLError ? error : undefined);
}

/** The platform's token verifier; 401 without a valid token, 403 without the token's own tenant in X-Tenant-ID. */
async function identify(tokens: TokenService, authorization: string | null | undefined, tenantId: string | null | undefined): Promise<Caller> {
  try {
    const principal = await tokens.verify(bearerToken(authorization));
    if (!tenantId) throw new Forbidden('the X-Tenant-ID header is required');
    if (tenantId !== principal.tenantId) throw new Forbidden('the token is not valid for this X-Tenant-ID');
    return { principal, tenantId };
  } catch (error) {
    throw error instanceof TesseraError ? toGraphQLError(error) : error;
  }
}

/** The operation if one of the app's bundles holds it; FORBIDDEN if the token lacks a scope it needs. */
function operationFor(operations: PersistedOperationSource, { principal }: Caller, operationId: string): PersistedOperation | null {
  const operation = operations.lookup(principal.clientId, operationId);
  if (!operation) return null;
  const missing = operation.requiredScopes.filter((s) => !principal.scopes.has(s));
  if (missing.length) throw toGraphQLError(new Forbidden(`the token lacks the scopes this operation needs: ${missing.join(', ')}`));
  return operation;
}
