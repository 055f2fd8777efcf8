// GET /api/v1/platform/tenants and GET /api/v1/platform/tenants/{tenant_id}: every tenant, for an operator (README
// "Console"): production tenants, sandboxes (with their term) and the operators' own tenant. The tenants are the
// tenancy's; this module serves the operator's /api/v1/platform/tenants/** (their scopes beside, in
// tenant-scopes-routes.ts) and adds what it owns itself, the apps, to the one tenant's view. Operator only, and out of
// the public OpenAPI document, like the rest of /api/v1/platform/*.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { NotFound } from '../errors.js';
import { authenticate, requireScope, SCOPE_OPERATOR } from '../http/auth.js';
import { isoSeconds } from '../http/pagination.js';
import { ErrorBody, NextCursor, Nullable, stringEnum, Timestamp } from '../http/schemas.js';
import type { TokenService } from '../keys/tokens.js';
import type { Tenant, TenancyService } from '../tenancy/service.js';
import { TenantParams } from './schemas.js';
import type { PlatformService } from './service.js';

const TenantListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
    sandbox: Type.Optional(Type.Boolean({ description: 'true: only sandboxes; false: only the other tenants' })),
  },
  { additionalProperties: false },
);

const OperatorTenantView = Type.Object({
  id: Type.String(),
  slug: Type.String(),
  name: Type.String(),
  sandbox: Type.Boolean(),
  operators: Type.Boolean({ description: "The operators' tenant: its users sign in to the console as operators" }),
  status: stringEnum(['active', 'expired'] as const, { description: '`expired`: a sandbox past its term (its tokens are refused)' }),
  parent_tenant_id: Nullable(Type.String()),
  created_at: Timestamp,
  expires_at: Nullable(Timestamp),
  disabled_at: Nullable(Timestamp),
});

const OperatorTenantDetail = Type.Composite([
  OperatorTenantView,
  Type.Object({
    mfa_required: Type.String(),
    federation_required: Type.Boolean(),
    app_count: Type.Integer({ description: 'Apps registered in the tenant (deleted ones left out)' }),
    user_count: Type.Integer(),
  }),
]);

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

export interface OperatorTenantRouteDeps {
  platform: PlatformService;
  tenancy: TenancyService;
  tokens: TokenService;
}

export function registerOperatorTenantRoutes(root: FastifyInstance, { platform, tenancy, tokens }: OperatorTenantRouteDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const operator = [authenticate(tokens), requireScope(SCOPE_OPERATOR)];

  /** A sandbox is expired from its term on (its tokens are refused then), whether or not the sweep has disabled it. */
  const view = (tenant: Tenant) => ({
    id: tenant.id,
    slug: tenant.slug,
    name: tenant.name,
    sandbox: tenant.sandbox,
    operators: tenant.operators,
    status: tenant.disabledAt || tenancy.hasExpired({ sandbox: tenant.sandbox, expiresAt: tenant.expiresAt?.getTime() ?? null }) ? ('expired' as const) : ('active' as const),
    parent_tenant_id: tenant.parentTenantId ?? null,
    created_at: isoSeconds(tenant.createdAt),
    expires_at: isoSeconds(tenant.expiresAt),
    disabled_at: isoSeconds(tenant.disabledAt),
  });

  app.get(
    '/api/v1/platform/tenants',
    { preHandler: operator, schema: { hide: true, querystring: TenantListQuery, response: { 200: Type.Object({ tenants: Type.Array(OperatorTenantView), next_cursor: NextCursor }), ...errors } } },
    async (request) => {
      const { limit, cursor, sandbox } = request.query;
      const page = await tenancy.listTenants(request.em, limit, cursor, sandbox);
      return { tenants: page.items.map(view), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/api/v1/platform/tenants/:tenant_id',
    { preHandler: operator, schema: { hide: true, params: TenantParams, response: { 200: OperatorTenantDetail, ...errors } } },
    async (request) => {
      const tenant = await tenancy.tenant(request.em, request.params.tenant_id);
      if (!tenant) throw new NotFound(`no tenant ${request.params.tenant_id}`);
      const [appCount, userCount] = await Promise.all([platform.countApps(request.em, tenant.id), tenancy.countUsers(request.em, tenant.id)]);
      return { ...view(tenant), mfa_required: tenant.mfaRequired, federation_required: tenant.federationRequired, app_count: appCount, user_count: userCount };
    },
  );
}
