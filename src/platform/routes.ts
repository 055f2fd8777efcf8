// /v1/platform/*, every route of it: the file of each group below holds its handlers.
//   GET  /v1/platform/scopes                                   apps-routes.ts
//   POST /v1/platform/apps, GET /v1/platform/apps[/{id}]        apps-routes.ts
//   PATCH/DELETE /v1/platform/apps/{id}, POST .../suspend,
//   POST .../resume, DELETE .../secrets/previous               apps-routes.ts
//   PATCH .../apps/{id}/governance, POST .../rotate-secret      apps-routes.ts
//   POST .../apps/{id}/service-token, GET .../service-tokens,
//   DELETE .../service-tokens/{token_id}                        apps-routes.ts
//   POST/GET /v1/platform/users, GET /v1/platform/users/{id},
//   DELETE .../users/{id}/mfa                                   users-routes.ts (the tenancy service)
//   GET/PATCH /v1/platform/tenant (its sign-in policy)          tenant-routes.ts (the tenancy service)
//   GET  /v1/platform/audit-events                              audit-routes.ts (the audit service)
//   GET/PUT/DELETE /api/v1/platform/tenants/{id}/scopes        tenant-scopes-routes.ts (operators)
//   GET /api/v1/platform/tenants[/{id}]                        operator-tenant-routes.ts (operators; the tenancy service)
//   GET /api/v1/platform/keys, POST .../keys/rotate            keys-routes.ts (operators; the keyring of the core)
// /v1/platform/integration-requests/** is the requests module's (src/requests/routes.ts), which owns the requests.
// The tenant always comes from the token, but for the operator's routes, which name it.
import type { FastifyInstance } from 'fastify';
import type { AuditService } from '../audit/service.js';
import type { Keyring } from '../keys/keyring.js';
import type { TokenService } from '../keys/tokens.js';
import type { TenancyService } from '../tenancy/service.js';
import { registerAppRoutes } from './apps-routes.js';
import { registerAuditRoutes } from './audit-routes.js';
import { registerKeyRoutes } from './keys-routes.js';
import { registerOperatorTenantRoutes } from './operator-tenant-routes.js';
import type { AppStates } from './app-states.js';
import type { PlatformService } from './service.js';
import { registerTenantRoutes } from './tenant-routes.js';
import { registerTenantScopeRoutes } from './tenant-scopes-routes.js';
import { registerUserRoutes } from './users-routes.js';

export interface PlatformRouteDeps {
  platform: PlatformService;
  states: AppStates;
  tenancy: TenancyService;
  audit: AuditService;
  tokens: TokenService;
  keyring: Keyring;
}

export function registerPlatformRoutes(app: FastifyInstance, deps: PlatformRouteDeps): void {
  registerAppRoutes(app, deps);
  registerUserRoutes(app, deps);
  registerTenantRoutes(app, deps);
  registerAuditRoutes(app, deps);
  registerTenantScopeRoutes(app, deps);
  registerOperatorTenantRoutes(app, deps);
  registerKeyRoutes(app, deps);
}
