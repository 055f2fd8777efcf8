// Delivery attempts over time, for the console's pictures and anyone's dashboard: per hour (UTC), how many attempts
// a subscription (or an app's subscriptions) made, how many succeeded (a 2xx) and failed (another answer, a timeout,
// a refused connection), and the receiver's latency percentiles. Read from webhook_attempts, whose webhook_id makes
// a subscription's attempts since a time one index range, however long its history.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../clock.js';
import { NotFound } from '../errors.js';
import { SCOPE_ADMIN } from '../http/auth.js';
import type { Principal } from '../keys/tokens.js';
import type { ClientDirectory } from '../platform/clients.js';
import { WebhookSubscription } from './entities.js';
import type { SubscriptionService } from './subscriptions.js';

const HOUR_MS = 3_600_000;
/** The most days of attempts read at once (`?days=`). */
export const MAX_ACTIVITY_DAYS = 30;

/** Attempts of a span of time (an hour, a subscription, the whole window) and their latency. */
export interface AttemptCounts {
  attempts: number;
  succeeded: number;
  failed: number;
  /** Percentiles of the receiver's time to answer (or to fail), of every attempt; null without attempts. */
  p50_latency_ms: number | null;
  p95_latency_ms: number | null;
  p99_latency_ms: number | null;
}

export interface AttemptActivity extends AttemptCounts {
  since: Date;
  until: Date;
  /** Each hour with at least one attempt, oldest first. */
  hours: Array<AttemptCounts & { hour: Date }>;
  /** Per subscription, in the order given. */
  webhooks: Array<AttemptCounts & { id: string; url: string }>;
}

interface Row {
  hour: Date | null;
  webhook_id: string | null;
  attempts: number;
  succeeded: number;
  failed: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

const NO_ATTEMPTS: AttemptCounts = { attempts: 0, succeeded: 0, failed: 0, p50_latency_ms: null, p95_latency_ms: null, p99_latency_ms: null };

function countsOf(r: Row): AttemptCounts {
  return { attempts: r.attempts, succeeded: r.succeeded, failed: r.failed, p50_latency_ms: r.p50, p95_latency_ms: r.p95, p99_latency_ms: r.p99 };
}

export class DeliveryActivity {
  constructor(
    private readonly subscriptions: SubscriptionService,
    private readonly clients: ClientDirectory,
    private readonly clock: Clock,
  ) {}

  /** One subscription's attempts (GET /v1/webhooks/{id}/timeline): whoever may read the subscription. */
  async timeline(em: EntityManager, principal: Principal, webhookId: string, days: number): Promise<AttemptActivity> {
    const subscription = await this.subscriptions.get(em, principal, webhookId);
    return this.read(em, subscription.tenantId, [subscription], days);
  }

  /**
   * The attempts of an app's own subscriptions (GET /v1/platform/apps/{client_id}/activity/webhooks): for its tenant's
   * admin, or the app itself with webhooks:read. Another tenant's app, or another app, is answered like an unknown one.
   */
  async ofApp(em: EntityManager, principal: Principal, clientId: string, days: number): Promise<AttemptActivity> {
    const record = await this.clients.find(clientId);
    const sameTenant = record !== null && record.app.tenantId === principal.tenantId;
    if (!sameTenant || !(principal.scopes.has(SCOPE_ADMIN) || principal.clientId === clientId)) throw new NotFound(`no app with client_id ${clientId}`);
    this.subscriptions.assertCan(principal, 'webhooks:read');
    const subscriptions = await em.find(WebhookSubscription, { ownerClientId: clientId }, { orderBy: { createdAt: 'asc', id: 'asc' } });
    return this.read(em, record.app.tenantId, subscriptions, days);
  }

  private async read(em: EntityManager, tenantId: string, subscriptions: WebhookSubscription[], days: number): Promise<AttemptActivity> {
    const now = this.clock.now();
    const until = new Date(now);
    const since = new Date(Math.floor(now / HOUR_MS) * HOUR_MS - (days * 24 - 1) * HOUR_MS);
    const ids = subscriptions.map((s) => s.id);
    // One pass: per hour, per subscription and in all (grouping sets); percentile_disc gives latencies that were seen.
    const rows = ids.length
      ? await em.getConnection().execute<Row[]>(
          `select date_trunc('hour', attempted_at, 'UTC') as hour, webhook_id, count(*)::int as attempts,
                  (count(*) filter (where error is null))::int as succeeded, (count(*) filter (where error is not null))::int as failed,
                  percentile_disc(0.5) within group (order by latency_ms) as p50,
                  percentile_disc(0.95) within group (order by latency_ms) as p95,
                  percentile_disc(0.99) within group (order by latency_ms) as p99
           from webhook_attempts
           where tenant_id = ? and webhook_id in (select jsonb_array_elements_text(?::jsonb)) and attempted_at >= ?
           group by grouping sets ((date_trunc('hour', attempted_at, 'UTC')), (webhook_id), ())`,
          [tenantId, JSON.stringify(ids), since],
          'all',
          em.getTransactionContext(),
        )
      : [];
    const total = rows.find((r) => r.hour === null && r.webhook_id === null);
    const bySubscription = new Map(rows.filter((r) => r.webhook_id !== null).map((r) => [r.webhook_id!, countsOf(r)]));
    return {
      since,
      until,
      ...(total && total.attempts ? countsOf(total) : NO_ATTEMPTS),
      hours: rows
        .filter((r) => r.hour !== null)
        .map((r) => ({ hour: new Date(r.hour!), ...countsOf(r) }))
        .sort((a, b) => a.hour.getTime() - b.hour.getTime()),
      webhooks: subscriptions.map((s) => ({ id: s.id, url: s.url, ...(bySubscription.get(s.id) ?? NO_ATTEMPTS) })),
    };
  }
}
