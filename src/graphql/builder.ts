// The Pothos schema builder: code-first types over the domain services, field-level scopes (scope-auth) and Relay
// connections. Every feature adds its types next to its own code, and the services its resolvers use to
// GraphQLServices (declaration merging), so this file names no feature.
import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import { Kind } from 'graphql';
import { Forbidden, graphqlError, GraphQLCode, toGraphQLError, type UserError } from '../errors.js';
import type { Principal } from '../keys/tokens.js';

/** The services resolvers reach through the context; each feature adds the ones its resolvers use. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by declaration merging
export interface GraphQLServices {}

export interface GraphQLContext extends GraphQLServices {
  principal: Principal;
  tenantId: string;
  /** Tenant-filtered: every query sees only the X-Tenant-ID tenant's rows. */
  em: EntityManager;
  /** The request's logger (its lines carry the request id). */
  log: FastifyBaseLogger;
}

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  AuthScopes: { scope: string };
  Scalars: { DateTime: { Input: Date; Output: Date } };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (context) => ({ scope: (name: string) => context.principal.scopes.has(name) }),
    unauthorizedError: (_parent, _context, info) => toGraphQLError(new Forbidden(`the token lacks the scope needed for ${info.parentType.name}.${info.fieldName}`)),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    // No global `node` lookups: a partner reaches only the fields its bundles name.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});

/** A field argument the caller got wrong: BAD_USER_INPUT in a 200 answer (an error of that field). */
export function badUserInput(message: string) {
  return graphqlError(message, GraphQLCode.badUserInput);
}

function parseDateTime(value: unknown): Date {
  const date = typeof value === 'string' ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw badUserInput('DateTime must be an ISO 8601 string');
  return date;
}

builder.scalarType('DateTime', {
  description: 'ISO 8601 UTC timestamp',
  serialize: (value) => value.toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (node) => parseDateTime(node.kind === Kind.STRING ? node.value : null),
});

builder.queryType({});
builder.mutationType({});

export const UserErrorType = builder.objectRef<UserError>('UserError').implement({
  description: 'Invalid input, named by field: the mutation did not change anything',
  fields: (t) => ({
    field: t.exposeString('field'),
    code: t.exposeString('code'),
    message: t.exposeString('message'),
  }),
});
