// Incidents of a tenant. Every change writes its domain event to the outbox in the same transaction.
// The EntityManager handed in is tenant-filtered: queries here never name the tenant to stay inside it.
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { PreparedQuery } from '../db/prepared.js';
import { newId } from '../ids.js';
import { recordEvent, type EventType } from '../webhooks/outbox.js';
import { Incident, IncidentNote, type IncidentSeverity, type IncidentStatus } from './entities.js';

export interface UserError {
  field: string;
  code: string;
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; errors: UserError[] };

export interface IncidentFilter {
  status?: IncidentStatus | null;
  severity?: IncidentSeverity | null;
  updatedSince?: Date | null;
}

export interface IncidentChanges {
  title?: string | null;
  summary?: string | null;
  status?: IncidentStatus | null;
  severity?: IncidentSeverity | null;
  labels?: string[] | null;
}

const listQuery = new PreparedQuery<{ status?: IncidentStatus | null; severity?: IncidentSeverity | null; updatedSince?: Date | null; before?: number | null; limit: number }>(
  (em, q) => {
    const where: Record<string, unknown> = {};
    if (q.status) where.status = q.status;
    if (q.severity) where.severity = q.severity;
    if (q.updatedSince) where.updatedAt = { $gte: q.updatedSince };
    if (q.before !== undefined && q.before !== null) where.number = { $lt: q.before };
    return em.createQueryBuilder(Incident).select('*').where(where).orderBy({ number: 'desc' }).limit(q.limit);
  },
);

/** A row of incidents as the driver returns it. */
interface IncidentRow {
  id: string;
  tenant_id: string;
  number: number;
  title: string;
  summary: string;
  status: IncidentStatus;
  severity: IncidentSeverity;
  labels: string[] | string;
  created_at: Date | string;
  updated_at: Date | string;
  closed_at: Date | string | null;
}

function fromRow(row: IncidentRow): Incident {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    number: row.number,
    title: row.title,
    summary: row.summary,
    status: row.status,
    severity: row.severity,
    // Timestamps and JSON may arrive as text, depending on the driver's type parsers.
    labels: typeof row.labels === 'string' ? JSON.parse(row.labels) : row.labels,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    closedAt: row.closed_at === null ? null : new Date(row.closed_at),
  } as Incident;
}

const LABEL = /^[a-z0-9][a-z0-9:._-]{0,49}$/;

/** The event payload (`data`) of an incident, in the REST/webhook naming (snake_case). */
export function incidentPayload(incident: Incident): Record<string, unknown> {
  return {
    id: incident.id,
    number: incident.number,
    title: incident.title,
    summary: incident.summary,
    status: incident.status,
    severity: incident.severity,
    labels: incident.labels,
    created_at: incident.createdAt.toISOString(),
    updated_at: incident.updatedAt.toISOString(),
    closed_at: incident.closedAt?.toISOString() ?? null,
  };
}

function check(changes: IncidentChanges, creating: boolean): UserError[] {
  const errors: UserError[] = [];
  if (changes.title !== undefined && changes.title !== null) {
    const title = changes.title.trim();
    if (!title || title.length > 200) errors.push({ field: 'title', code: 'INVALID_LENGTH', message: 'title must be 1 to 200 characters' });
  } else if (creating || changes.title === null) {
    errors.push({ field: 'title', code: 'REQUIRED', message: 'title is required' });
  }
  if (changes.summary && changes.summary.length > 10_000) errors.push({ field: 'summary', code: 'INVALID_LENGTH', message: 'summary must be at most 10000 characters' });
  if (changes.labels) {
    if (changes.labels.length > 20) errors.push({ field: 'labels', code: 'TOO_MANY', message: 'at most 20 labels' });
    const bad = changes.labels.filter((l) => !LABEL.test(l));
    if (bad.length) errors.push({ field: 'labels', code: 'INVALID_FORMAT', message: `labels must be lowercase words (a-z 0-9 : . _ -): ${bad.join(', ')}` });
  }
  if (changes.status === 'CLOSED') errors.push({ field: 'status', code: 'USE_CLOSE_INCIDENT', message: 'close an incident with closeIncident' });
  return errors;
}

export class IncidentService {
  async get(em: EntityManager, id: string): Promise<Incident | null> {
    return em.findOne(Incident, { id });
  }

