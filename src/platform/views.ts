// How /v1/platform/* shows its records: snake_case fields and timestamps to the second, as the contract does.
import type { AuditEvent } from '../audit/service.js';
import { isoSeconds } from '../http/pagination.js';
import type { Tenant, User } from '../tenancy/service.js';
import { governanceOf, type App, type ServiceToken } from './service.js';

export function appView(app: App) {
  return {
    client_id: app.id,
    name: app.name,
    tenant_id: app.tenantId,
    grant_types: app.grantTypes,
    redirect_uris: app.redirectUris,
    post_logout_redirect_uris: app.postLogoutRedirectUris,
    requested_scopes: app.approvedScopes,
    token_endpoint_auth_method: app.tokenEndpointAuthMethod,
    governance: governanceOf(app),
    status: app.status as 'active' | 'suspended',
    suspended_at: isoSeconds(app.suspendedAt),
    suspended_reason: app.suspendedReason ?? null,
    created_at: isoSeconds(app.createdAt),
    updated_at: isoSeconds(app.updatedAt),
  };
}

export function serviceTokenView(token: ServiceToken, status: 'active' | 'revoked' | 'expired') {
  return {
    id: token.id,
    client_id: token.appId,
    scopes: token.scopes,
    status,
    created_by: token.createdBy,
    created_at: isoSeconds(token.createdAt),
    expires_at: isoSeconds(token.expiresAt),
    revoked_at: isoSeconds(token.revokedAt),
  };
}

export function userView(user: User, mfaEnabled: boolean) {
  return { id: user.id, email: user.email, roles: user.roles, mfa_enabled: mfaEnabled, created_at: isoSeconds(user.createdAt) };
}

export function tenantView(tenant: Tenant) {
  return {
    id: tenant.id,
    slug: tenant.slug,
    name: tenant.name,
    sandbox: tenant.sandbox,
    mfa_required: tenant.mfaRequired,
    federation_required: tenant.federationRequired,
  };
}

export function auditEventView(event: AuditEvent) {
  return {
    id: event.id,
    actor: event.actor,
    action: event.action,
    target_type: event.targetType,
    target_id: event.targetId,
    details: event.details,
    created_at: isoSeconds(event.createdAt),
  };
}
