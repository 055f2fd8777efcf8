import { Migration } from '@mikro-orm/migrations';

/** Webhook subscriptions, deliveries and their attempts, and the worker heartbeats used for crash recovery. */
export class Migration20261126030000_webhooks extends Migration {
  override async up(): Promise<void> {
    const tenant = 'text not null references tenants(id) on delete cascade deferrable initially deferred';
    this.addSql(`
      create table webhook_subscriptions (
        id text primary key,
        tenant_id ${tenant},
        owner_client_id text references apps(id) on delete cascade deferrable initially deferred,
        created_by text not null,
        url text not null,
        events jsonb not null,
        enabled boolean not null,
        disabled_reason text,
        secret_sealed text not null,
        previous_secret_sealed text,
        previous_secret_expires_at timestamptz,
        failing_since timestamptz,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create index webhook_subscriptions_tenant_idx on webhook_subscriptions (tenant_id, created_at, id);

      create table webhook_deliveries (
        id text primary key,
        tenant_id ${tenant},
        webhook_id text not null references webhook_subscriptions(id) on delete cascade deferrable initially deferred,
        event_id text not null,
        event_type text not null,
        body text not null,
        status text not null check (status in ('queued', 'retrying', 'succeeded', 'failed')),
        attempts integer not null default 0,
        last_attempt_at timestamptz,
        next_attempt_at timestamptz,
        response_status integer,
        latency_ms integer,
        error text,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create index webhook_deliveries_webhook_idx on webhook_deliveries (webhook_id, created_at desc, id desc);

      create table webhook_attempts (
        id text primary key,
        tenant_id ${tenant},
        delivery_id text not null references webhook_deliveries(id) on delete cascade deferrable initially deferred,
        number integer not null,
        attempted_at timestamptz not null,
        response_status integer,
        latency_ms integer not null,
        error text,
        response_snippet text
      );
      create index webhook_attempts_delivery_idx on webhook_attempts (delivery_id, number);

      create table worker_heartbeats (
        worker_id text primary key,
        last_seen timestamptz not null
      );
    `);
  }
}
