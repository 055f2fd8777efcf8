// The audit log: every admin action, written in the same transaction as the change it records, and read back
// by the tenant's admins, newest first. Platform-wide actions (no tenant) go to a table of their own.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../clock.js';
import { afterCursor, decodeCursor, toPage, type Page } from '../http/pagination.js';
import { newId } from '../ids.js';
import { AuditEvent, PlatformAuditEvent } from './entities.js';

export type { AuditEvent } from './entities.js';

export interface AuditEntry {
  /** Null for a platform-wide action, such as a signing key rotation or a bundle publication. */
  tenantId: string | null;
  /** Who acted: a user id, an app's client id, `operator` or `system`. */
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  details?: Record<string, unknown>;
}

export interface AuditQuery {
  limit: number;
  cursor?: string;
  action?: string;
  targetId?: string;
}

export class AuditService {
  constructor(private readonly clock: Clock) {}

  /** Adds the entry to `em`'s unit of work: it is written with the change, or not at all. */
  record(em: EntityManager, { tenantId, ...entry }: AuditEntry): void {
    const row = { id: newId('aud'), ...entry, details: entry.details ?? {}, createdAt: new Date(this.clock.now()) };
    if (tenantId === null) em.create(PlatformAuditEvent, row);
    else em.create(AuditEvent, { ...row, tenantId });
  }

  /** The events `em`'s tenant may read, newest first. */
  async list(em: EntityManager, query: AuditQuery): Promise<Page<AuditEvent>> {
    const where = {
      ...afterCursor(decodeCursor(query.cursor), 'desc'),
      ...(query.action ? { action: query.action } : {}),
      ...(query.targetId ? { targetId: query.targetId } : {}),
    };
    const rows = await em.find(AuditEvent, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: query.limit + 1 });
    return toPage(rows, query.limit);
  }
}
