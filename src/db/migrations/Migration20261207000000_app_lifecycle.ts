import { Migration } from '@mikro-orm/migrations';

/**
 * The lifecycle of an app (README "App states"): active, suspended (no token issued, every token refused, webhook
 * deliveries held) or deleted. A deleted app stays as a tombstone of its id, tenant and name, so that its tokens are
 * refused for as long as they live and its client_id is never handed out again; everything it held is removed.
 *
 * tenant_scopes: the published scopes an operator lets a tenant use; a tenant without a row may use every published
 * scope, those published later too.
 */
export class Migration20261207000000_app_lifecycle extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table apps
        add column status text not null default 'active' check (status in ('active', 'suspended', 'deleted')),
        add column suspended_at timestamptz null,
        add column suspended_reason text null,
        add column deleted_at timestamptz null;

      create table tenant_scopes (
        tenant_id text primary key references tenants(id) on delete cascade deferrable initially deferred,
        scopes jsonb not null,
        updated_by text not null,
        updated_at timestamptz not null default now()
      );
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop table tenant_scopes;
      alter table apps drop column status, drop column suspended_at, drop column suspended_reason, drop column deleted_at;
    `);
  }
}
