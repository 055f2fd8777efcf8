// The domain event outbox: a change, the event describing it, its deliveries to the tenant's matching
// subscriptions and their graphile-worker job all commit in one statement of the change's own. No event is lost,
// none is sent for a change that rolled back, and the worker is woken (LISTEN/NOTIFY) at commit.
import type { EntityManager } from '@mikro-orm/postgresql';
import { context, propagation } from '@opentelemetry/api';
import sql, { raw, type Sql } from 'sql-template-tag';
import type { Clock } from '../clock.js';
import { runStatement } from '../db/prepared.js';
import { newId } from '../ids.js';
import type { EventType } from './catalog.js';

/** One delivery's next attempt: retries, redeliveries and test sends (job key = delivery id). */
export const DELIVER_TASK = 'webhook-deliver';
/** The first attempts of one event's deliveries, sent together (one job per event, not per delivery). */
export const DISPATCH_TASK = 'webhook-dispatch';
/** A resumed app's held deliveries to one subscription, sent one after the other in the order they were held. */
export const RELEASE_TASK = 'webhook-release';

/**
 * What a delivery job carries. Its deliveries are looked up by (id, tenant_id), the whole primary key: the planner
 * then knows each id names one row even before the table's first ANALYZE (an id alone is no longer unique in the
 * catalog's eyes since tenant_id joined every key), and a database sharded by tenant reads one node. Jobs queued
 * before tenantId was added have none; they are looked up by id alone.
 */
export interface DeliveryJob {
  tenantId?: string;
}

export const MAX_JOB_ATTEMPTS = 25;

/** An event about to be written: its id, time and payload are fixed once, so every delivery carries the same body. */
export interface PendingEvent {
  id: string;
  tenantId: string;
  type: EventType;
  data: Record<string, unknown>;
  createdAt: Date;
}

/** The JSON body every subscriber receives for an event (the same bytes on every attempt). */
export function eventBody(event: { id: string; type: string; createdAt: Date; tenantId: string; data: Record<string, unknown> }): string {
  return JSON.stringify({ id: event.id, type: event.type, created_at: event.createdAt.toISOString(), tenant_id: event.tenantId, data: event.data });
}

/** The parts an event adds to the statement of its change. */
export interface EventWrites {
  /** Common table expressions: the event, its deliveries, their dispatch job. */
  ctes: Sql;
  /** A select-list item the statement must read, so that PostgreSQL adds the job (it runs a WITH query only when read). */
  dispatched: Sql;
}

const CTE_NAME = /^[a-z_]+$/;

/**
 * Queues delivery jobs of one tenant inside the caller's transaction (graphile-worker's add_job is plain SQL), due
 * `delayMs` from the database's now. Lists are passed as JSON: the query builder would expand a JS array binding
 * into separate values. A job names its deliveries' tenant (see DeliveryJob).
 */
export async function enqueueDeliveries(em: EntityManager, tenantId: string, deliveryIds: string[], delayMs = 0): Promise<void> {
  if (!deliveryIds.length) return;
  await em.execute(
    `select graphile_worker.add_job(?, json_build_object('tenantId', ?::text, 'deliveryId', d), run_at := now() + make_interval(secs => ?::double precision / 1000), max_attempts := ?, job_key := d, job_key_mode := 'replace')
     from jsonb_array_elements_text(?::jsonb) as d`,
    [DELIVER_TASK, tenantId, delayMs, MAX_JOB_ATTEMPTS, JSON.stringify(deliveryIds)],
  );
}

/**
 * Queues the release of one subscription's held deliveries (its app resumed), inside the caller's transaction: one
 * job that sends them one after the other, in the order given (the order they were held in).
 */
export async function enqueueRelease(em: EntityManager, tenantId: string, webhookId: string, deliveryIds: string[]): Promise<void> {
  if (!deliveryIds.length) return;
  await em.execute(
    `select graphile_worker.add_job(?, json_build_object('tenantId', ?::text, 'webhookId', ?::text, 'deliveryIds', ?::jsonb), max_attempts := ?)`,
    [RELEASE_TASK, tenantId, webhookId, JSON.stringify(deliveryIds), MAX_JOB_ATTEMPTS],
  );
}

/** The W3C `traceparent` of the span the change runs in (its GraphQL operation), or null when nothing traces. */
function currentTraceparent(): string | null {
  const carrier: { traceparent?: string } = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

export class EventOutbox {
  constructor(private readonly clock: Clock) {}

  event(tenantId: string, type: EventType, data: Record<string, unknown>): PendingEvent {
    return { id: newId('evt'), tenantId, type, data, createdAt: new Date(this.clock.now()) };
  }

  /**
   * The event's writes as parts of the statement that makes its change: the event, a delivery to each of the
   * tenant's enabled subscriptions to its type, and one `webhook-dispatch` job for them all. Each reads `after`,
   * a CTE of that statement returning one row when the change was written and none when it was not, so that a
   * change and its event are written together or not at all. Each part carries its own values (sql-template-tag),
   * so the statement is composed without sharing positions between modules.
   *
   * One job per event, not per delivery: a job costs a row, a NOTIFY, a fetch and a completion in PostgreSQL. No
   * job key, since nothing replaces a new event's dispatch; a failed delivery gets its own keyed retry job.
   */
  writes({ event, after }: { event: PendingEvent; after: string }): EventWrites {
    if (!CTE_NAME.test(after)) throw new Error(`not a CTE name: ${after}`);
    const from = raw(after);
    const { id, tenantId, type, data, createdAt } = event;
    const ctes = sql`event as (
      insert into domain_events (id, tenant_id, type, data, created_at, dispatched_at, traceparent)
      select ${id}, ${tenantId}, ${type}, ${JSON.stringify(data)}::jsonb, ${createdAt}, ${createdAt}, ${currentTraceparent()} from ${from}
    ),
    deliveries as (
      insert into webhook_deliveries (id, tenant_id, webhook_id, event_id, event_type, body, status, attempts, created_at, updated_at)
      select tessera_new_id('dlv'), s.tenant_id, s.id, ${id}, ${type}, ${eventBody(event)}, 'queued', 0, ${createdAt}, ${createdAt}
      from ${from}, webhook_subscriptions s
      where s.tenant_id = ${tenantId} and s.enabled and s.events @> ${JSON.stringify([type])}::jsonb
      returning id
    ),
    dispatch as (
      select graphile_worker.add_job(${DISPATCH_TASK}, json_build_object('tenantId', ${tenantId}::text, 'deliveryIds', json_agg(id)), max_attempts := ${MAX_JOB_ATTEMPTS}) as job
      from deliveries having count(*) > 0
    )`;
    return { ctes, dispatched: sql`(select count(*) from dispatch) as dispatched` };
  }

  /** Writes an event, its deliveries and their dispatch job in one statement, for a change the caller has already written. */
  async record(em: EntityManager, tenantId: string, type: EventType, data: Record<string, unknown>): Promise<PendingEvent> {
    const event = this.event(tenantId, type, data);
    const { ctes, dispatched } = this.writes({ event, after: 'written' });
    await runStatement(em, sql`with written as (select true), ${ctes} select ${dispatched}`);
    return event;
  }
}
