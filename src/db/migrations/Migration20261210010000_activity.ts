import { Migration } from '@mikro-orm/migrations';

/**
 * What the console's activity pictures are drawn from (README "Activity"):
 * - `operation_stats_hourly`: an app's GraphQL calls, errors and total latency per operation and hour (UTC), added
 *   by the same 5 s flush as `operation_stats` (bundles/stats.ts) and kept 90 days; a tenant's rows, with tenant_id in
 *   every key (the primary key leads with it and the app: an app's hours are one range of it);
 * - `webhook_attempts.webhook_id`: the subscription of each attempt's delivery, written with the attempt, so that a
 *   subscription's (or an app's subscriptions') attempts of the last days are one index range, however long their
 *   delivery history. Existing attempts get theirs from their delivery.
 */
export class Migration20261210010000_activity extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table operation_stats_hourly (
        app_id text not null,
        operation_id text not null,
        hour timestamptz not null,
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        operation_name text not null,
        calls bigint not null,
        errors bigint not null,
        total_ms double precision not null,
        primary key (tenant_id, app_id, hour, operation_id),
        foreign key (tenant_id, app_id) references apps(tenant_id, id) on delete cascade deferrable initially deferred
      );
      -- The flush's pruning of hours past their retention, across tenants.
      create index operation_stats_hourly_hour_idx on operation_stats_hourly (hour);

      alter table webhook_attempts add column webhook_id text null;
      update webhook_attempts a set webhook_id = d.webhook_id
        from webhook_deliveries d where d.id = a.delivery_id and d.tenant_id = a.tenant_id;
      alter table webhook_attempts alter column webhook_id set not null;
      create index webhook_attempts_webhook_time_idx on webhook_attempts (tenant_id, webhook_id, attempted_at);
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop index webhook_attempts_webhook_time_idx;
      alter table webhook_attempts drop column webhook_id;
      drop table operation_stats_hourly;
    `);
  }
}
