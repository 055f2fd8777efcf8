import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export type FederationProtocol = 'saml' | 'oidc';
export type MappedRole = 'admin' | 'member';

/**
 * How an identity provider's claim (OIDC) or attribute (SAML) becomes the user's roles: each value the user has that
 * is named in `values` gives that role; a user with none of them gets `defaultRole`, or is refused when it is null.
 */
export interface RoleMapping {
  claim: string;
  values: Record<string, MappedRole>;
  defaultRole: MappedRole | null;
}

/** One identity provider of a tenant (README "Federation"). */
export const IdentityProvider = defineEntity({
  name: 'IdentityProvider',
  tableName: 'identity_providers',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    protocol: p.string().$type<FederationProtocol>(),
    /** What the button on the hosted login page says: "Sign in with <name>". */
    name: p.string(),
    enabled: p.boolean().default(true),
    /** The email domains this provider answers for (home-realm discovery), lower case. */
    emailDomains: p.json<string[]>(),
    roleMapping: p.json<RoleMapping>().nullable(),
    oidcIssuer: p.text().nullable(),
    oidcClientId: p.text().nullable(),
    /** Sealed under SECRETS_KEY (secret-box.ts); never answered. */
    oidcClientSecret: p.text().nullable(),
    oidcScopes: p.json<string[]>(),
    samlEntityId: p.text().nullable(),
    samlSsoUrl: p.text().nullable(),
    /** The IdP's signing certificates, base64 DER (the content of ds:X509Certificate). */
    samlCertificates: p.json<string[]>(),
    /** SAML 2.0 profiles section 4.1.5: an unsolicited response. Off unless the tenant admin turns it on. */
    samlAllowIdpInitiated: p.boolean().default(false),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  },
});
export type IdentityProvider = InferEntity<typeof IdentityProvider>;

/** An email domain and the one provider of the tenant it belongs to. */
export const IdentityProviderDomain = defineEntity({
  name: 'IdentityProviderDomain',
  tableName: 'identity_provider_domains',
  properties: {
    tenantId: p.string().primary(),
    domain: p.string().primary(),
    providerId: p.string(),
  },
});
export type IdentityProviderDomain = InferEntity<typeof IdentityProviderDomain>;

/** A subject of a provider (SAML NameID, OIDC `sub`) and the tenant's user it signs in as. */
export const FederatedIdentity = defineEntity({
  name: 'FederatedIdentity',
  tableName: 'federated_identities',
  properties: {
    tenantId: p.string().primary(),
    providerId: p.string().primary(),
    subject: p.string().primary(),
    userId: p.string(),
    createdAt: p.datetime(),
    lastSignInAt: p.datetime(),
  },
});
export type FederatedIdentity = InferEntity<typeof FederatedIdentity>;

/**
 * One federated sign-in under way: sent to the provider (`id` is the SHA-256 of the OIDC `state` or SAML RelayState,
 * `samlRequestId` the AuthnRequest's ID), then, once the provider's answer is verified, the one-time `ticket`
 * (SHA-256) that hands the signed-in user to the hosted pages, which check the browser.
 */
export const FederationLogin = defineEntity({
  name: 'FederationLogin',
  tableName: 'federation_logins',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    providerId: p.string(),
    /** The pending authorization request it signs in for; null for an IdP-initiated SAML sign-in. */
    authorizationRequestId: p.string().nullable(),
    samlRequestId: p.string().nullable(),
    /** Sealed under SECRETS_KEY. */
    oidcCodeVerifier: p.text().nullable(),
    oidcNonce: p.string().nullable(),
    ticket: p.string().nullable(),
    userId: p.string().nullable(),
    createdAt: p.datetime(),
    expiresAt: p.datetime(),
  },
});
export type FederationLogin = InferEntity<typeof FederationLogin>;

/** An assertion already used, kept until it would have expired anyway. */
export const SamlSeenAssertion = defineEntity({
  name: 'SamlSeenAssertion',
  tableName: 'saml_seen_assertions',
  properties: {
    tenantId: p.string().primary(),
    providerId: p.string().primary(),
    assertionId: p.string().primary(),
    expiresAt: p.datetime(),
  },
});
export type SamlSeenAssertion = InferEntity<typeof SamlSeenAssertion>;

/** The tenant's SAML service provider key pair: signs AuthnRequests, published in the SP metadata. */
export const SamlSpKey = defineEntity({
  name: 'SamlSpKey',
  tableName: 'saml_sp_keys',
  properties: {
    tenantId: p.string().primary(),
    /** PKCS#8 PEM, sealed under SECRETS_KEY. */
    privateKey: p.text().hidden(),
    certificate: p.text(),
    createdAt: p.datetime(),
  },
});
export type SamlSpKey = InferEntity<typeof SamlSpKey>;

export const federationEntities = [IdentityProvider, IdentityProviderDomain, FederatedIdentity, FederationLogin, SamlSeenAssertion, SamlSpKey];
