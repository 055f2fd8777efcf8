import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const Scope = defineEntity({
  name: 'Scope',
  tableName: 'scopes',
  properties: {
    name: p.string().primary(),
    description: p.string(),
    /** Unpublished scopes never appear in the catalog and can never be requested by an app. */
    published: p.boolean(),
  },
});
export type Scope = InferEntity<typeof Scope>;

export type GrantType = 'authorization_code' | 'client_credentials' | 'refresh_token';
/** README "App states": what each refuses. A deleted app is a tombstone: its id is never reused, its tokens never work. */
export type AppStatus = 'active' | 'suspended' | 'deleted';
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export const App = defineEntity({
  name: 'App',
  tableName: 'apps',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    name: p.string(),
    grantTypes: p.json<GrantType[]>(),
    redirectUris: p.json<string[]>(),
    /** Where RP-initiated logout may send the user back to (OpenID Connect RP-Initiated Logout 1.0 section 3.1). */
    postLogoutRedirectUris: p.json<string[]>(),
    approvedScopes: p.json<string[]>(),
    tokenEndpointAuthMethod: p.string().$type<TokenEndpointAuthMethod>(),
    allowServiceTokens: p.boolean(),
    enforcePkce: p.boolean(),
    accessTokenTtl: p.integer(),
    serviceTokenMaxTtl: p.integer(),
    createdBy: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
    status: p.string().$type<AppStatus>().default('active'),
    suspendedAt: p.datetime().nullable(),
    suspendedReason: p.text().nullable(),
    deletedAt: p.datetime().nullable(),
    /** `console`: the web console's own client in this tenant, the platform's (README "Console"); null: the tenant's. */
    firstParty: p.string().$type<'console'>().nullable(),
  },
});
export type App = InferEntity<typeof App>;

/** The published scopes an operator lets a tenant use; no row: every published scope, those published later too. */
export const TenantScopes = defineEntity({
  name: 'TenantScopes',
  tableName: 'tenant_scopes',
  properties: {
    tenantId: p.string().primary(),
    scopes: p.json<string[]>(),
    updatedBy: p.string(),
    updatedAt: p.datetime(),
  },
});
export type TenantScopes = InferEntity<typeof TenantScopes>;

export const ClientSecret = defineEntity({
  name: 'ClientSecret',
  tableName: 'client_secrets',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    appId: p.string(),
    /** SHA-256 of the secret, hex; the secret itself is shown once and never stored. */
    secretHash: p.string().hidden(),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** Null while current; set when a rotation starts the grace period (or ends it at once). */
    expiresAt: p.datetime().nullable(),
  },
});
export type ClientSecret = InferEntity<typeof ClientSecret>;

export const ServiceToken = defineEntity({
  name: 'ServiceToken',
  tableName: 'service_tokens',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    appId: p.string(),
    scopes: p.json<string[]>(),
    createdBy: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
    revokedAt: p.datetime().nullable(),
  },
});
export type ServiceToken = InferEntity<typeof ServiceToken>;
