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

/**
 * Writes the event, its deliveries to the tenant's matching enabled subscriptions and their dispatch job in
 * the caller's transaction: two statements (the subscriptions, then one insert of everything), because this
 * runs inside every incident change and each statement holds the change's row lock a little longer.
 */
export async function recordEvent(em: EntityManager, tenantId: string, type: EventType, data: Record<string, unknown>): Promise<{ id: string }> {
  const event = { id: newId('evt'), tenantId, type, data, createdAt: new Date() };
  const subscriptions: Array<{ id: string }> = await em.execute(
    'select id from webhook_subscriptions where tenant_id = ? and enabled and events @> ?::jsonb',
    [tenantId, JSON.stringify([type])],
  );
  const insertEvent = `insert into domain_events (id, tenant_id, type, data, created_at, dispatched_at) values (?, ?, ?, ?::jsonb, ?, ?)`;
  const eventValues = [event.id, tenantId, type, JSON.stringify(data), event.createdAt, event.createdAt];
  if (!subscriptions.length) {
    await em.execute(insertEvent, eventValues);
    return event;
  }
  const deliveries = subscriptions.map((s) => ({ d: newId('dlv'), w: s.id }));
  // One job for the whole fan-out: a job costs a row, a NOTIFY, a fetch and a completion in PostgreSQL,
  // so per-delivery jobs would multiply that by the number of subscribers. No job key: nothing replaces
  // a new event's dispatch. A failed delivery gets its own keyed retry job (WebhookService.attempt).
  await em.execute(
    `with event as (${insertEvent}),
     deliveries as (
       insert into webhook_deliveries (id, tenant_id, webhook_id, event_id, event_type, body, status, attempts, created_at, updated_at)
       select t.d, ?, t.w, ?, ?, ?, 'queued', 0, ?, ? from jsonb_to_recordset(?::jsonb) as t(d text, w text)
     )
     select graphile_worker.add_job(?, json_build_object('deliveryIds', ?::jsonb), max_attempts := ?)`,
    [
      ...eventValues,
      ...[tenantId, event.id, type, eventBody(event), event.createdAt, event.createdAt, JSON.stringify(deliveries)],
      ...[DISPATCH_TASK, JSON.stringify(deliveries.map((d) => d.d)), MAX_JOB_ATTEMPTS],
    ],
  );
  return event;
}
