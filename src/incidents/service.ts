// Incidents of a tenant. Every change writes its domain event to the outbox (the webhooks module's) in the same
// statement or transaction. The EntityManager handed in is tenant-filtered: queries here never name the tenant
// to stay inside it.
import { LockMode, raw } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import sql, { empty, type Sql } from 'sql-template-tag';
import type { Clock } from '../clock.js';
import { PreparedQuery, runStatement } from '../db/prepared.js';
import type { Result, UserError } from '../errors.js';
import { newId } from '../ids.js';
import type { EventType } from '../webhooks/catalog.js';
import type { EventOutbox, PendingEvent } from '../webhooks/outbox.js';
import { Incident, IncidentNote, type IncidentSeverity, type IncidentStatus } from './entities.js';

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

/** One incident and its row version (PostgreSQL's `xmin`: it changes whenever the row is written). */
const withVersion = (em: EntityManager, id: string) => em.createQueryBuilder(Incident).select(['*', raw('xmin::text as version')]).where({ id });
const byIdQuery = new PreparedQuery<{ id: string }>((em, q) => withVersion(em, q.id));
/** The same, locked until the transaction ends (SELECT ... FOR UPDATE). */
const lockedByIdQuery = new PreparedQuery<{ id: string }>((em, q) => withVersion(em, q.id).setLockMode(LockMode.PESSIMISTIC_WRITE));

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
function incidentPayload(incident: Incident): Record<string, unknown> {
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
  constructor(
    private readonly events: EventOutbox,
    private readonly clock: Clock,
  ) {}

  private now(): Date {
    return new Date(this.clock.now());
  }

  async get(em: EntityManager, id: string): Promise<Incident | null> {
    return em.findOne(Incident, { id });
  }

  /** An incident's notes, oldest first, a page at a time: `after` is the last note of the previous page. */
  async notes(em: EntityManager, incidentId: string, first: number, after: { createdAt: Date; id: string } | null): Promise<{ items: IncidentNote[]; hasNextPage: boolean }> {
    const where = after ? { incidentId, $or: [{ createdAt: { $gt: after.createdAt } }, { createdAt: after.createdAt, id: { $gt: after.id } }] } : { incidentId };
    const rows = await em.find(IncidentNote, where, { orderBy: { createdAt: 'asc', id: 'asc' }, limit: first + 1 });
    return { items: rows.slice(0, first), hasNextPage: rows.length > first };
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

  private async nextNumber(em: EntityManager, tenantId: string): Promise<number> {
    const [row] = await em.execute(
      `insert into tenant_counters (tenant_id, name, value) values (?, 'incident', 1)
       on conflict (tenant_id, name) do update set value = tenant_counters.value + 1 returning value`,
      [tenantId],
    );
    return Number(row.value);
  }

  async create(em: EntityManager, tenantId: string, input: IncidentChanges & { title: string; severity: IncidentSeverity }): Promise<Result<Incident>> {
    const errors = check(input, true);
    if (errors.length) return { ok: false, errors };
    return em.transactional(async (tx) => {
      const now = this.now();
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
      await this.events.record(tx, tenantId, 'incident.created', { incident: incidentPayload(incident) });
      return { ok: true as const, value: incident };
    });
  }

  async update(em: EntityManager, id: string, changes: IncidentChanges): Promise<Result<Incident>> {
    const errors = check(changes, false);
    if (errors.length) return { ok: false, errors };
    const result = await this.change(em, id, 'id', (incident) => {
      if (incident.status === 'CLOSED') return { errors: [{ field: 'id', code: 'INCIDENT_CLOSED', message: 'a closed incident cannot change' }] };
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
      if (!changed.length) return null;
      return { fields: { ...fields, updatedAt: this.now() }, event: 'incident.updated', extra: { changes: changed } };
    });
    return result.ok ? { ok: true, value: result.value.incident } : result;
  }

  async close(em: EntityManager, id: string): Promise<Result<Incident>> {
    const result = await this.change(em, id, 'id', (incident) => {
      if (incident.status === 'CLOSED') return { errors: [{ field: 'id', code: 'INCIDENT_CLOSED', message: 'the incident is already closed' }] };
      const now = this.now();
      return { fields: { status: 'CLOSED', closedAt: now, updatedAt: now }, event: 'incident.closed' };
    });
    return result.ok ? { ok: true, value: result.value.incident } : result;
  }

  async addNote(em: EntityManager, id: string, author: string, body: string): Promise<Result<{ incident: Incident; note: IncidentNote }>> {
    const text = body.trim();
    if (!text || text.length > 10_000) return { ok: false, errors: [{ field: 'body', code: 'INVALID_LENGTH', message: 'body must be 1 to 10000 characters' }] };
    let note: IncidentNote | undefined;
    const result = await this.change(em, id, 'incidentId', (incident) => {
      const now = this.now();
      note = { id: newId('note'), tenantId: incident.tenantId, incidentId: incident.id, author, body: text, createdAt: now } as IncidentNote;
      return {
        fields: { updatedAt: now },
        event: 'incident.updated',
        extra: { changes: ['notes'], note: { id: note.id, author, body: text, created_at: now.toISOString() } },
        note,
      };
    });
    return result.ok ? { ok: true, value: { incident: result.value.incident, note: note! } } : result;
  }

  /**
   * Reads the incident, lets `decide` check it and say what to write, and writes that, the event describing
   * it (the outbox's part of the statement, webhooks/outbox.ts) and the note, if any, in ONE statement that applies only if the row is still the
   * version read (optimistic concurrency on PostgreSQL's `xmin`): two round trips and no transaction, where
   * SELECT ... FOR UPDATE in a transaction takes six (BEGIN, lock, update, subscriptions, event, COMMIT),
   * each a wake-up of the database and of this process on the path of every mutation.
   *
   * When another writer got in between, the statement writes nothing, and the change is decided again on
   * the new version, this time with the row locked in a transaction: a contended change waits its turn, as
   * it would with locking alone, instead of failing or retrying without end.
   */
  private async change(em: EntityManager, id: string, idField: string, decide: (incident: Incident) => Decision): Promise<Result<{ incident: Incident }>> {
    const optimistic = await this.decideAndWrite(em, byIdQuery, id, idField, decide);
    if (optimistic !== 'conflict') return optimistic;
    return em.transactional(async (tx) => {
      const locked = await this.decideAndWrite(tx, lockedByIdQuery, id, idField, decide);
      if (locked === 'conflict') throw new Error(`incident ${id} changed while locked`);
      return locked;
    });
  }

  private async decideAndWrite(
    em: EntityManager,
    read: typeof byIdQuery,
    id: string,
    idField: string,
    decide: (incident: Incident) => Decision,
  ): Promise<Result<{ incident: Incident }> | 'conflict'> {
    const [row] = await read.all<IncidentRow & { version: string }>(em, { id });
    if (!row) return { ok: false, errors: [{ field: idField, code: 'NOT_FOUND', message: `no incident ${id}` }] };
    const incident = fromRow(row);
    const decision = decide(incident);
    if (decision === null) return { ok: true, value: { incident } };
    if ('errors' in decision) return { ok: false, errors: decision.errors };
    const next = { ...incident, ...decision.fields } as Incident;
    const event = this.events.event(next.tenantId, decision.event, { incident: incidentPayload(next), ...decision.extra });
    return (await this.write(em, next, row.version, decision, event)) ? { ok: true, value: { incident: next } } : 'conflict';
  }

  /** The write of `change`: true when the row was still at `version`, and then everything was written. */
  private async write(em: EntityManager, next: Incident, version: string, change: Change, event: PendingEvent): Promise<boolean> {
    const fanOut = this.events.writes({ event, after: 'changed' });
    const statement = sql`with ${changedRow(next, version)}, ${change.note ? sql`${noteAdded(change.note)}, ` : empty}${fanOut.ctes}
      select (select count(*) from changed) as changed, ${fanOut.dispatched}`;
    const [result] = await runStatement<{ changed: string }>(em, statement);
    return Number(result?.changed) === 1;
  }
}

/**
 * The parts of a change's statement (`IncidentService.write`): the same text for every change (with or without a
 * note), so that PostgreSQL parses and plans each once per connection. Every column a change may touch is
 * written, with its new or unchanged value, to the row read through the tenant filter: its id, its tenant, and
 * only at the version read.
 */
function changedRow(next: Incident, version: string): Sql {
  return sql`changed as (
    update incidents set title = ${next.title}, summary = ${next.summary}, status = ${next.status}, severity = ${next.severity},
      labels = ${JSON.stringify(next.labels)}::jsonb, updated_at = ${next.updatedAt}, closed_at = ${next.closedAt}
    where id = ${next.id} and tenant_id = ${next.tenantId} and xmin = ${version}::xid returning id
  )`;
}

/** The note, written only if the incident was (it reads `changed`). */
function noteAdded(note: IncidentNote): Sql {
  return sql`note as (
    insert into incident_notes (id, tenant_id, incident_id, author, body, created_at)
    select ${note.id}, ${note.tenantId}, ${note.incidentId}, ${note.author}, ${note.body}, ${note.createdAt} from changed
  )`;
}

/** What a change writes: the incident's new fields, its event, and a note written only if the incident was. */
interface Change {
  fields: Partial<Incident>;
  event: EventType;
  extra?: Record<string, unknown>;
  note?: IncidentNote;
}

/** `decide`'s answer: refuse with user errors, write nothing (null: nothing changes), or write a change. */
type Decision = { errors: UserError[] } | null | Change;
