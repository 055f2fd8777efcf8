// Recover requests (POST /v1/webhooks/{id}/recover, as Svix's recover does): every delivery of one subscription that
// failed or is still retrying in a window is sent again, once, as a new attempt of the same delivery (same
// `webhook-id`). A recovery counts its deliveries down as each has that attempt; when none is left it is completed,
// and `webhook.recover.completed` goes to the tenant's subscriptions that chose it, to the audit log and to the log.
//
// A delivery names the recovery it still counts toward (`recovery_id`); settling clears it once the delivery was
// attempted after the recovery was asked for (or ended some other way), so each counts once, whichever process
// attempted it, and a settle missed by a process that died is made by the next one (or by the periodic settle).
import { LockMode, type EntityManager, type MikroORM } from '@mikro-orm/postgresql';
import type { AuditService } from '../audit/service.js';
import type { Clock } from '../clock.js';
import { NotFound } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../observability/log.js';
import { WebhookDelivery, WebhookRecovery, type WebhookSubscription } from './entities.js';
import { enqueueDeliveries, type EventOutbox } from './outbox.js';

/** The widest window one request may cover, as Svix bounds its recover to its retention. */
export const MAX_RECOVER_WINDOW_DAYS = 14;
/** The most deliveries one request resends; `more` tells the caller to ask again from `next_since`. */
export const MAX_RECOVER_DELIVERIES = 1000;

export interface RecoveryRequest {
  recovery: WebhookRecovery;
  /** Set when more deliveries matched than one request resends: where the next request should start. */
  nextSince: Date | null;
}

