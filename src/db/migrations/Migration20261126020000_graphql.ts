import { Migration } from '@mikro-orm/migrations';

/** Incidents (the domain behind GraphQL), the domain event outbox, operation bundles and their use. */
export class Migration20261126020000_graphql extends Migration {
  override async up(): Promise<void> {
    const tenant = 'text not null references tenants(id) on delete cascade deferrable initially deferred';
    this.addSql(`
      create table tenant_counters (
        tenant_id ${tenant},
        name text not null,
        value bigint not null,
        primary key (tenant_id, name)
      );

      create table incidents (
        id text primary key,
        tenant_id ${tenant},
        number integer not null,
        title text not null,
        summary text not null default '',
        status text not null check (status in ('OPEN', 'INVESTIGATING', 'MITIGATED', 'RESOLVED', 'CLOSED')),
        severity text not null check (severity in ('SEV1', 'SEV2', 'SEV3', 'SEV4')),
        labels jsonb not null default '[]',
        created_at timestamptz not null,
        updated_at timestamptz not null,
        closed_at timestamptz,
        unique (tenant_id, number)
      );
      create index incidents_tenant_updated_idx on incidents (tenant_id, updated_at);

      create table incident_notes (
        id text primary key,
        tenant_id ${tenant},
        incident_id text not null references incidents(id) on delete cascade deferrable initially deferred,
        author text not null,
        body text not null,
        created_at timestamptz not null
      );
      create index incident_notes_incident_idx on incident_notes (incident_id, created_at);

      create table domain_events (
        id text primary key,
        tenant_id ${tenant},
        type text not null,
        data jsonb not null,
        created_at timestamptz not null,
        dispatched_at timestamptz
      );
      create index domain_events_pending_idx on domain_events (created_at) where dispatched_at is null;

      create table bundle_versions (
        id text primary key,
        bundle text not null,
        version text not null,
        description text not null,
        content_hash text not null,
        published_at timestamptz not null,
        published_by text not null,
        unique (bundle, version)
      );

      create table bundle_operations (
        version_id text not null references bundle_versions(id) on delete cascade deferrable initially deferred,
        operation_id text not null,
        document text not null,
        operation_name text not null,
        operation_type text not null check (operation_type in ('query', 'mutation')),
        required_scopes jsonb not null,
        primary key (version_id, operation_id)
      );
      create index bundle_operations_id_idx on bundle_operations (operation_id);

      create table app_bundles (
        app_id text not null references apps(id) on delete cascade deferrable initially deferred,
        bundle text not null,
        tenant_id ${tenant},
        assigned_at timestamptz not null,
        assigned_by text not null,
        primary key (app_id, bundle)
      );

      create table operation_stats (
        app_id text not null references apps(id) on delete cascade deferrable initially deferred,
        operation_id text not null,
        tenant_id ${tenant},
        operation_name text not null,
        calls bigint not null,
        errors bigint not null,
        total_ms double precision not null,
        last_called_at timestamptz not null,
        primary key (app_id, operation_id)
      );
    `);
  }
}
