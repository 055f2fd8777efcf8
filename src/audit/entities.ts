import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** An admin action in one tenant, read back by that tenant's admins. */
export const AuditEvent = defineEntity({
  name: 'AuditEvent',
  tableName: 'audit_events',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    actor: p.string(),
    action: p.string(),
    targetType: p.string(),
    targetId: p.string(),
    details: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
  },
});
export type AuditEvent = InferEntity<typeof AuditEvent>;

/**
 * A platform-wide action, in no tenant: a signing key rotation, a bundle publication. Kept apart from the tenants'
 * events so that those have a tenant in every row and key (README "Scaling past one PostgreSQL").
 */
export const PlatformAuditEvent = defineEntity({
  name: 'PlatformAuditEvent',
  tableName: 'platform_audit_events',
  properties: {
    id: p.string().primary(),
    actor: p.string(),
    action: p.string(),
    targetType: p.string(),
    targetId: p.string(),
    details: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
  },
});
export type PlatformAuditEvent = InferEntity<typeof PlatformAuditEvent>;
