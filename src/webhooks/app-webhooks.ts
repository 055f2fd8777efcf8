// The webhooks module's part in an app's lifecycle (platform/lifecycle.ts), for the subscriptions the app owns:
// - suspended: they are held (held_since), so the engine holds their deliveries, test sends included, without
//   attempting them, failing them or counting them toward auto-disable; `webhook.deliveries.held` says so;
// - resumed: the held deliveries are queued again, and one release job per subscription sends them one after the
//   other, oldest first, with their original `webhook-id`; the run of failures starts afresh; and
//   `webhook.deliveries.released` says so;
// - deleted: the subscriptions go, their deliveries (pending ones cancelled), attempts and recoveries with them.
// The operational events also go to the audit log and the server log.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AuditService } from '../audit/service.js';
import type { Logger } from '../observability/log.js';
import type { AppLifecycleListener, LifecycleChange } from '../platform/lifecycle.js';
import { WebhookSubscription } from './entities.js';
import type { EventData } from './event-schemas.js';
import { enqueueRelease, type EventOutbox } from './outbox.js';

export class AppWebhooks implements AppLifecycleListener {
  constructor(
    private readonly events: EventOutbox,
    private readonly audit: AuditService,
    private readonly log: Logger,
  ) {}

  async suspended(em: EntityManager, { app, at }: LifecycleChange): Promise<void> {
    const held = await em.execute<Array<{ id: string }>>(
      `update webhook_subscriptions set held_since = ? where tenant_id = ? and owner_client_id = ? and held_since is null returning id`,
      [at, app.tenantId, app.id],
    );
    if (!held.length) return;
    const data = { client_id: app.id, webhook_ids: held.map((s) => s.id).sort(), reason: 'app_suspended', held_since: at.toISOString() } satisfies EventData<'webhook.deliveries.held'>;
    await this.events.record(em, app.tenantId, 'webhook.deliveries.held', data);
    this.audit.record(em, { tenantId: app.tenantId, actor: 'system', action: 'webhook.deliveries_held', targetType: 'app', targetId: app.id, details: data });
    this.log.warn({ tenant_id: app.tenantId, client_id: app.id, webhook_ids: data.webhook_ids }, 'webhook deliveries held: the app is suspended');
  }

  async resumed(em: EntityManager, { app, at }: LifecycleChange): Promise<void> {
    // The subscriptions first: their row locks make a hold under way (delivery-store.ts `hold`) finish before the
    // release reads what is held, or see them released and send instead.
    const released = await em.execute<Array<{ id: string }>>(
      `update webhook_subscriptions set held_since = null, failing_since = null where tenant_id = ? and owner_client_id = ? and held_since is not null returning id`,
      [app.tenantId, app.id],
    );
    if (!released.length) return;
    const webhookIds = released.map((s) => s.id).sort();
    const deliveries = await em.execute<Array<{ id: string; webhook_id: string }>>(
      `with released as (
         update webhook_deliveries set status = 'queued', next_attempt_at = null, updated_at = ?
         where tenant_id = ? and webhook_id in (select jsonb_array_elements_text(?::jsonb)) and status = 'held'
         returning id, webhook_id, created_at
       )
       select id, webhook_id from released order by created_at, id`,
      [at, app.tenantId, JSON.stringify(webhookIds)],
    );
    for (const webhookId of webhookIds) {
      await enqueueRelease(em, app.tenantId, webhookId, deliveries.filter((d) => d.webhook_id === webhookId).map((d) => d.id));
    }
    const data = { client_id: app.id, webhook_ids: webhookIds, released: deliveries.length, released_at: at.toISOString() } satisfies EventData<'webhook.deliveries.released'>;
    await this.events.record(em, app.tenantId, 'webhook.deliveries.released', data);
    this.audit.record(em, { tenantId: app.tenantId, actor: 'system', action: 'webhook.deliveries_released', targetType: 'app', targetId: app.id, details: data });
    this.log.info({ tenant_id: app.tenantId, client_id: app.id, webhook_ids: webhookIds, released: deliveries.length }, 'held webhook deliveries released: the app is resumed');
  }

  async deleted(em: EntityManager, { app }: LifecycleChange): Promise<Record<string, number>> {
    // Deliveries, attempts and recoveries go with their subscription (foreign keys on delete cascade); a job of a
    // delivery that is gone finds nothing to send.
    return { webhook_subscriptions: await em.nativeDelete(WebhookSubscription, { tenantId: app.tenantId, ownerClientId: app.id }) };
  }
}
