// A tenant's identity providers: what a tenant admin sets through /v1/platform/identity-providers, checked field by
// field (each refusal names its field), audited, with the OIDC client secret sealed (never answered) and every email
// domain held by one provider of the tenant at most (identity_provider_domains' key), so that home-realm discovery
// has one answer.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AuditService } from '../audit/service.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { Conflict, InvalidRequest, NotFound } from '../errors.js';
import { isLoopbackHost } from '../http/loopback.js';
import { afterCursor, decodeCursor, isoSeconds, toPage, type Page } from '../http/pagination.js';
import { newId } from '../ids.js';
import type { SecretBox } from '../secret-box.js';
import type { TenancyService } from '../tenancy/service.js';
import { IdentityProvider, IdentityProviderDomain, type MappedRole, type RoleMapping } from './entities.js';
import { normaliseCertificate, readIdpMetadata, UnsafeXml } from './saml-metadata.js';
import type { NewProviderBody, ProviderPatchBody } from './schemas.js';

export type { IdentityProvider } from './entities.js';

/** A tenant's providers at most: a login page lists the enabled ones as buttons. */
const MAX_PROVIDERS = 20;
/** RFC 1035 section 2.3.1 labels, at least two of them (a domain of email addresses). */
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** OIDC Core section 3.1.2.1: `openid` is always asked; these are the usual claims federation reads. */
export const DEFAULT_OIDC_SCOPES = ['openid', 'email', 'profile'];

const OIDC_ONLY = ['issuer', 'client_id', 'client_secret', 'scopes'] as const;
const SAML_ONLY = ['metadata_xml', 'entity_id', 'sso_url', 'certificates', 'allow_idp_initiated'] as const;

/** The sealed value's purpose: bound to the provider, so that it cannot be moved to another record. */
export const clientSecretPurpose = (providerId: string) => `federation-oidc-client-secret:${providerId}`;

/** Where this Tessera's federation endpoints are, for a tenant (the views name them for the IdP's configuration). */
export function endpointsOf(config: Config, tenantSlug: string) {
  return {
    oidcRedirectUri: `${config.issuer}/v1/federation/oidc/callback`,
    spEntityId: `${config.issuer}/v1/saml/${tenantSlug}/metadata`,
    acsUrl: `${config.issuer}/v1/saml/${tenantSlug}/acs`,
  };
}

export class IdentityProviderService {
  constructor(
    private readonly box: SecretBox,
    private readonly tenancy: TenancyService,
    private readonly audit: AuditService,
    private readonly config: Config,
    private readonly clock: Clock,
  ) {}

