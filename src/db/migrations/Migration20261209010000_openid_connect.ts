import { Migration } from '@mikro-orm/migrations';

/**
 * OpenID Connect on top of the OAuth server (README "OpenID Connect"):
 * - the scopes `openid`, `profile` and `email` (OIDC Core sections 3.1.2.1 and 5.4) join the published catalog, so
 *   that apps are approved for them and tenants may be narrowed out of them like any other scope;
 * - an authorization request keeps its `nonce`, `prompt` and `max_age` (OIDC Core section 3.1.2.1) while the user
 *   signs in and consents; the code keeps the nonce for the ID token it is exchanged for;
 * - a grant keeps how and when the user signed in (`auth_time`, `amr`) and the login session (`sid`), which every
 *   ID token of the grant repeats, refreshed ones included (OIDC Core section 12.2);
 * - an app registers where it may be sent after logout (`post_logout_redirect_uris`, OpenID Connect RP-Initiated
 *   Logout 1.0 section 3.1).
 */
export class Migration20261209010000_openid_connect extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      insert into scopes (name, description, published) values
        ('openid', 'Sign you in with your Tessera account and know who you are', true),
        ('profile', 'Read your username and your roles in your organisation', true),
        ('email', 'Read your email address', true)
      on conflict (name) do nothing;

      alter table oauth_authorization_requests
        add column nonce text,
        add column prompt jsonb not null default '[]',
        add column max_age integer;
      alter table oauth_authorization_codes add column nonce text;
      alter table oauth_grants
        add column auth_time timestamptz,
        add column amr jsonb,
        add column login_session_id text;

      alter table apps add column post_logout_redirect_uris jsonb not null default '[]';
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      alter table apps drop column post_logout_redirect_uris;
      alter table oauth_grants drop column auth_time, drop column amr, drop column login_session_id;
      alter table oauth_authorization_codes drop column nonce;
      alter table oauth_authorization_requests drop column nonce, drop column prompt, drop column max_age;
      delete from scopes where name in ('openid', 'profile', 'email');
    `);
  }
}
