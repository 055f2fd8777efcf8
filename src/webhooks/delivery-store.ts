// The delivery engine's hot path, in plain SQL on pg (no ORM): the deliveries to attempt with their
// subscriptions, and the outcomes of every success at once. When every receiver answers 2xx, a fan-out costs
// these two statements, whatever the number of deliveries. (A failure takes the fuller path of failures.ts.)
import type pg from 'pg';
import type { DeliveryStatus } from './entities.js';
import { DELIVER_TASK, MAX_JOB_ATTEMPTS } from './outbox.js';

/** A delivery and what is needed to send it. */
export interface DeliveryTarget {
  id: string;
  tenant_id: string;
  event_id: string;
  body: string;
  status: DeliveryStatus;
  webhook_id: string;
  url: string;
  enabled: boolean;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: string | Date | null;
  failing_since: string | Date | null;
  /** The W3C trace context of the change that caused the event, if it was traced. */
  traceparent: string | null;
  /** Set while the subscription's app is suspended: the delivery is held, not attempted. */
  held_since: string | Date | null;
  /** Deliveries per second the subscription takes at most, or null. */
  rate_limit: number | null;
  /** The recover request this attempt counts toward (recoveries.ts), or null. */
  recovery_id: string | null;
  /** The database's time when the targets were read: the throttle's slots are in its clock. */
  db_now: Date;
}

/** A throttled delivery's reserved send time, and the database's time when it was reserved. */
export interface Slot {
  at: Date;
  now: Date;
}

export interface Success {
  deliveryId: string;
  tenantId: string;
  attemptedAt: Date;
  responseStatus: number;
  latencyMs: number;
  snippet: string;
}

export class DeliveryStore {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * The deliveries still to send, of `tenantId` when it is known (outbox.ts DeliveryJob: the whole key, so each id is
   * one index lookup); `firstAttemptsOnly`: none that was attempted already (a dispatch run again).
   */
  async targets(deliveryIds: string[], tenantId: string | undefined, firstAttemptsOnly: boolean): Promise<DeliveryTarget[]> {
    const { rows } = await this.pool.query<DeliveryTarget>(
      `select d.id, d.tenant_id, d.event_id, d.body, d.status, s.id as webhook_id, s.url, s.enabled, s.secret_sealed,
              s.previous_secret_sealed, s.previous_secret_expires_at, s.failing_since, e.traceparent,
              s.held_since, s.rate_limit, d.recovery_id, now() as db_now
       from webhook_deliveries d join webhook_subscriptions s on s.id = d.webhook_id
       left join domain_events e on e.id = d.event_id and e.tenant_id = d.tenant_id
       where d.id = any($1::text[]) ${tenantId ? 'and d.tenant_id = $2' : ''}
         and d.status not in ('succeeded', 'failed') ${firstAttemptsOnly ? 'and d.attempts = 0' : ''}`,
      tenantId ? [deliveryIds, tenantId] : [deliveryIds],
    );
    return rows;
  }

  /** Deliveries whose subscription was disabled since they were queued: they end, unsent. */
  async failDisabled(deliveries: Array<Pick<DeliveryTarget, 'id' | 'tenant_id'>>): Promise<void> {
    if (!deliveries.length) return;
    await this.pool.query(
      `update webhook_deliveries set status = 'failed', error = 'the subscription is disabled', updated_at = now()
       where (id, tenant_id) in (select * from unnest($1::text[], $2::text[]))`,
      [deliveries.map((d) => d.id), deliveries.map((d) => d.tenant_id)],
    );
  }

