import { Migration } from '@mikro-orm/migrations';

/** The OAuth 2 authorization server: pending requests, sessions, consents, grants, codes and refresh tokens. */
export class Migration20261126010000_oauth extends Migration {
  override async up(): Promise<void> {
    const tenant = 'text not null references tenants(id) on delete cascade deferrable initially deferred';
    const app = 'text not null references apps(id) on delete cascade deferrable initially deferred';
    const user = 'text not null references users(id) on delete cascade deferrable initially deferred';
    this.addSql(`
      create table oauth_authorization_requests (
        id text primary key,
        tenant_id ${tenant},
        app_id ${app},
        redirect_uri text not null,
        scopes jsonb not null,
        state text,
        code_challenge text,
        csrf_token text not null,
        browser_binding text not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null
      );

      create table oauth_login_sessions (
        id text primary key,
        tenant_id ${tenant},
        user_id ${user},
        created_at timestamptz not null default now(),
        expires_at timestamptz not null
      );

      create table oauth_consents (
        id text primary key,
        tenant_id ${tenant},
        user_id ${user},
        app_id ${app},
        scope_set text not null,
        created_at timestamptz not null default now(),
        unique (user_id, app_id, scope_set)
      );

      create table oauth_grants (
        id text primary key,
        tenant_id ${tenant},
        app_id ${app},
        user_id ${user},
        scopes jsonb not null,
        created_at timestamptz not null default now(),
        revoked_at timestamptz,
        revoked_reason text
      );

      create table oauth_authorization_codes (
        id text primary key,
        tenant_id ${tenant},
        app_id ${app},
        user_id ${user},
        grant_id text not null references oauth_grants(id) on delete cascade deferrable initially deferred,
        redirect_uri text not null,
        scopes jsonb not null,
        code_challenge text,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null,
        used_at timestamptz
      );

      create table oauth_refresh_tokens (
        id text primary key,
        tenant_id ${tenant},
        app_id ${app},
        grant_id text not null references oauth_grants(id) on delete cascade deferrable initially deferred,
        scopes jsonb not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null,
        used_at timestamptz
      );
      create index oauth_refresh_tokens_grant_idx on oauth_refresh_tokens (grant_id);

      create table oauth_grant_access_tokens (
        jti text primary key,
        tenant_id ${tenant},
        grant_id text not null references oauth_grants(id) on delete cascade deferrable initially deferred,
        expires_at timestamptz not null
      );
      create index oauth_grant_access_tokens_grant_idx on oauth_grant_access_tokens (grant_id);

      create table oauth_login_throttles (
        id text primary key,
        tenant_id ${tenant},
        failures integer not null,
        last_failure_at timestamptz not null,
        locked_until timestamptz
      );
    `);
  }
}
