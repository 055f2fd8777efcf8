// /v1/platform/tenant: the caller's own tenant, and its sign-in policy (README "MFA"), which a tenant admin sets
// through the tenancy service. The tenant is always the token's: another tenant's is never named here.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { InvalidRequest, NotFound } from '../errors.js';
import { authenticate, requireTenantScope, SCOPE_ADMIN, tenantOf } from '../http/auth.js';
import { ErrorBody } from '../http/schemas.js';
import type { TokenService } from '../keys/tokens.js';
import type { TenancyService } from '../tenancy/service.js';
import { SignInPolicyBody, TenantView } from './schemas.js';
import { tenantView } from './views.js';

export function registerTenantRoutes(root: FastifyInstance, { tenancy, tokens }: { tenancy: TenancyService; tokens: TokenService }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const admin = [authenticate(tokens), requireTenantScope(SCOPE_ADMIN)];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

  app.get('/v1/platform/tenant', { preHandler: admin, schema: { hide: true, response: { 200: TenantView, ...errors } } }, async (request) => {
    const tenant = await tenancy.tenant(request.em, tenantOf(request));
    if (!tenant) throw new NotFound('the tenant of this token no longer exists');
    return tenantView(tenant);
  });

  app.patch(
    '/v1/platform/tenant',
    { preHandler: admin, schema: { hide: true, body: SignInPolicyBody, response: { 200: TenantView, 409: ErrorBody, ...errors } } },
    async (request) => {
      const { mfa_required: mfaRequired, federation_required: federationRequired } = request.body;
      if (mfaRequired === undefined && federationRequired === undefined) throw InvalidRequest.field('body', 'must set mfa_required or federation_required');
      const tenant = await tenancy.setSignInPolicy(request.em, tenantOf(request), { mfaRequired, federationRequired }, request.principal!.subject);
      return tenantView(tenant);
    },
  );
}
