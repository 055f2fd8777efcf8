// The domain event outbox: a change, the event describing it, its deliveries to the tenant's matching
// subscriptions and their graphile-worker jobs all commit in one transaction. No event is lost, none
// is sent for a change that rolled back, and the worker is woken (LISTEN/NOTIFY) at commit.
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from '../ids.js';

export const EVENT_TYPES = ['incident.created', 'incident.updated', 'incident.closed'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const DomainEvent = defineEntity({
  name: 'DomainEvent',
  tableName: 'domain_events',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    type: p.string(),
    data: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
    /** When the event was fanned out to the tenant's subscriptions. */
    dispatchedAt: p.datetime().nullable(),
  },
});
export type DomainEvent = InferEntity<typeof DomainEvent>;

/** One delivery's next attempt: retries, redeliveries and test sends (job key = delivery id). */
export const DELIVER_TASK = 'webhook-deliver';
/** The first attempts of one event's deliveries, sent together (one job per event, not per delivery). */
export const DISPATCH_TASK = 'webhook-dispatch';
const MAX_JOB_ATTEMPTS = 25;

/** The JSON body every subscriber receives for an event (the same bytes on every attempt). */
export function eventBody(event: { id: string; type: string; createdAt: Date; tenantId: string; data: Record<string, unknown> }): string {
  return JSON.stringify({ id: event.id, type: event.type, created_at: event.createdAt.toISOString(), tenant_id: event.tenantId, data: event.data });
}

/**
 * Queues delivery jobs inside the caller's transaction (graphile-worker's add_job is plain SQL). Lists are
 * passed as JSON: the query builder would expand a JS array binding into separate values.
 */
export async function enqueueDeliveries(em: EntityManager, deliveryIds: string[], runAt?: Date): Promise<void> {
  if (!deliveryIds.length) return;
  await em.execute(
    `select graphile_worker.add_job(?, json_build_object('deliveryId', d), run_at := coalesce(?::timestamptz, now()), max_attempts := ?, job_key := d, job_key_mode := 'replace')
     from jsonb_array_elements_text(?::jsonb) as d`,
    [DELIVER_TASK, runAt ?? null, MAX_JOB_ATTEMPTS, JSON.stringify(deliveryIds)],
  );
}

/** An event about to be written: its id, time and payload are fixed once, so every delivery carries the same body. */
export interface PendingEvent {
  id: string;
  tenantId: string;
  type: EventType;
  data: Record<string, unknown>;
  createdAt: Date;
}

export function newEvent(tenantId: string, type: EventType, data: Record<string, unknown>): PendingEvent {
  return { id: newId('evt'), tenantId, type, data, createdAt: new Date() };
}

/**
 * The event's writes as common table expressions of the statement that makes the change: the event, a
 * delivery to each of the tenant's enabled subscriptions to its type, and one `webhook-dispatch` job for
 * them all. Each reads `after`, a CTE of the same statement returning one row when the change was written
 * and none when it was not, so that a change and its event are written together or not at all.
 *
 * One job per event, not per delivery: a job costs a row, a NOTIFY, a fetch and a completion in PostgreSQL.
 * No job key, since nothing replaces a new event's dispatch; a failed delivery gets its own keyed retry job
 * (WebhookService.attempt). The statement must read the `dispatch` CTE (see `recordEvent`): PostgreSQL runs a
 * SELECT in a WITH clause only when the statement reads it.
 */
export function eventWritesSql(after: string): string {
  return `event as (
      insert into domain_events (id, tenant_id, type, data, created_at, dispatched_at)
      select ?, ?, ?, ?::jsonb, ?, ? from ${after}
    ),
    deliveries as (
      insert into webhook_deliveries (id, tenant_id, webhook_id, event_id, event_type, body, status, attempts, created_at, updated_at)
      select tessera_new_id('dlv'), s.tenant_id, s.id, ?, ?, ?, 'queued', 0, ?, ?
      from ${after}, webhook_subscriptions s
      where s.tenant_id = ? and s.enabled and s.events @> ?::jsonb
      returning id
    ),
    dispatch as (
      select graphile_worker.add_job(?, json_build_object('deliveryIds', json_agg(id)), max_attempts := ?) as job
      from deliveries having count(*) > 0
    )`;
}

/** The values of `eventWritesSql`'s placeholders, in order. */
export function eventWritesParams(event: PendingEvent): unknown[] {
  const { id, tenantId, type, data, createdAt } = event;
  return [
    ...[id, tenantId, type, JSON.stringify(data), createdAt, createdAt],
    ...[id, type, eventBody(event), createdAt, createdAt, tenantId, JSON.stringify([type])],
    ...[DISPATCH_TASK, MAX_JOB_ATTEMPTS],
  ];
}

/** The last part of a statement made of `eventWritesSql`: it reads `dispatch`, so the job is added. */
export const EVENT_WRITES_RESULT = '(select count(*) from dispatch) as dispatched';

/**
 * Writes an event, its deliveries and their dispatch job in one statement, in the caller's transaction, for
 * a change the caller has already written.
 */
export async function recordEvent(em: EntityManager, tenantId: string, type: EventType, data: Record<string, unknown>): Promise<PendingEvent> {
  const event = newEvent(tenantId, type, data);
  await em.execute(`with written as (select true), ${eventWritesSql('written')} select ${EVENT_WRITES_RESULT}`, eventWritesParams(event));
  return event;
}