export class RecoveryLedger {
  constructor(
    private readonly orm: MikroORM,
    private readonly events: EventOutbox,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /**
   * Queues the subscription's failed and retrying deliveries created in [since, until), oldest first, at most
   * MAX_RECOVER_DELIVERIES, none already counted by another recovery; their rows are locked, so two requests at once
   * never take the same delivery.
   */
  async request(em: EntityManager, subscription: WebhookSubscription, actor: string, since: Date, until: Date): Promise<RecoveryRequest> {
    const requested = await em.transactional(async (tx) => {
      const now = new Date(this.clock.now());
      const rows = await tx.find(
        WebhookDelivery,
        { webhookId: subscription.id, status: { $in: ['failed', 'retrying'] }, recoveryId: null, createdAt: { $gte: since, $lt: until } },
        { orderBy: { createdAt: 'asc', id: 'asc' }, limit: MAX_RECOVER_DELIVERIES + 1, lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      const taken = rows.slice(0, MAX_RECOVER_DELIVERIES);
      const nextSince = rows.length > MAX_RECOVER_DELIVERIES ? rows[MAX_RECOVER_DELIVERIES]!.createdAt : null;
      const recovery = tx.create(WebhookRecovery, {
        id: newId('rcv'),
        tenantId: subscription.tenantId,
        webhookId: subscription.id,
        since,
        until,
        deliveries: taken.length,
        remaining: taken.length,
        succeeded: 0,
        failed: 0,
        requestedBy: actor,
        createdAt: now,
        completedAt: null,
      });
      for (const row of taken) {
        row.status = 'queued';
        row.nextAttemptAt = null;
        row.recoveryId = recovery.id;
        row.updatedAt = now;
      }
      await tx.flush();
      // A retrying delivery's pending retry job is replaced (same job key): it is sent now, once.
      await enqueueDeliveries(tx, subscription.tenantId, taken.map((row) => row.id));
      this.audit.record(tx, {
        tenantId: subscription.tenantId,
        actor,
        action: 'webhook.recover_requested',
        targetType: 'webhook',
        targetId: subscription.id,
        details: { recovery_id: recovery.id, since: since.toISOString(), until: until.toISOString(), deliveries: taken.length, more: nextSince !== null },
      });
      if (!taken.length) await this.complete(tx, recovery, now);
      return { recovery, nextSince };
    });
    this.log.info(
      { tenant_id: subscription.tenantId, webhook_id: subscription.id, recovery_id: requested.recovery.id, deliveries: requested.recovery.deliveries, actor },
      'webhook recover requested',
    );
    if (requested.recovery.completedAt) this.logCompleted(requested.recovery);
    return requested;
  }

  async get(em: EntityManager, webhookId: string, recoveryId: string): Promise<WebhookRecovery> {
    const found = await em.findOne(WebhookRecovery, { id: recoveryId, webhookId });
    if (!found) throw new NotFound(`no recovery ${recoveryId} for webhook ${webhookId}`);
    return found;
  }

  /** Counts what the attempts of these deliveries settled, for the recoveries they named. */
  async settle(deliveries: Array<{ tenant_id: string; recovery_id: string | null }>): Promise<void> {
    const byTenant = new Map<string, Set<string>>();
    for (const d of deliveries) if (d.recovery_id) byTenant.set(d.tenant_id, (byTenant.get(d.tenant_id) ?? new Set()).add(d.recovery_id));
    for (const [tenantId, recoveryIds] of byTenant) await this.settleTenant(tenantId, [...recoveryIds]);
  }

  /** Every open recovery, of every tenant: what a settle missed (a worker killed between an attempt and its settle). */
  async settleOpen(): Promise<void> {
    const open = await this.orm.em.fork().find(WebhookRecovery, { completedAt: null }, { filters: false, fields: ['id', 'tenantId'] });
    await this.settle(open.map((r) => ({ tenant_id: r.tenantId, recovery_id: r.id })));
  }

  private async settleTenant(tenantId: string, recoveryIds: string[]): Promise<void> {
    const completed = await this.orm.em.fork().transactional(async (tx) => {
      const now = new Date(this.clock.now());
      // A delivery counts once it was attempted after the recovery was asked for, or ended anyway (its subscription
      // disabled, or an attempt already under way when the recovery was asked for that succeeded or failed for good).
      const rows = await tx.execute<Array<WebhookRecoveryRow>>(
        `with settled as (
           update webhook_deliveries d set recovery_id = null
           from webhook_recoveries r
           where r.tenant_id = ? and r.id in (select jsonb_array_elements_text(?::jsonb)) and r.completed_at is null
             and d.tenant_id = r.tenant_id and d.recovery_id = r.id
             and (d.status in ('succeeded', 'failed') or (d.status = 'retrying' and d.last_attempt_at >= r.created_at))
           returning r.id as recovery_id, d.status
         ), counted as (
           select recovery_id, count(*)::int as n, (count(*) filter (where status = 'succeeded'))::int as ok from settled group by recovery_id
         )
         update webhook_recoveries r
           set remaining = r.remaining - c.n, succeeded = r.succeeded + c.ok, failed = r.failed + c.n - c.ok,
               completed_at = case when r.remaining - c.n = 0 then ?::timestamptz end
         from counted c
         where r.id = c.recovery_id and r.tenant_id = ?
         returning r.id, r.webhook_id, r.since, r.until, r.deliveries, r.succeeded, r.failed, r.completed_at`,
        [tenantId, JSON.stringify(recoveryIds), now, tenantId],
      );
      const done = rows.filter((row) => row.completed_at !== null).map((row) => toRecovery(row, tenantId));
      for (const recovery of done) await this.announce(tx, recovery);
      return done;
    });
    for (const recovery of completed) this.logCompleted(recovery);
  }

  /** A recovery with nothing to resend is completed when it is asked for. */
  private async complete(tx: EntityManager, recovery: WebhookRecovery, now: Date): Promise<void> {
    recovery.completedAt = now;
    await this.announce(tx, recovery);
  }

  /** The operational event and the audit record of a completed recovery, in the transaction that completed it. */
  private async announce(tx: EntityManager, recovery: Pick<WebhookRecovery, 'id' | 'tenantId' | 'webhookId' | 'since' | 'until' | 'deliveries' | 'succeeded' | 'failed' | 'completedAt'>): Promise<void> {
    const data = {
      recovery_id: recovery.id,
      webhook_id: recovery.webhookId,
      since: recovery.since.toISOString(),
      until: recovery.until.toISOString(),
      deliveries: recovery.deliveries,
      succeeded: recovery.succeeded,
      failed: recovery.failed,
      completed_at: recovery.completedAt!.toISOString(),
    };
    await this.events.record(tx, recovery.tenantId, 'webhook.recover.completed', data);
    this.audit.record(tx, { tenantId: recovery.tenantId, actor: 'system', action: 'webhook.recover_completed', targetType: 'webhook', targetId: recovery.webhookId, details: data });
  }

  private logCompleted(recovery: Pick<WebhookRecovery, 'id' | 'tenantId' | 'webhookId' | 'deliveries' | 'succeeded' | 'failed'>): void {
    this.log.info(
      { tenant_id: recovery.tenantId, webhook_id: recovery.webhookId, recovery_id: recovery.id, deliveries: recovery.deliveries, succeeded: recovery.succeeded, failed: recovery.failed },
      'webhook recover completed',
    );
  }
}

interface WebhookRecoveryRow {
  id: string;
  webhook_id: string;
  since: Date | string;
  until: Date | string;
  deliveries: number;
  succeeded: number;
  failed: number;
  completed_at: Date | string | null;
}

function toRecovery(row: WebhookRecoveryRow, tenantId: string) {
  return {
    id: row.id,
    tenantId,
    webhookId: row.webhook_id,
    since: new Date(row.since),
    until: new Date(row.until),
    deliveries: row.deliveries,
    succeeded: row.succeeded,
    failed: row.failed,
    completedAt: row.completed_at === null ? null : new Date(row.completed_at),
  };
}
