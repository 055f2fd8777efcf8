// A failed attempt, recorded through the ORM in one transaction: the attempt, the subscription's run of failures,
// the auto-disable (a 410 Gone, or WEBHOOK_DISABLE_AFTER of nothing but failures) with its audit event, and then
// either the delivery's retry job or its end.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { AuditService } from '../audit/service.js';
import type { Clock } from '../clock.js';
import { newId } from '../ids.js';
import { WebhookAttempt, WebhookDelivery } from './entities.js';
import type { OutboundResponse } from './http.js';
import type { EventData } from './event-schemas.js';
import { enqueueDeliveries, type EventOutbox } from './outbox.js';
import type { RetryPolicy } from './retry-policy.js';

export interface FailedAttempt {
  deliveryId: string;
  webhookId: string;
  tenantId: string;
  attemptedAt: Date;
  response?: OutboundResponse;
  /** Why it failed: a non-2xx answer, a timeout, a refused address... */
  error: string;
  latencyMs: number;
}

/** How a failed attempt was recorded, for its log line and metrics (telemetry.ts). */
export interface RecordedFailure {
  outcome: 'retrying' | 'failed';
  attempt: number;
  eventId: string;
  nextAttemptAt: Date | null;
  /** Set when this failure disabled the subscription. */
  disabledReason: string | null;
}

export class FailureRecorder {
  constructor(
    private readonly orm: MikroORM,
    private readonly retries: RetryPolicy,
    private readonly audit: AuditService,
    private readonly events: EventOutbox,
    /** Seconds of nothing but failures after which a subscription is disabled. */
    private readonly disableAfter: number,
    private readonly clock: Clock,
  ) {}

  async record(failure: FailedAttempt): Promise<RecordedFailure> {
    return this.orm.em.fork().transactional(async (tx) => {
      const now = new Date(this.clock.now());
      const row = await tx.findOne(WebhookDelivery, { id: failure.deliveryId, tenantId: failure.tenantId }, { filters: false });
      // Its subscription was deleted (or its app) while the attempt was under way: nothing is left to record.
      if (!row) return { outcome: 'failed' as const, attempt: 0, eventId: '', nextAttemptAt: null, disabledReason: null };
      row.attempts += 1;
      row.lastAttemptAt = failure.attemptedAt;
      row.responseStatus = failure.response?.status ?? null;
      row.latencyMs = failure.latencyMs;
      row.error = failure.error;
      row.updatedAt = now;
      tx.create(WebhookAttempt, {
        id: newId('att'),
        tenantId: row.tenantId,
        deliveryId: row.id,
        webhookId: row.webhookId,
        number: row.attempts,
        attemptedAt: failure.attemptedAt,
        responseStatus: failure.response?.status ?? null,
        latencyMs: failure.latencyMs,
        error: failure.error,
        responseSnippet: failure.response?.snippet ?? null,
      });

      const disabledReason = await this.disabledBy(tx, failure, now);
      const enabled = disabledReason === undefined;
      const recorded = { attempt: row.attempts, eventId: row.eventId, disabledReason: disabledReason ?? null };
      const wait = enabled ? this.retries.wait(row.attempts, failure.response) : null;
      if (wait === null) {
        row.status = 'failed';
        row.nextAttemptAt = null;
        return { ...recorded, outcome: 'failed' as const, nextAttemptAt: null };
      }
      row.status = 'retrying';
      row.nextAttemptAt = new Date(now.getTime() + wait);
      await enqueueDeliveries(tx, row.tenantId, [row.id], wait);
      return { ...recorded, outcome: 'retrying' as const, nextAttemptAt: row.nextAttemptAt };
    });
  }

  /**
   * Whether the subscription survives this failure (undefined) or why not: a 410, or a run of failures long enough,
   * disables it (the reason, when this failure did it; null when it was disabled already).
   */
  private async disabledBy(em: EntityManager, failure: FailedAttempt, now: Date): Promise<string | null | undefined> {
    // Atomic bookkeeping, no row lock held: concurrent attempts see one start of the failure run.
    const [state] = await em.execute<Array<{ failing_since: Date; enabled: boolean }>>(
      'update webhook_subscriptions set failing_since = coalesce(failing_since, ?) where id = ? and tenant_id = ? returning failing_since, enabled',
      [failure.attemptedAt, failure.webhookId, failure.tenantId],
    );
    if (!state?.enabled) return null;
    // 410 Gone: the receiver says the endpoint is gone for good (Svix, Standard Webhooks).
    const reason =
      failure.response?.status === 410
        ? 'the endpoint answered 410 Gone'
        : now.getTime() - new Date(state.failing_since).getTime() >= this.disableAfter * 1000
          ? `every delivery failed for ${Math.round(this.disableAfter / 86_400)} day(s)`
          : undefined;
    if (reason === undefined) return undefined;
    return (await this.disable(em, failure, reason, now)) ? reason : null;
  }

  /**
   * Disables once (whoever gets there first writes the audit event and the operational event
   * `webhook.endpoint.disabled`, for the tenant's subscriptions that chose it); true if this call disabled it.
   */
  private async disable(em: EntityManager, failure: FailedAttempt, reason: string, now: Date): Promise<boolean> {
    const changed = await em.execute<Array<{ owner_client_id: string | null }>>(
      'update webhook_subscriptions set enabled = false, disabled_reason = ?, updated_at = ? where id = ? and tenant_id = ? and enabled returning owner_client_id',
      [reason, now, failure.webhookId, failure.tenantId],
    );
    if (!changed.length) return false;
    this.audit.record(em, { tenantId: failure.tenantId, actor: 'system', action: 'webhook.disabled', targetType: 'webhook', targetId: failure.webhookId, details: { reason } });
    const data = { webhook_id: failure.webhookId, owner_client_id: changed[0]!.owner_client_id, reason, disabled_at: now.toISOString() } satisfies EventData<'webhook.endpoint.disabled'>;
    await this.events.record(em, failure.tenantId, 'webhook.endpoint.disabled', data);
    return true;
  }
}