  async notes(em: EntityManager, incidentId: string): Promise<IncidentNote[]> {
    return em.find(IncidentNote, { incidentId }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  }

  /**
   * Newest first by number; `after` is the number of the last incident of the previous page. The hot read
   * path of partners: its SQL is written by the QueryBuilder, tenant filter applied by MikroORM, once per
   * combination of filters (db/prepared.ts), and rows come back as plain objects (no entities, no identity map).
   */
  async list(em: EntityManager, filter: IncidentFilter, first: number, afterNumber: number | null): Promise<{ items: Incident[]; hasNextPage: boolean }> {
    const rows = await listQuery.all<IncidentRow>(em, {
      status: filter.status,
      severity: filter.severity,
      updatedSince: filter.updatedSince,
      before: afterNumber,
      limit: first + 1,
    });
    return { items: rows.slice(0, first).map(fromRow), hasNextPage: rows.length > first };
  }

  /**
   * The incident, locked until the transaction ends (SELECT ... FOR UPDATE), as a plain row. The write
   * paths read and change one row, through the query builder with the tenant filter applied as
   * everywhere; no entity is hydrated and no change set computed, since the change is known here.
   */
  private async lock(tx: EntityManager, id: string): Promise<Incident | null> {
    const qb = tx.createQueryBuilder(Incident).select('*').where({ id }).setLockMode(LockMode.PESSIMISTIC_WRITE).limit(1);
    await qb.applyFilters();
    const row = (await qb.execute('get', false)) as unknown as IncidentRow | undefined;
    return row ? fromRow(row) : null;
  }

  /** Writes `fields` to the locked incident (and to the object the caller answers with). */
  private async save(tx: EntityManager, incident: Incident, fields: Partial<Incident>): Promise<void> {
    Object.assign(incident, fields);
    const qb = tx.createQueryBuilder(Incident).update(fields).where({ id: incident.id });
    await qb.applyFilters();
    await qb.execute();
  }

  private async nextNumber(em: EntityManager, tenantId: string): Promise<number> {
    const [row] = await em.execute(
      `insert into tenant_counters (tenant_id, name, value) values (?, 'incident', 1)
       on conflict (tenant_id, name) do update set value = tenant_counters.value + 1 returning value`,
      [tenantId],
    );
    return Number(row.value);
  }

  private async emit(em: EntityManager, incident: Incident, type: EventType, extra: Record<string, unknown> = {}): Promise<void> {
    await recordEvent(em, incident.tenantId, type, { incident: incidentPayload(incident), ...extra });
  }

  async create(em: EntityManager, tenantId: string, input: IncidentChanges & { title: string; severity: IncidentSeverity }): Promise<Result<Incident>> {
    const errors = check(input, true);
    if (errors.length) return { ok: false, errors };
    return em.transactional(async (tx) => {
      const now = new Date();
      const incident = tx.create(Incident, {
        id: newId('inc'),
        tenantId,
        number: await this.nextNumber(tx, tenantId),
        title: input.title.trim(),
        summary: input.summary ?? '',
        status: input.status ?? 'OPEN',
        severity: input.severity,
        labels: input.labels ?? [],
        createdAt: now,
        updatedAt: now,
        closedAt: null,
      });
      await this.emit(tx, incident, 'incident.created');
      return { ok: true as const, value: incident };
    });
  }

  async update(em: EntityManager, id: string, changes: IncidentChanges): Promise<Result<Incident>> {
    const errors = check(changes, false);
    if (errors.length) return { ok: false, errors };
    return em.transactional(async (tx) => {
      const incident = await this.lock(tx, id);
      if (!incident) return { ok: false as const, errors: [{ field: 'id', code: 'NOT_FOUND', message: `no incident ${id}` }] };
      if (incident.status === 'CLOSED') return { ok: false as const, errors: [{ field: 'id', code: 'INCIDENT_CLOSED', message: 'a closed incident cannot change' }] };
      const fields: Partial<Incident> = {};
      const apply = <K extends keyof IncidentChanges & keyof Incident>(key: K, value: Incident[K] | null | undefined) => {
        if (value === undefined || value === null) return;
        if (JSON.stringify(incident[key]) === JSON.stringify(value)) return;
        fields[key] = value;
      };
      apply('title', changes.title?.trim());
      apply('summary', changes.summary);
      apply('status', changes.status);
      apply('severity', changes.severity);
      apply('labels', changes.labels);
      const changed = Object.keys(fields);
      if (changed.length) {
        await this.save(tx, incident, { ...fields, updatedAt: new Date() });
        await this.emit(tx, incident, 'incident.updated', { changes: changed });
      }
      return { ok: true as const, value: incident };
    });
  }

  async close(em: EntityManager, id: string): Promise<Result<Incident>> {
    return em.transactional(async (tx) => {
      const incident = await this.lock(tx, id);
      if (!incident) return { ok: false as const, errors: [{ field: 'id', code: 'NOT_FOUND', message: `no incident ${id}` }] };
      if (incident.status === 'CLOSED') return { ok: false as const, errors: [{ field: 'id', code: 'INCIDENT_CLOSED', message: 'the incident is already closed' }] };
      const now = new Date();
      await this.save(tx, incident, { status: 'CLOSED', closedAt: now, updatedAt: now });
      await this.emit(tx, incident, 'incident.closed');
      return { ok: true as const, value: incident };
    });
  }

  async addNote(em: EntityManager, id: string, author: string, body: string): Promise<Result<{ incident: Incident; note: IncidentNote }>> {
    const text = body.trim();
    if (!text || text.length > 10_000) return { ok: false, errors: [{ field: 'body', code: 'INVALID_LENGTH', message: 'body must be 1 to 10000 characters' }] };
    return em.transactional(async (tx) => {
      const incident = await this.lock(tx, id);
      if (!incident) return { ok: false as const, errors: [{ field: 'incidentId', code: 'NOT_FOUND', message: `no incident ${id}` }] };
      const now = new Date();
      const note = tx.create(IncidentNote, { id: newId('note'), tenantId: incident.tenantId, incidentId: id, author, body: text, createdAt: now });
      await this.save(tx, incident, { updatedAt: now });
      await this.emit(tx, incident, 'incident.updated', { changes: ['notes'], note: { id: note.id, author, body: text, created_at: now.toISOString() } });
      return { ok: true as const, value: { incident, note } };
    });
  }
}
