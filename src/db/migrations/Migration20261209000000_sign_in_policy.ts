import { Migration } from '@mikro-orm/migrations';

/**
 * What enterprise identity builds on (README "Enterprise identity"):
 * - a login session remembers how the user signed in (`amr`, RFC 8176 values: `pwd`, `otp`, `fed`...), for the ID
 *   token's `amr`/`acr` and for `max_age` (its `created_at` is the `auth_time`);
 * - a tenant's sign-in policy: whether TOTP is required (of admins, of everyone) and whether local passwords are off
 *   (federation required).
 */
export class Migration20261209000000_sign_in_policy extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table oauth_login_sessions add column amr jsonb not null default '["pwd"]';
      alter table tenants
        add column mfa_required text not null default 'none' check (mfa_required in ('none', 'admins', 'everyone')),
        add column federation_required boolean not null default false;
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      alter table oauth_login_sessions drop column amr;
      alter table tenants drop column mfa_required, drop column federation_required;
    `);
  }
}
