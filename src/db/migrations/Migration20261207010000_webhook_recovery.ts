import { Migration } from '@mikro-orm/migrations';

/**
 * Webhooks through an app's lifecycle and a receiver's bad days:
 * - `held_since`: the subscription's app is suspended; its deliveries are held (status `held`: not attempted, not
 *   failed, not counted toward auto-disable) until the app is resumed, then sent in order;
 * - `rate_limit` (deliveries per second) and `throttle_next_at`, the theoretical arrival time of the next delivery
 *   (the generic cell rate algorithm), reserved by every worker process in one UPDATE;
 * - `webhook_recoveries`: a recover request (POST /v1/webhooks/{id}/recover), and on each delivery it resends the
 *   recovery it still counts toward (`recovery_id`, cleared by that delivery's next attempt).
 */
export class Migration20261207010000_webhook_recovery extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table webhook_subscriptions
        add column held_since timestamptz null,
        add column rate_limit integer null check (rate_limit between 1 and 1000),
        add column throttle_next_at timestamptz null;

      alter table webhook_deliveries
        drop constraint webhook_deliveries_status_check,
        add constraint webhook_deliveries_status_check check (status in ('queued', 'retrying', 'succeeded', 'failed', 'held')),
        add column recovery_id text null;

      create table webhook_recoveries (
        id text not null,
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        webhook_id text not null,
        since timestamptz not null,
        until timestamptz not null,
        deliveries integer not null,
        remaining integer not null check (remaining >= 0),
        succeeded integer not null default 0,
        failed integer not null default 0,
        requested_by text not null,
        created_at timestamptz not null,
        completed_at timestamptz null,
        primary key (id, tenant_id),
        foreign key (tenant_id, webhook_id) references webhook_subscriptions(tenant_id, id) on delete cascade deferrable initially deferred
      );
      create index webhook_recoveries_webhook_idx on webhook_recoveries (webhook_id, created_at);
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop table webhook_recoveries;
      update webhook_deliveries set status = 'queued' where status = 'held';
      alter table webhook_deliveries
        drop column recovery_id,
        drop constraint webhook_deliveries_status_check,
        add constraint webhook_deliveries_status_check check (status in ('queued', 'retrying', 'succeeded', 'failed'));
      alter table webhook_subscriptions drop column held_since, drop column rate_limit, drop column throttle_next_at;
    `);
  }
}