  /**
   * Holds the deliveries whose subscription is held (its app suspended), and answers which it held. The subscription
   * is read FOR SHARE: a resumption that is releasing it waits for this, or this for it, so that no delivery is held
   * after its subscription's release (it would be stranded); one that is no longer held is not, and is sent.
   */
  async hold(deliveries: Array<Pick<DeliveryTarget, 'id' | 'tenant_id' | 'webhook_id'>>): Promise<Set<string>> {
    if (!deliveries.length) return new Set();
    const { rows } = await this.pool.query<{ id: string }>(
      `with input as (select * from unnest($1::text[], $2::text[], $3::text[]) as t(id, tenant_id, webhook_id)),
       held as (
         select s.id, s.tenant_id from webhook_subscriptions s
         where (s.id, s.tenant_id) in (select webhook_id, tenant_id from input) and s.held_since is not null
         for share
       )
       update webhook_deliveries d set status = 'held', next_attempt_at = null, updated_at = now()
       from input i join held h on h.id = i.webhook_id and h.tenant_id = i.tenant_id
       where d.id = i.id and d.tenant_id = i.tenant_id and d.status in ('queued', 'retrying')
       returning d.id`,
      [deliveries.map((d) => d.id), deliveries.map((d) => d.tenant_id), deliveries.map((d) => d.webhook_id)],
    );
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Reserves a send time for each delivery of a throttled subscription, in one statement whichever process asks: the
   * generic cell rate algorithm, where the subscription keeps the theoretical arrival time of its next delivery and
   * each reservation moves it on by 1/rate_limit seconds (never into the past), so that deliveries are spaced by
   * 1/rate_limit across every worker. Slots come back in the order of `deliveries`.
   */
  async reserveSlots(deliveries: Array<Pick<DeliveryTarget, 'id' | 'tenant_id' | 'webhook_id'>>): Promise<Map<string, Slot>> {
    const bySubscription = new Map<string, Array<Pick<DeliveryTarget, 'id' | 'tenant_id' | 'webhook_id'>>>();
    for (const d of deliveries) bySubscription.set(`${d.tenant_id} ${d.webhook_id}`, [...(bySubscription.get(`${d.tenant_id} ${d.webhook_id}`) ?? []), d]);
    const groups = [...bySubscription.values()];
    const { rows } = await this.pool.query<{ id: string; tenant_id: string; first: Date; step_ms: number; now: Date }>(
      `update webhook_subscriptions s
         set throttle_next_at = greatest(coalesce(s.throttle_next_at, now()), now()) + make_interval(secs => t.n::double precision / s.rate_limit)
       from unnest($1::text[], $2::text[], $3::int[]) as t(id, tenant_id, n)
       where s.id = t.id and s.tenant_id = t.tenant_id and s.rate_limit is not null
       returning s.id, s.tenant_id, s.throttle_next_at - make_interval(secs => t.n::double precision / s.rate_limit) as first,
                 1000.0 / s.rate_limit as step_ms, now() as now`,
      [groups.map((g) => g[0]!.webhook_id), groups.map((g) => g[0]!.tenant_id), groups.map((g) => g.length)],
    );
    const slots = new Map<string, Slot>();
    for (const row of rows) {
      const group = bySubscription.get(`${row.tenant_id} ${row.id}`) ?? [];
      group.forEach((d, k) => slots.set(d.id, { at: new Date(new Date(row.first).getTime() + k * Number(row.step_ms)), now: new Date(row.now) }));
    }
    return slots;
  }

  /**
   * Delivery jobs that carry a throttled delivery's reserved slot, each due at `runAt` (delivery id as job key, so a
   * newer one replaces it): an early one that arms the slot's timer then, or the safety net behind an armed timer.
   */
  async scheduleSlots(jobs: Array<{ id: string; tenant_id: string; slot: Date; runAt: Date }>): Promise<void> {
    if (!jobs.length) return;
    await this.pool.query(
      `select graphile_worker.add_job($1, json_build_object('tenantId', t.tenant_id, 'deliveryId', t.id, 'slot', t.slot), run_at := t.run_at,
                                      max_attempts := $2, job_key := t.id, job_key_mode := 'replace')
       from unnest($3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[]) as t(id, tenant_id, slot, run_at)`,
      [DELIVER_TASK, MAX_JOB_ATTEMPTS, jobs.map((j) => j.id), jobs.map((j) => j.tenant_id), jobs.map((j) => j.slot), jobs.map((j) => j.runAt)],
    );
  }

  /** One statement for any number of successes: the deliveries, their attempts, and subscriptions that were failing. */
  async recordSuccesses(successes: Success[]): Promise<void> {
    if (!successes.length) return;
    await this.pool.query(
      `with input as (
         select * from unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[], $5::int[], $6::text[])
           as t(delivery_id, tenant_id, attempted_at, response_status, latency_ms, snippet)
       ), d as (
         update webhook_deliveries w set status = 'succeeded', attempts = w.attempts + 1, last_attempt_at = i.attempted_at,
           response_status = i.response_status, latency_ms = i.latency_ms, error = null, next_attempt_at = null, updated_at = now()
         from input i where w.id = i.delivery_id and w.tenant_id = i.tenant_id
         returning w.id, w.tenant_id, w.webhook_id, w.attempts
       ), s as (
         update webhook_subscriptions set failing_since = null where id in (select webhook_id from d) and failing_since is not null
       )
       insert into webhook_attempts (id, tenant_id, delivery_id, webhook_id, number, attempted_at, response_status, latency_ms, error, response_snippet)
       select tessera_new_id('att'), d.tenant_id, d.id, d.webhook_id, d.attempts, i.attempted_at, i.response_status, i.latency_ms, null, i.snippet
       from d join input i on i.delivery_id = d.id`,
      [
        successes.map((s) => s.deliveryId),
        successes.map((s) => s.tenantId),
        successes.map((s) => s.attemptedAt),
        successes.map((s) => s.responseStatus),
        successes.map((s) => s.latencyMs),
        successes.map((s) => s.snippet),
      ],
    );
  }
}