  /**
   * An https URL, or http to a host the operator allowed for outbound http (WEBHOOK_HTTP_HOSTS, as for webhooks) or a
   * loopback one (a browser's own machine); no credentials, no fragment.
   */
  private checkUrl(path: string, value: string): string {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw InvalidRequest.field(path, 'must be an absolute URL');
    }
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (this.config.webhooks.httpHosts.includes(host) || isLoopbackHost(url.hostname)))) {
      throw InvalidRequest.field(path, 'must use https');
    }
    if (url.username || url.password) throw InvalidRequest.field(path, 'must not hold credentials');
    if (url.hash) throw InvalidRequest.field(path, 'must not have a fragment');
    return value;
  }

  private checkDomains(domains: string[]): string[] {
    const lower = domains.map((d) => d.trim().toLowerCase());
    lower.forEach((domain, i) => {
      if (!DOMAIN.test(domain)) throw InvalidRequest.field(`body.email_domains[${i}]`, 'must be a domain name, e.g. acme.example');
    });
    if (new Set(lower).size !== lower.length) throw InvalidRequest.field('body.email_domains', 'must not name a domain twice');
    return lower;
  }

  private checkRoleMapping(mapping: NonNullable<NewProviderBody['role_mapping']> | null | undefined): RoleMapping | null {
    if (!mapping) return null;
    if (Object.keys(mapping.values).length > 100) throw InvalidRequest.field('body.role_mapping.values', 'must name at most 100 values');
    return { claim: mapping.claim, values: mapping.values as Record<string, MappedRole>, defaultRole: mapping.default_role === undefined ? 'member' : mapping.default_role };
  }

  /** The SAML fields: from the metadata, or given one by one; never both. */
  private samlFields(body: Pick<NewProviderBody, (typeof SAML_ONLY)[number]>, current?: IdentityProvider): Partial<IdentityProvider> {
    const direct = (['entity_id', 'sso_url', 'certificates'] as const).filter((f) => body[f] !== undefined);
    if (body.metadata_xml !== undefined) {
      if (direct.length) throw InvalidRequest.field(`body.${direct[0]}`, 'must not be given with metadata_xml, which sets it');
      try {
        const metadata = readIdpMetadata(body.metadata_xml);
        return { samlEntityId: metadata.entityId, samlSsoUrl: this.checkUrl('body.metadata_xml (its SingleSignOnService Location)', metadata.ssoUrl), samlCertificates: metadata.certificates };
      } catch (error) {
        if (error instanceof UnsafeXml) throw InvalidRequest.field('body.metadata_xml', `is not usable: ${error.message}`);
        throw error;
      }
    }
    const fields: Partial<IdentityProvider> = {};
    if (body.entity_id !== undefined) fields.samlEntityId = body.entity_id;
    if (body.sso_url !== undefined) fields.samlSsoUrl = this.checkUrl('body.sso_url', body.sso_url);
    if (body.certificates !== undefined) {
      fields.samlCertificates = body.certificates.map((text, i) => {
        const cert = normaliseCertificate(text);
        if (!cert) throw InvalidRequest.field(`body.certificates[${i}]`, 'must be an X.509 certificate (PEM or base64 DER)');
        return cert;
      });
    }
    if (!current) {
      if (fields.samlEntityId === undefined) throw InvalidRequest.field('body.entity_id', 'is required for a saml provider (or give metadata_xml)');
      if (fields.samlSsoUrl === undefined) throw InvalidRequest.field('body.sso_url', 'is required for a saml provider (or give metadata_xml)');
      if (fields.samlCertificates === undefined) throw InvalidRequest.field('body.certificates', 'is required for a saml provider (or give metadata_xml)');
    }
    return fields;
  }

  /** The OIDC fields; the issuer is normalised without a trailing slash, as discovery compares it (OIDC Discovery 4.3). */
  private oidcFields(id: string, body: Pick<NewProviderBody, (typeof OIDC_ONLY)[number]>, current?: IdentityProvider): Partial<IdentityProvider> {
    const fields: Partial<IdentityProvider> = {};
    if (body.issuer !== undefined) {
      const issuer = this.checkUrl('body.issuer', body.issuer);
      if (new URL(issuer).search) throw InvalidRequest.field('body.issuer', 'must not have a query');
      fields.oidcIssuer = issuer.replace(/\/+$/, '');
    }
    if (body.client_id !== undefined) fields.oidcClientId = body.client_id;
    if (body.client_secret !== undefined) fields.oidcClientSecret = this.box.seal(body.client_secret, clientSecretPurpose(id));
    // `openid` makes it an OpenID Connect request (OIDC Core section 3.1.2.1): always asked.
    if (body.scopes !== undefined) fields.oidcScopes = body.scopes.length ? [...new Set(['openid', ...body.scopes])] : DEFAULT_OIDC_SCOPES;
    if (!current) {
      for (const [field, value] of [['issuer', fields.oidcIssuer], ['client_id', fields.oidcClientId], ['client_secret', fields.oidcClientSecret]] as const) {
        if (value === undefined) throw InvalidRequest.field(`body.${field}`, 'is required for an oidc provider');
      }
    }
    return fields;
  }

  /** Fields of the other protocol are a mistake, named. */
  private refuseOtherProtocol(protocol: 'saml' | 'oidc', body: Record<string, unknown>): void {
    const foreign = (protocol === 'saml' ? OIDC_ONLY : SAML_ONLY).find((f) => body[f] !== undefined);
    if (foreign) throw InvalidRequest.field(`body.${foreign}`, `is not a field of a ${protocol} provider`);
  }

  /** Claims the domains for `providerId`: 409 naming a domain another provider of the tenant holds. */
  private async claimDomains(tx: EntityManager, tenantId: string, providerId: string, domains: string[]): Promise<void> {
    const held = await tx.find(IdentityProviderDomain, { domain: { $in: domains.length ? domains : [''] } });
    const taken = held.find((d) => d.providerId !== providerId);
    if (taken) throw new Conflict(`the email domain ${taken.domain} already belongs to the identity provider ${taken.providerId}`);
    const mine = await tx.find(IdentityProviderDomain, { providerId });
    for (const row of mine) if (!domains.includes(row.domain)) tx.remove(row);
    for (const domain of domains) if (!mine.some((row) => row.domain === domain)) tx.create(IdentityProviderDomain, { tenantId, domain, providerId });
  }

  async create(em: EntityManager, tenantId: string, actor: string, body: NewProviderBody): Promise<IdentityProvider> {
    this.refuseOtherProtocol(body.protocol, body);
    const id = newId('idp');
    const domains = this.checkDomains(body.email_domains ?? []);
    const roleMapping = this.checkRoleMapping(body.role_mapping);
    const specific = body.protocol === 'saml' ? this.samlFields(body) : this.oidcFields(id, body);
    return em.transactional(async (tx) => {
      if ((await tx.count(IdentityProvider, {})) >= MAX_PROVIDERS) throw new Conflict(`a tenant has at most ${MAX_PROVIDERS} identity providers`);
      const now = new Date(this.clock.now());
      const provider = tx.create(IdentityProvider, {
        id,
        tenantId,
        protocol: body.protocol,
        name: body.name.trim(),
        enabled: body.enabled ?? true,
        emailDomains: domains,
        roleMapping,
        oidcIssuer: null,
        oidcClientId: null,
        oidcClientSecret: null,
        oidcScopes: body.protocol === 'oidc' ? DEFAULT_OIDC_SCOPES : [],
        samlEntityId: null,
        samlSsoUrl: null,
        samlCertificates: [],
        samlAllowIdpInitiated: body.protocol === 'saml' ? (body.allow_idp_initiated ?? false) : false,
        createdAt: now,
        updatedAt: now,
        ...specific,
      });
      await this.claimDomains(tx, tenantId, id, domains);
      this.audit.record(tx, { tenantId, actor, action: 'identity_provider.created', targetType: 'identity_provider', targetId: id, details: this.auditDetails(provider) });
      return provider;
    });
  }

  async update(em: EntityManager, tenantId: string, actor: string, id: string, body: ProviderPatchBody): Promise<IdentityProvider> {
    return em.transactional(async (tx) => {
      const provider = await this.get(tx, id);
      this.refuseOtherProtocol(provider.protocol, body);
      const changed = Object.keys(body).filter((k) => k !== 'client_secret' && k !== 'metadata_xml');
      if (body.name !== undefined) provider.name = body.name.trim();
      if (body.role_mapping !== undefined) provider.roleMapping = this.checkRoleMapping(body.role_mapping);
      if (body.email_domains !== undefined) {
        provider.emailDomains = this.checkDomains(body.email_domains);
        await this.claimDomains(tx, tenantId, id, provider.emailDomains);
      }
      if (body.enabled === false && provider.enabled) await this.assertNotLastWay(tx, tenantId, id);
      if (body.enabled !== undefined) provider.enabled = body.enabled;
      Object.assign(provider, provider.protocol === 'saml' ? this.samlFields(body, provider) : this.oidcFields(id, body, provider));
      if (body.allow_idp_initiated !== undefined) provider.samlAllowIdpInitiated = body.allow_idp_initiated;
      provider.updatedAt = new Date(this.clock.now());
      const secretRotated = body.client_secret !== undefined;
      this.audit.record(tx, {
        tenantId,
        actor,
        action: 'identity_provider.updated',
        targetType: 'identity_provider',
        targetId: id,
        details: { changed: body.metadata_xml !== undefined ? [...changed, 'entity_id', 'sso_url', 'certificates'] : changed, ...(secretRotated ? { client_secret_rotated: true } : {}) },
      });
      return provider;
    });
  }

  async remove(em: EntityManager, tenantId: string, actor: string, id: string): Promise<void> {
    await em.transactional(async (tx) => {
      const provider = await this.get(tx, id);
      if (provider.enabled) await this.assertNotLastWay(tx, tenantId, id);
      tx.remove(provider);
      for (const domain of await tx.find(IdentityProviderDomain, { providerId: id })) tx.remove(domain);
      this.audit.record(tx, { tenantId, actor, action: 'identity_provider.deleted', targetType: 'identity_provider', targetId: id, details: this.auditDetails(provider) });
    });
  }

  /** While local passwords are off, the last enabled provider is the only way in: it stays (409). */
  private async assertNotLastWay(tx: EntityManager, tenantId: string, id: string): Promise<void> {
    const tenant = await this.tenancy.tenant(tx, tenantId);
    if (!tenant?.federationRequired) return;
    if ((await tx.count(IdentityProvider, { enabled: true, id: { $ne: id } })) === 0) {
      throw new Conflict("this is the tenant's last enabled identity provider and federation_required is on: its users would have no way to sign in");
    }
  }

  /** A provider of `em`'s tenant; another tenant's is not found, like an unknown one. */
  async get(em: EntityManager, id: string): Promise<IdentityProvider> {
    const provider = await em.findOne(IdentityProvider, { id });
    if (!provider) throw new NotFound(`no identity provider ${id}`);
    return provider;
  }

  async list(em: EntityManager, limit: number, cursor?: string): Promise<Page<IdentityProvider>> {
    const rows = await em.find(IdentityProvider, afterCursor(decodeCursor(cursor)), { orderBy: { createdAt: 'asc', id: 'asc' }, limit: limit + 1 });
    return toPage(rows, limit);
  }

  /** The enabled providers of `em`'s tenant, for the login page's buttons, oldest first. */
  async enabled(em: EntityManager): Promise<IdentityProvider[]> {
    return em.find(IdentityProvider, { enabled: true }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  }

  /** Home-realm discovery: the enabled provider of `em`'s tenant that holds the email's domain, or null. */
  async forEmail(em: EntityManager, email: string): Promise<IdentityProvider | null> {
    const domain = email.trim().toLowerCase().split('@')[1];
    if (!domain) return null;
    const row = await em.findOne(IdentityProviderDomain, { domain });
    if (!row) return null;
    const provider = await em.findOne(IdentityProvider, { id: row.providerId });
    return provider?.enabled ? provider : null;
  }

  /** The client secret, opened (only for the token request to the provider). */
  clientSecret(provider: IdentityProvider): string {
    return this.box.open(provider.oidcClientSecret!, clientSecretPurpose(provider.id));
  }

  private auditDetails(provider: IdentityProvider): Record<string, unknown> {
    return {
      protocol: provider.protocol,
      name: provider.name,
      enabled: provider.enabled,
      email_domains: provider.emailDomains,
      ...(provider.protocol === 'oidc' ? { issuer: provider.oidcIssuer, client_id: provider.oidcClientId } : { entity_id: provider.samlEntityId, sso_url: provider.samlSsoUrl }),
    };
  }

  /** The REST view: the secret never, the endpoints to give the IdP always. */
  view(provider: IdentityProvider, tenantSlug: string) {
    const endpoints = endpointsOf(this.config, tenantSlug);
    const mapping = provider.roleMapping;
    return {
      id: provider.id,
      protocol: provider.protocol,
      name: provider.name,
      enabled: provider.enabled,
      email_domains: provider.emailDomains,
      role_mapping: mapping ? { claim: mapping.claim, values: mapping.values, default_role: mapping.defaultRole } : null,
      ...(provider.protocol === 'oidc'
        ? { issuer: provider.oidcIssuer!, client_id: provider.oidcClientId!, scopes: provider.oidcScopes, redirect_uri: endpoints.oidcRedirectUri }
        : {
            entity_id: provider.samlEntityId!,
            sso_url: provider.samlSsoUrl!,
            certificates: provider.samlCertificates,
            allow_idp_initiated: provider.samlAllowIdpInitiated,
            sp_entity_id: endpoints.spEntityId,
            acs_url: endpoints.acsUrl,
            sp_metadata_url: endpoints.spEntityId,
          }),
      created_at: isoSeconds(provider.createdAt),
      updated_at: isoSeconds(provider.updatedAt),
    };
  }
}
