// The delivery engine's hot path, in plain SQL on pg (no ORM): the deliveries to attempt with their
// subscriptions, and the outcomes of every success at once. When every receiver answers 2xx, a fan-out costs
// these two statements, whatever the number of deliveries. (A failure takes the fuller path of failures.ts.)
import type pg from 'pg';
import type { DeliveryStatus } from './entities.js';

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
}

export interface Success {
  deliveryId: string;
  attemptedAt: Date;
  responseStatus: number;
  latencyMs: number;
  snippet: string;
}

export class DeliveryStore {
  constructor(private readonly pool: pg.Pool) {}

  /** The deliveries still to send; `firstAttemptsOnly`: none that was attempted already (a dispatch run again). */
  async targets(deliveryIds: string[], firstAttemptsOnly: boolean): Promise<DeliveryTarget[]> {
    const { rows } = await this.pool.query<DeliveryTarget>(
      `select d.id, d.tenant_id, d.event_id, d.body, d.status, s.id as webhook_id, s.url, s.enabled, s.secret_sealed,
              s.previous_secret_sealed, s.previous_secret_expires_at, s.failing_since, e.traceparent
       from webhook_deliveries d join webhook_subscriptions s on s.id = d.webhook_id
       left join domain_events e on e.id = d.event_id and e.tenant_id = d.tenant_id
       where d.id = any($1::text[]) and d.status not in ('succeeded', 'failed') ${firstAttemptsOnly ? 'and d.attempts = 0' : ''}`,
      [deliveryIds],
    );
    return rows;
  }

  /** Deliveries whose subscription was disabled since they were queued: they end, unsent. */
  async failDisabled(deliveryIds: string[]): Promise<void> {
    if (!deliveryIds.length) return;
    await this.pool.query(`update webhook_deliveries set status = 'failed', error = 'the subscription is disabled', updated_at = now() where id = any($1::text[])`, [deliveryIds]);
  }

  /** One statement for any number of successes: the deliveries, their attempts, and subscriptions that were failing. */
  async recordSuccesses(successes: Success[]): Promise<void> {
    if (!successes.length) return;
    await this.pool.query(
      `with input as (
         select * from unnest($1::text[], $2::timestamptz[], $3::int[], $4::int[], $5::text[])
           as t(delivery_id, attempted_at, response_status, latency_ms, snippet)
       ), d as (
         update webhook_deliveries w set status = 'succeeded', attempts = w.attempts + 1, last_attempt_at = i.attempted_at,
           response_status = i.response_status, latency_ms = i.latency_ms, error = null, next_attempt_at = null, updated_at = now()
         from input i where w.id = i.delivery_id
         returning w.id, w.tenant_id, w.webhook_id, w.attempts
       ), s as (
         update webhook_subscriptions set failing_since = null where id in (select webhook_id from d) and failing_since is not null
       )
       insert into webhook_attempts (id, tenant_id, delivery_id, number, attempted_at, response_status, latency_ms, error, response_snippet)
       select tessera_new_id('att'), d.tenant_id, d.id, d.attempts, i.attempted_at, i.response_status, i.latency_ms, null, i.snippet
       from d join input i on i.delivery_id = d.id`,
      [
        successes.map((s) => s.deliveryId),
        successes.map((s) => s.attemptedAt),
        successes.map((s) => s.responseStatus),
        successes.map((s) => s.latencyMs),
        successes.map((s) => s.snippet),
      ],
    );
  }
}
