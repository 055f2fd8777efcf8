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
              s.previous_secret_sealed, s.previous_secret_expires_at, s.failing_since, e.traceparent
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
       insert into webhook_attempts (id, tenant_id, delivery_id, number, attempted_at, response_status, latency_ms, error, response_snippet)
       select tessera_new_id('att'), d.tenant_id, d.id, d.attempts, i.attempted_at, i.response_status, i.latency_ms, null, i.snippet
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
