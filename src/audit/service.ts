// The audit log: every admin action, written in the same transaction as the change it records.
import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from '../ids.js';
import { AuditEvent } from './entities.js';

export interface AuditEntry {
  tenantId: string | null;
  /** Who acted: a user id, an app's client id, `operator` or `system`. */
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  details?: Record<string, unknown>;
}

export function recordAudit(em: EntityManager, entry: AuditEntry): AuditEvent {
  return em.create(AuditEvent, {
    id: newId('aud'),
    tenantId: entry.tenantId,
    actor: entry.actor,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId,
    details: entry.details ?? {},
    createdAt: new Date(),
  });
}
