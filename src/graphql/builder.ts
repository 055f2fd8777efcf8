// The Pothos schema builder: code-first types over the domain services, field-level scopes
// (scope-auth) and Relay connections. Every feature adds its types next to its own code.
import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { EntityManager } from '@mikro-orm/postgresql';
import { GraphQLError, Kind } from 'graphql';
import type { IncidentService } from '../incidents/service.js';
import type { Principal } from '../keys/tokens.js';
import type { WebhookService } from '../webhooks/service.js';

export interface GraphQLContext {
  principal: Principal;
  tenantId: string;
  /** Tenant-filtered: every query sees only the X-Tenant-ID tenant's rows. */
  em: EntityManager;
  incidents: IncidentService;
  webhooks: WebhookService;
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
    unauthorizedError: (_parent, _context, info) =>
      new GraphQLError(`the token lacks the scope needed for ${info.parentType.name}.${info.fieldName}`, { extensions: { code: 'FORBIDDEN', http: { status: 403 } } }),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    // No global `node` lookups: a partner reaches only the fields its bundles name.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});

builder.scalarType('DateTime', {
  description: 'ISO 8601 UTC timestamp',
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string', { extensions: { code: 'BAD_USER_INPUT' } });
    return date;
  },
  parseLiteral: (node) => {
    const date = node.kind === Kind.STRING ? new Date(node.value) : null;
    if (!date || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string', { extensions: { code: 'BAD_USER_INPUT' } });
    return date;
  },
});

builder.queryType({});
builder.mutationType({});

export const UserErrorType = builder
  .objectRef<{ field: string; code: string; message: string }>('UserError')
  .implement({
    description: 'Invalid input, named by field: the mutation did not change anything',
    fields: (t) => ({
      field: t.exposeString('field'),
      code: t.exposeString('code'),
      message: t.exposeString('message'),
    }),
  });
