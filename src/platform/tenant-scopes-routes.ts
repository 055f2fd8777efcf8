// GET/PUT/DELETE /api/v1/platform/tenants/{tenant_id}/scopes: which published scopes an operator lets a tenant use
// (README "Scopes per tenant"). Operator only, and out of the public OpenAPI document, like the rest of
// /api/v1/platform/*.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { NotFound } from '../errors.js';
import { authenticate, requireScope, SCOPE_OPERATOR } from '../http/auth.js';
import type { TokenService } from '../keys/tokens.js';
import type { TenancyService } from '../tenancy/service.js';
import type { TenantScopeChoice } from './scopes.js';
import { TenantParams, TenantScopesBody, TenantScopesView } from './schemas.js';
import type { PlatformService } from './service.js';

export interface TenantScopeRouteDeps {
  platform: PlatformService;
  tenancy: TenancyService;
  tokens: TokenService;
}

function view(tenantId: string, choice: TenantScopeChoice) {
  return { tenant_id: tenantId, scopes: choice.scopes.map((s) => s.name), restricted: choice.restricted };
}

export function registerTenantScopeRoutes(root: FastifyInstance, { platform, tenancy, tokens }: TenantScopeRouteDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const operator = [authenticate(tokens), requireScope(SCOPE_OPERATOR)];
  const schema = { hide: true, params: TenantParams, response: { 200: TenantScopesView } };

  const tenantOf = async (request: FastifyRequest) => {
    const { tenant_id: id } = request.params as { tenant_id: string };
    const tenant = await tenancy.tenant(request.em, id);
    if (!tenant) throw new NotFound(`no tenant ${id}`);
    return tenant.id;
  };

  app.get('/api/v1/platform/tenants/:tenant_id/scopes', { preHandler: operator, schema }, async (request) => {
    const tenantId = await tenantOf(request);
    return view(tenantId, await platform.scopes.availableTo(tenantId));
  });

  app.put('/api/v1/platform/tenants/:tenant_id/scopes', { preHandler: operator, schema: { ...schema, body: TenantScopesBody } }, async (request) => {
    const tenantId = await tenantOf(request);
    return view(tenantId, await platform.chooseTenantScopes(request.em, tenantId, request.body.scopes, request.principal!.subject));
  });

  /** Back to the default: every published scope, those published later too. */
  app.delete('/api/v1/platform/tenants/:tenant_id/scopes', { preHandler: operator, schema }, async (request) => {
    const tenantId = await tenantOf(request);
    return view(tenantId, await platform.chooseTenantScopes(request.em, tenantId, null, request.principal!.subject));
  });
}
