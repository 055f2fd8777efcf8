// Operator REST under /api/v1/platform/sandboxes: make a sandbox tenant, list them. Out of the public OpenAPI
// document, like the rest of /api/v1/platform/* (the contract withholds it from integrators).
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { authenticate, requireScope, SCOPE_OPERATOR } from '../http/auth.js';
import { isoSeconds } from '../http/pagination.js';
import { ErrorBody, NextCursor, Nullable, Timestamp } from '../http/schemas.js';
import type { TokenService } from '../keys/tokens.js';
import { MAX_SANDBOX_TTL_DAYS, TENANT_SLUG } from '../tenancy/service.js';
import type { SandboxService, Tenant } from './service.js';

const NewSandboxBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
    slug: Type.Optional(Type.String({ maxLength: 63, pattern: TENANT_SLUG.source })),
    admin_email: Type.String({ minLength: 3, maxLength: 320 }),
    ttl_days: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SANDBOX_TTL_DAYS })),
  },
  { additionalProperties: false },
);

const SandboxQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
    parent_tenant_id: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const SandboxView = Type.Object({
  tenant_id: Type.String(),
  tenant_slug: Type.String(),
  name: Type.String(),
  sandbox: Type.Literal(true),
  status: Type.Union([Type.Literal('active'), Type.Literal('expired')]),
  parent_tenant_id: Nullable(Type.String()),
  created_at: Timestamp,
  expires_at: Timestamp,
  disabled_at: Nullable(Timestamp),
});

const CreatedSandbox = Type.Composite([
  SandboxView,
  Type.Object({
    admin_user_id: Type.String(),
    admin_email: Type.String(),
    admin_password: Type.String({ description: 'Generated, shown once' }),
    admin_access_token: Type.String(),
    sample_incidents: Type.Integer(),
  }),
]);

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody };

export function sandboxView(tenant: Tenant, status: 'active' | 'expired') {
  return {
    tenant_id: tenant.id,
    tenant_slug: tenant.slug,
    name: tenant.name,
    sandbox: true as const,
    status,
    parent_tenant_id: tenant.parentTenantId ?? null,
    created_at: isoSeconds(tenant.createdAt),
    expires_at: isoSeconds(tenant.expiresAt!),
    disabled_at: isoSeconds(tenant.disabledAt),
  };
}

export function registerSandboxRoutes(root: FastifyInstance, { sandboxes, tokens }: { sandboxes: SandboxService; tokens: TokenService }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const operator = [authenticate(tokens), requireScope(SCOPE_OPERATOR)];

  app.post('/api/v1/platform/sandboxes', { preHandler: operator, schema: { hide: true, body: NewSandboxBody, response: { 201: CreatedSandbox, ...errors } } }, async (request, reply) => {
    const { name, slug, admin_email: adminEmail, ttl_days: ttlDays } = request.body;
    const created = await sandboxes.create(request.em, { name, slug, adminEmail, ttlDays }, request.principal!.subject);
    const token = await sandboxes.adminToken(created.tenant.id, created.admin.id);
    return reply
      .code(201)
      .header('cache-control', 'no-store')
      .send({
        ...sandboxView(created.tenant, 'active'),
        admin_user_id: created.admin.id,
        admin_email: created.admin.email,
        admin_password: created.adminPassword,
        admin_access_token: token.token,
        sample_incidents: created.sampleIncidents,
      });
  });

  app.get('/api/v1/platform/sandboxes', { preHandler: operator, schema: { hide: true, querystring: SandboxQuery, response: { 200: Type.Object({ sandboxes: Type.Array(SandboxView), next_cursor: NextCursor }), ...errors } } }, async (request) => {
    const { limit, cursor, parent_tenant_id: parent } = request.query;
    const page = await sandboxes.list(request.em, limit, cursor, parent);
    return { sandboxes: page.items.map((t) => sandboxView(t, sandboxes.status(t))), next_cursor: page.nextCursor };
  });
}
