import { Migration } from '@mikro-orm/migrations';

/**
 * TOTP for local accounts (README "MFA"):
 * - `user_totp`: a user's authenticator, its RFC 6238 secret sealed under SECRETS_KEY, and the last time step a code
 *   was accepted for, so that a code is never accepted twice (RFC 6238 section 5.2);
 * - `user_recovery_codes`: the one-time recovery codes, as SHA-256 of the user id and the code (80 random bits each,
 *   so no slow hash is needed), each used once;
 * - `oauth_mfa_challenges`: the step between a correct password and a session (a code to confirm, an authenticator
 *   to enrol), one per pending authorization request, gone with it.
 * Every key has tenant_id, as on every tenant-owned table (Migration20261202010000_tenant_keys).
 */
export class Migration20261209020000_totp extends Migration {
  override async up(): Promise<void> {
    const tenant = 'text not null references tenants(id) on delete cascade deferrable initially deferred';
    const ofUser = 'foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade deferrable initially deferred';
    this.addSql(`
      create table user_totp (
        user_id text not null,
        tenant_id ${tenant},
        secret_sealed text not null,
        last_step bigint,
        enabled_at timestamptz not null,
        primary key (user_id, tenant_id),
        ${ofUser}
      );

      create table user_recovery_codes (
        id text not null,
        tenant_id ${tenant},
        user_id text not null,
        created_at timestamptz not null,
        used_at timestamptz,
        primary key (id, tenant_id),
        ${ofUser}
      );
      create index user_recovery_codes_user_idx on user_recovery_codes (tenant_id, user_id);

      create table oauth_mfa_challenges (
        request_id text not null,
        tenant_id ${tenant},
        user_id text not null,
        step text not null check (step in ('verify', 'enrol', 'enrolled')),
        secret_sealed text,
        created_at timestamptz not null,
        expires_at timestamptz not null,
        primary key (request_id, tenant_id),
        foreign key (tenant_id, request_id) references oauth_authorization_requests (tenant_id, id) on delete cascade deferrable initially deferred,
        ${ofUser}
      );
    `);
  }

  override async down(): Promise<void> {
    this.addSql('drop table oauth_mfa_challenges; drop table user_recovery_codes; drop table user_totp;');
  }
}
