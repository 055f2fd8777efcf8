import { Migration } from '@mikro-orm/migrations';

/** Tenancy, signing keys, the scope catalog, apps, secrets, service tokens and the audit log. */
export class Migration20261126000000_platform_core extends Migration {
  override async up(): Promise<void> {
    // Foreign keys are checked at commit (deferrable): the unit of work inserts in any order it likes.
    this.addSql(`
      create table tenants (
        id text primary key,
        slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
        name text not null,
        created_at timestamptz not null default now()
      );

      create table users (
        id text primary key,
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        email text not null,
        password_hash text not null,
        roles jsonb not null default '[]',
        created_at timestamptz not null default now()
      );
      create unique index users_tenant_email_uq on users (tenant_id, lower(email));

      create table signing_keys (
        kid text primary key,
        alg text not null,
        state text not null check (state in ('next', 'active', 'retired', 'expired')),
        public_jwk jsonb not null,
        private_key_sealed text not null,
        created_at timestamptz not null default now(),
        activated_at timestamptz,
        retired_at timestamptz,
        token_horizon timestamptz
      );
      -- At most one key signs and at most one waits to sign, whatever races between processes.
      create unique index signing_keys_one_active on signing_keys (state) where state in ('active', 'next');

      create table revoked_tokens (
        jti text primary key,
        expires_at timestamptz not null,
        revoked_at timestamptz not null default now()
      );
      create index revoked_tokens_expires_idx on revoked_tokens (expires_at);

      create table scopes (
        name text primary key,
        description text not null,
        published boolean not null
      );
      insert into scopes (name, description, published) values
        ('incidents:read', 'Read incidents and their notes', true),
        ('incidents:write', 'Create, update and close incidents and add notes', true),
        ('webhooks:read', 'List webhook subscriptions and their delivery history', true),
        ('webhooks:write', 'Create and update outbound webhook subscriptions', true),
        ('incidents:export', 'Bulk export of incident history (not yet offered to integrators)', false);

      create table apps (
        id text primary key,
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        name text not null,
        grant_types jsonb not null,
        redirect_uris jsonb not null,
        approved_scopes jsonb not null,
        token_endpoint_auth_method text not null,
        allow_service_tokens boolean not null default false,
        enforce_pkce boolean not null default false,
        access_token_ttl integer not null,
        service_token_max_ttl integer not null,
        created_by text not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );
      create index apps_tenant_page_idx on apps (tenant_id, created_at, id);

      create table client_secrets (
        id text primary key,
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        app_id text not null references apps(id) on delete cascade deferrable initially deferred,
        secret_hash text not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz
      );
      create index client_secrets_app_idx on client_secrets (app_id);

      create table service_tokens (
        id text primary key,
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        app_id text not null references apps(id) on delete cascade deferrable initially deferred,
        scopes jsonb not null,
        created_by text not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null,
        revoked_at timestamptz
      );
      create index service_tokens_app_page_idx on service_tokens (app_id, created_at, id);

      create table audit_events (
        id text primary key,
        tenant_id text references tenants(id) on delete cascade deferrable initially deferred,
        actor text not null,
        action text not null,
        target_type text not null,
        target_id text not null,
        details jsonb not null default '{}',
        created_at timestamptz not null default now()
      );
      create index audit_events_tenant_page_idx on audit_events (tenant_id, created_at desc, id desc);
    `);
  }
}
