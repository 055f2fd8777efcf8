import { Migration } from '@mikro-orm/migrations';

/**
 * Platform-wide audit entries (no tenant: signing key rotations, bundle publications) move to a table of their own,
 * so that every row of `audit_events` belongs to a tenant and its tenant_id can be NOT NULL and part of its keys (the
 * next migration), as distribution by tenant needs (README "Scaling past one PostgreSQL").
 */
export class Migration20261202000000_platform_audit extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table platform_audit_events (
        id text primary key,
        actor text not null,
        action text not null,
        target_type text not null,
        target_id text not null,
        details jsonb not null default '{}',
        created_at timestamptz not null default now()
      );
      insert into platform_audit_events (id, actor, action, target_type, target_id, details, created_at)
        select id, actor, action, target_type, target_id, details, created_at from audit_events where tenant_id is null;
      delete from audit_events where tenant_id is null;
      alter table audit_events alter column tenant_id set not null;
    `);
  }
}
