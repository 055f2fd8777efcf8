// What both paths of /graphql decide alike (Yoga's plugins, yoga.ts, and the precompiled path, precompiled.ts):
// who calls and for which tenant, which persisted operation they may run, the context resolvers get, the call
// statistics and the masking of our own faults.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import { GraphQLError } from 'graphql';
import { forTenant } from '../db/tenant.js';
import { Forbidden, graphqlError, GraphQLCode, TesseraError, toGraphQLError } from '../errors.js';
import { bearerToken } from '../http/auth.js';
import type { Principal, TokenService } from '../keys/tokens.js';
import type { GraphQLContext, GraphQLServices } from './builder.js';
import type { PersistedOperation, PersistedOperationSource } from './persisted.js';
import type { PersistedTransport } from './precompiled.js';

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
  return {
    identify: (authorization, tenantId) => identify(deps.tokens, authorization, tenantId),
    operationFor: (caller, operationId) => operationFor(deps.operations, caller, operationId),
    context: ({ principal, tenantId }): GraphQLContext => ({ ...deps.services, principal, tenantId, em: forTenant(deps.orm.em, tenantId) }),
    recordCall: ({ principal, tenantId }, operation, ms, failed) => deps.operations.recordCall(principal.clientId, tenantId, operation, ms, failed),
    maskError: (error, message) => maskError(log, error, message),
  };
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

/**
 * Expected errors pass: GraphQLErrors with their extensions.code, and Tessera's own errors in the one mapping
 * (src/errors.ts); anything else is logged and masked.
 */
function maskError(log: FastifyBaseLogger, error: unknown, message: string): Error {
  const original = (error as GraphQLError).originalError;
  if (error instanceof GraphQLError && (!original || original instanceof GraphQLError)) return error;
  if (error instanceof GraphQLError && original instanceof TesseraError && original.status < 500) return toGraphQLError(original, error);
  log.error({ err: original ?? error }, 'GraphQL resolver failed');
  return graphqlError(message, GraphQLCode.internal);
}
