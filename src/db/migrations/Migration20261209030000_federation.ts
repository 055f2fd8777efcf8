import { Migration } from '@mikro-orm/migrations';

/**
 * Federation per tenant (README "Federation"): a tenant's identity providers (SAML 2.0 and upstream OpenID Connect),
 * the email domains each answers for (home-realm discovery; one provider per domain in a tenant), the links of
 * federated subjects to the tenant's users, the round trips under way (an AuthnRequest or an OIDC request, then the
 * one-time ticket that hands the verified sign-in to the hosted pages), the SAML assertions already used (replay,
 * SAML 2.0 profiles section 4.1.4.5), and each tenant's SAML service provider key pair (its private key sealed under
 * SECRETS_KEY).
 *
 * Every table is tenant-owned: tenant_id is in every key, and references between them name it at the same position
 * (README "Scaling past one PostgreSQL"; test/sharding.test.ts).
 */
export class Migration20261209030000_federation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table identity_providers (
        id text not null,
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        protocol text not null check (protocol in ('saml', 'oidc')),
        name text not null,
        enabled boolean not null default true,
        email_domains jsonb not null default '[]',
        role_mapping jsonb null,
        oidc_issuer text null,
        oidc_client_id text null,
        oidc_client_secret text null,
        oidc_scopes jsonb not null default '[]',
        saml_entity_id text null,
        saml_sso_url text null,
        saml_certificates jsonb not null default '[]',
        saml_allow_idp_initiated boolean not null default false,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        primary key (id, tenant_id),
        check (protocol <> 'oidc' or (oidc_issuer is not null and oidc_client_id is not null and oidc_client_secret is not null)),
        check (protocol <> 'saml' or (saml_entity_id is not null and saml_sso_url is not null))
      );
      create index identity_providers_tenant_idx on identity_providers (tenant_id, created_at, id);

      create table identity_provider_domains (
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        domain text not null,
        provider_id text not null,
        primary key (tenant_id, domain),
        foreign key (tenant_id, provider_id) references identity_providers (tenant_id, id) on delete cascade deferrable initially deferred
      );

      create table federated_identities (
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        provider_id text not null,
        subject text not null,
        user_id text not null,
        created_at timestamptz not null,
        last_sign_in_at timestamptz not null,
        primary key (tenant_id, provider_id, subject),
        foreign key (tenant_id, provider_id) references identity_providers (tenant_id, id) on delete cascade deferrable initially deferred,
        foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade deferrable initially deferred
      );

      create table federation_logins (
        id text not null,
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        provider_id text not null,
        authorization_request_id text null,
        saml_request_id text null,
        oidc_code_verifier text null,
        oidc_nonce text null,
        ticket text null,
        user_id text null,
        created_at timestamptz not null,
        expires_at timestamptz not null,
        primary key (id, tenant_id),
        foreign key (tenant_id, provider_id) references identity_providers (tenant_id, id) on delete cascade deferrable initially deferred
      );
      create unique index federation_logins_saml_request_uq on federation_logins (tenant_id, saml_request_id) where saml_request_id is not null;
      create index federation_logins_ticket_idx on federation_logins (ticket) where ticket is not null;
      create index federation_logins_expiry_idx on federation_logins (tenant_id, expires_at);

      create table saml_seen_assertions (
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        provider_id text not null,
        assertion_id text not null,
        expires_at timestamptz not null,
        primary key (tenant_id, provider_id, assertion_id),
        foreign key (tenant_id, provider_id) references identity_providers (tenant_id, id) on delete cascade deferrable initially deferred
      );
      create index saml_seen_assertions_expiry_idx on saml_seen_assertions (tenant_id, expires_at);

      create table saml_sp_keys (
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        private_key text not null,
        certificate text not null,
        created_at timestamptz not null,
        primary key (tenant_id)
      );
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop table saml_sp_keys;
      drop table saml_seen_assertions;
      drop table federation_logins;
      drop table federated_identities;
      drop table identity_provider_domains;
      drop table identity_providers;
    `);
  }
}
