import { Migration } from '@mikro-orm/migrations';

/**
 * Integration requests and sandbox tenants (README "Integration requests", "Sandbox tenants"):
 * - `tenants` gain what makes a sandbox: the flag, when it expires (its tokens are refused from then on), when the
 *   sweep disabled it, and the tenant whose approved request made it (null when an operator made it directly; set
 *   null if that tenant goes, the sandbox lives out its own term). Removing a sandbox deletes its row, and every
 *   tenant-owned table goes with it (each refers to tenants on delete cascade).
 * - `integration_requests`: what a tenant admin or an app asked the operators for, and what they decided. Tenant-owned,
 *   so tenant_id is in every key (README "Scaling past one PostgreSQL"); the app that asked, when one did, is named
 *   with its tenant, like every reference between tenants' tables.
 */
export class Migration20261208010000_integration_requests extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table tenants
        add column sandbox boolean not null default false,
        add column expires_at timestamptz null,
        add column disabled_at timestamptz null,
        add column parent_tenant_id text null references tenants(id) on delete set null,
        add constraint tenants_sandbox_expiry_check check (not sandbox or expires_at is not null);
      -- The sweep's two questions (which sandboxes are past their term, which past the grace after it) read this.
      create index tenants_sandbox_expires_idx on tenants (expires_at) where sandbox;

      create table integration_requests (
        id text not null,
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        requested_by text not null,
        requester_client_id text null,
        kind text not null check (kind in ('bundle', 'scopes', 'federation', 'sandbox', 'platform_access')),
        details jsonb not null,
        justification text not null,
        status text not null default 'pending' check (status in ('pending', 'approved', 'denied')),
        decision_note text null,
        decided_by text null,
        decided_at timestamptz null,
        result jsonb null,
        created_at timestamptz not null,
        primary key (id, tenant_id),
        foreign key (tenant_id, requester_client_id) references apps (tenant_id, id) on delete cascade deferrable initially deferred,
        check ((status = 'pending') = (decided_at is null))
      );
      create index integration_requests_tenant_idx on integration_requests (tenant_id, created_at, id);
      create index integration_requests_status_idx on integration_requests (status, created_at, id);
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop table integration_requests;
      drop index tenants_sandbox_expires_idx;
      alter table tenants
        drop constraint tenants_sandbox_expiry_check,
        drop column parent_tenant_id,
        drop column disabled_at,
        drop column expires_at,
        drop column sandbox;
    `);
  }
}
