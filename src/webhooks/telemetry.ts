// What the delivery engine tells operators: a log line for each failed attempt, retry and disable (info and
// warn, with the tenant, webhook, delivery and event ids), and the metrics
// - `tessera_webhook_attempts_total{outcome}`: succeeded, retrying (failed, another attempt is scheduled) or failed
//   (failed for good); a delivery ends with its succeeded or failed attempt;
// - `tessera_webhook_attempt_duration_seconds{outcome}`: success or failure, the receiver's time to answer;
// - `tessera_webhook_deliveries_pending{status}` and `tessera_webhook_oldest_due_seconds`: the queue, read from
//   the database when scraped, so that every process (the api ones too) reports the same queue: aggregate them
//   with max(), not sum().
import type pg from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Logger } from '../observability/log.js';
import type { Success } from './delivery-store.js';
import type { FailedAttempt, RecordedFailure } from './failures.js';

export class DeliveryTelemetry {
  private readonly attempts: Counter<'outcome'>;
  private readonly durations: Histogram<'outcome'>;

  constructor(
    private readonly log: Logger,
    registry: Registry,
    pool: pg.Pool,
    clock: Clock,
  ) {
    this.attempts = new Counter({ name: 'tessera_webhook_attempts_total', help: 'Webhook delivery attempts, by outcome: succeeded, retrying (another attempt is scheduled) or failed (for good)', labelNames: ['outcome'], registers: [registry] });
    this.durations = new Histogram({
      name: 'tessera_webhook_attempt_duration_seconds',
      help: 'How long a webhook receiver took to answer (or to fail), by outcome (success, failure)',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      registers: [registry],
    });
    const pending = new Gauge({ name: 'tessera_webhook_deliveries_pending', help: 'Deliveries still to be made, by status (queued: a first attempt or a redelivery; retrying: after a failure)', labelNames: ['status'], registers: [registry] });
    new Gauge({
      name: 'tessera_webhook_oldest_due_seconds',
      help: 'How long the longest-waiting due delivery has been due (0 when none is): the delivery lag',
      registers: [registry],
      async collect() {
        // One query for both gauges, on the partial index of pending deliveries.
        const { rows } = await pool.query<{ status: string; n: number; oldest_due: number | null }>(
          `select status, count(*)::int as n,
                  extract(epoch from $1::timestamptz - min(coalesce(next_attempt_at, updated_at)) filter (where coalesce(next_attempt_at, updated_at) <= $1::timestamptz))::float8 as oldest_due
             from webhook_deliveries where status in ('queued', 'retrying') group by status`,
          [new Date(clock.now())],
        );
        pending.set({ status: 'queued' }, 0);
        pending.set({ status: 'retrying' }, 0);
        for (const row of rows) pending.set({ status: row.status }, row.n);
        this.set(Math.max(0, ...rows.map((row) => row.oldest_due ?? 0)));
      },
    });
  }

  succeeded(successes: Success[]): void {
    for (const success of successes) {
      this.attempts.inc({ outcome: 'succeeded' });
      this.durations.observe({ outcome: 'success' }, success.latencyMs / 1000);
    }
  }

  failed(failure: FailedAttempt, recorded: RecordedFailure): void {
    this.attempts.inc({ outcome: recorded.outcome });
    this.durations.observe({ outcome: 'failure' }, failure.latencyMs / 1000);
    const ids = { tenant_id: failure.tenantId, webhook_id: failure.webhookId, delivery_id: failure.deliveryId, event_id: recorded.eventId, attempt: recorded.attempt };
    const answer = { response_status: failure.response?.status ?? null, error: failure.error, latency_ms: failure.latencyMs };
    if (recorded.outcome === 'retrying') {
      this.log.info({ ...ids, ...answer, next_attempt_at: recorded.nextAttemptAt?.toISOString() }, 'webhook attempt failed; will retry');
    } else {
      this.log.warn({ ...ids, ...answer }, 'webhook delivery failed for good');
    }
    if (recorded.disabledReason) this.log.warn({ tenant_id: failure.tenantId, webhook_id: failure.webhookId, reason: recorded.disabledReason }, 'webhook subscription disabled');
  }
}
