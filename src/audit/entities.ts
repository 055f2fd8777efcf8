import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const AuditEvent = defineEntity({
  name: 'AuditEvent',
  tableName: 'audit_events',
  properties: {
    id: p.string().primary(),
    /** Null for platform-wide actions such as a signing key rotation. */
    tenantId: p.string().nullable(),
    actor: p.string(),
    action: p.string(),
    targetType: p.string(),
    targetId: p.string(),
    details: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
  },
});
export type AuditEvent = InferEntity<typeof AuditEvent>;
