// Federated sign-in, end to end. The hosted login page (src/oauth) asks this service for the tenant's providers and
// sends the browser to one (`begin`): a row remembers the round trip (the SAML AuthnRequest ID, or the OIDC state,
// nonce and PKCE verifier) for the pending authorization request. The provider's answer arrives at the ACS URL (SAML,
// a cross-site POST) or the OIDC callback (a GET): verified, the user found or made just in time, and a one-time
// ticket handed back to the hosted pages (`/v1/oauth/federated?ticket=`), which check that the browser is the one
// that started the request (its cookie, which a cross-site POST does not carry: SameSite=Lax) and sign the user in
// with `amr: ["fed"]`. So the pending request's browser binding and CSRF token hold through the round trip: the
// request is only continued where it began, and only from its own form.
//
// IdP-initiated SAML (an unsolicited response, SAML 2.0 profiles section 4.1.5) is refused unless the provider allows
// it; when it does, the sign-in continues the newest pending authorization request of the same browser in the tenant,
// and with none the user is told to start from the application. No code is ever issued to an app that did not ask.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { forTenant } from '../db/tenant.js';
import { AccessDenied, InvalidRequest, NotFound } from '../errors.js';
import { sha256 } from '../ids.js';
import type { Logger } from '../observability/log.js';
import type { ExternalSignIn, ExternalSignInResult, SignInOption } from '../oauth/authorize.js';
import type { SecretBox } from '../secret-box.js';
import type { Tenant, TenancyService } from '../tenancy/service.js';
import { FederationLogin, IdentityProvider, SamlSeenAssertion } from './entities.js';
import type { FederatedProfile, FederatedUsers } from './identities.js';
import type { UpstreamOidc } from './oidc.js';
import { OidcRefusal } from './oidc.js';
import type { IdentityProviderService } from './providers.js';
import { SamlRefusal, type SamlServiceProvider } from './saml.js';
import { UnsafeXml } from './saml-metadata.js';

/** As long as the pending authorization request lives (oauth/authorize.ts): the user is at their IdP meanwhile. */
const ROUND_TRIP_MS = 10 * 60_000;
/** The ticket is followed at once by the browser (a 303); a little time for a slow one. */
const TICKET_MS = 2 * 60_000;
/** RFC 8176 has no value for "signed in through another identity provider"; `fed` is the one in common use. */
export const FEDERATED_AMR = ['fed'];
const BASE64 = /^[A-Za-z0-9+/=\s]+$/;

const roundTripPurpose = (id: string) => `federation-oidc-verifier:${id}`;

/** The pieces of a verified sign-in that make a ticket. */
interface Verified {
  tenantId: string;
  provider: IdentityProvider;
  authorizationRequestId: string | null;
  profile: FederatedProfile;
}

export class FederationService implements ExternalSignIn {
  constructor(
    private readonly orm: MikroORM,
    private readonly providers: IdentityProviderService,
    private readonly saml: SamlServiceProvider,
    private readonly oidc: UpstreamOidc,
    private readonly users: FederatedUsers,
    private readonly tenancy: TenancyService,
    private readonly box: SecretBox,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  private now(): Date {
    return new Date(this.clock.now());
  }

  // ---------------------------------------------------------------------------------------------- for the login page

  async options(tenantId: string): Promise<SignInOption[]> {
    return (await this.providers.enabled(forTenant(this.orm.em, tenantId))).map((p) => ({ id: p.id, name: p.name }));
  }

  async providerForEmail(tenantId: string, email: string): Promise<SignInOption | null> {
    const provider = await this.providers.forEmail(forTenant(this.orm.em, tenantId), email);
    return provider ? { id: provider.id, name: provider.name } : null;
  }

  /** Starts the round trip to `providerId` for the pending request: the URL to send the browser to. */
  async begin(pending: { tenantId: string; requestId: string }, providerId: string): Promise<string> {
    const em = forTenant(this.orm.em, pending.tenantId);
    const provider = await em.findOne(IdentityProvider, { id: providerId, enabled: true });
    if (!provider) throw new InvalidRequest('That identity provider is not available for this organisation. Choose another way to sign in.');
    const tenant = await this.tenancy.tenant(em, pending.tenantId);
    if (!tenant) throw new NotFound('no such tenant');
    const now = this.now();
    // Round trips abandoned at the IdP are removed as new ones start.
    await em.nativeDelete(FederationLogin, { expiresAt: { $lte: now } });
    const row = { tenantId: tenant.id, providerId, authorizationRequestId: pending.requestId, ticket: null, userId: null, createdAt: now, expiresAt: new Date(now.getTime() + ROUND_TRIP_MS) };
    try {
      if (provider.protocol === 'saml') {
        const relayState = randomBytes(32).toString('base64url');
        const samlRequestId = this.saml.newRequestId();
        const url = await this.saml.authnRequestUrl(em, tenant, provider, samlRequestId, relayState);
        em.create(FederationLogin, { ...row, id: sha256(relayState), samlRequestId, oidcCodeVerifier: null, oidcNonce: null });
        await em.flush();
        return url;
      }
      const trip = this.oidc.newRoundTrip();
      const url = await this.oidc.authorizationUrl(provider, trip);
      const id = sha256(trip.state);
      em.create(FederationLogin, { ...row, id, samlRequestId: null, oidcCodeVerifier: this.box.seal(trip.codeVerifier, roundTripPurpose(id)), oidcNonce: trip.nonce });
      await em.flush();
      return url;
    } catch (error) {
      if (error instanceof OidcRefusal) {
        this.logger.warn({ provider: provider.id, reason: error.message }, 'identity provider unusable');
        throw new InvalidRequest(`${provider.name} cannot be used now: ${error.message}. Try again later, or ask your administrator.`);
      }
      throw error;
    }
  }

  /** The ticket's sign-in, once: deleted as it is read, refused once expired. */
  async redeem(ticket: string): Promise<ExternalSignInResult | null> {
    if (!ticket) return null;
    const rows = await this.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ tenant_id: string; authorization_request_id: string | null; user_id: string }>>(
        'delete from federation_logins where ticket = ? and expires_at > ? returning tenant_id, authorization_request_id, user_id',
        [sha256(ticket), this.now()],
      );
    const row = rows[0];
    return row ? { tenantId: row.tenant_id, requestId: row.authorization_request_id, userId: row.user_id, amr: FEDERATED_AMR } : null;
  }

  /** The tenant of a federation URL, by slug; an unknown one is 404. */
  async tenantBySlug(slug: string): Promise<Tenant> {
    const tenant = /^[a-z0-9][a-z0-9-]{1,62}$/.test(slug) ? await this.tenancy.tenantBySlug(this.orm.em.fork(), slug) : null;
    if (!tenant) throw new NotFound(`no organisation ${slug}`);
    return tenant;
  }

  // ---------------------------------------------------------------------------------------------- SAML

  async spMetadata(slug: string): Promise<string> {
    const tenant = await this.tenantBySlug(slug);
    return this.saml.metadata(forTenant(this.orm.em, tenant.id), tenant);
  }

  /** An HTTP-POST `SAMLResponse` at the tenant's ACS URL: verified, it answers a ticket; refused, an error saying why. */
  async acs(slug: string, samlResponse: string | undefined, relayState: string | undefined): Promise<string> {
    const tenant = await this.tenantBySlug(slug);
    if (!samlResponse || !BASE64.test(samlResponse)) throw new InvalidRequest('The identity provider sent no SAMLResponse.');
    const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
    const em = forTenant(this.orm.em, tenant.id);
    try {
      const issuer = this.saml.issuerOf(xml);
      const provider = issuer ? await em.findOne(IdentityProvider, { protocol: 'saml', samlEntityId: issuer, enabled: true }) : null;
      if (!provider) throw new SamlRefusal(`it comes from no identity provider of this organisation${issuer ? ` (${issuer})` : ''}`);
      const assertion = await this.saml.verify(em, tenant, provider, xml);
      return await em.transactional(async (tx) => {
        const authorizationRequestId = await this.answeredRequest(tx, tenant, provider, assertion.inResponseTo, relayState);
        // SAML 2.0 profiles section 4.1.4.5: a bearer assertion is used once. Kept until it would have expired anyway.
        await tx.nativeDelete(SamlSeenAssertion, { expiresAt: { $lte: this.now() } });
        const fresh = await tx.execute<Array<{ assertion_id: string }>>(
          'insert into saml_seen_assertions (tenant_id, provider_id, assertion_id, expires_at) values (?, ?, ?, ?) on conflict do nothing returning assertion_id',
          [tenant.id, provider.id, assertion.assertionId, assertion.expiresAt],
        );
        if (!fresh.length) throw new SamlRefusal('this assertion has been used already (replay)');
        const profile = { subject: assertion.subject, email: assertion.email, emailVerified: true, claims: assertion.attributes };
        return this.ticketFor(tx, { tenantId: tenant.id, provider, authorizationRequestId, profile });
      });
    } catch (error) {
      throw this.refused(error, tenant.slug);
    }
  }

  /**
   * The pending authorization request a response answers: the one whose AuthnRequest it names (InResponseTo, in the
   * signed assertion), used up now; or, unsolicited, none (the hosted pages find the browser's own), where allowed.
   */
  private async answeredRequest(tx: EntityManager, tenant: Tenant, provider: IdentityProvider, inResponseTo: string | null, relayState: string | undefined): Promise<string | null> {
    if (!inResponseTo) {
      if (!provider.samlAllowIdpInitiated) throw new AccessDenied(`${provider.name} may not start a sign-in here (IdP-initiated sign-in is off). Start from the application instead.`);
      return null;
    }
    const rows = await tx.execute<Array<{ id: string; authorization_request_id: string | null }>>(
      'delete from federation_logins where tenant_id = ? and saml_request_id = ? and provider_id = ? and ticket is null and expires_at > ? returning id, authorization_request_id',
      [tenant.id, inResponseTo, provider.id, this.now()],
    );
    const row = rows[0];
    if (!row) throw new SamlRefusal('it answers no sign-in this service started, or one already finished (InResponseTo)');
    // RelayState is not signed; when the IdP returns it, it must still be the one sent with this request.
    if (relayState !== undefined && relayState !== '' && sha256(relayState) !== row.id) throw new SamlRefusal('its RelayState is not the one sent with the request');
    return row.authorization_request_id;
  }

  // ---------------------------------------------------------------------------------------------- OpenID Connect

  /** The OpenID provider's answer at the callback: verified, it answers a ticket. */
  async oidcCallback(query: URLSearchParams): Promise<string> {
    const state = query.get('state');
    if (!state) throw new InvalidRequest('The identity provider sent no state: this sign-in cannot be matched to a request. Go back to the application and start again.');
    const id = sha256(state);
    // Used up at once, whatever comes next: a state is good for one answer (RFC 6749 section 10.12).
    const rows = await this.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ tenant_id: string; provider_id: string; authorization_request_id: string | null; oidc_code_verifier: string; oidc_nonce: string }>>(
        'delete from federation_logins where id = ? and ticket is null and oidc_nonce is not null and expires_at > ? returning tenant_id, provider_id, authorization_request_id, oidc_code_verifier, oidc_nonce',
        [id, this.now()],
      );
    const row = rows[0];
    if (!row) throw new InvalidRequest('This sign-in has expired or was finished already. Go back to the application and start again.');
    const em = forTenant(this.orm.em, row.tenant_id);
    const provider = await em.findOne(IdentityProvider, { id: row.provider_id, enabled: true });
    if (!provider) throw new InvalidRequest('That identity provider is no longer available for this organisation.');
    try {
      const verified = await this.oidc.finish(provider, query, { state, nonce: row.oidc_nonce, codeVerifier: this.box.open(row.oidc_code_verifier, roundTripPurpose(id)) });
      const profile = { subject: verified.subject, email: verified.email, emailVerified: verified.emailVerified, claims: verified.claims };
      return await em.transactional((tx) => this.ticketFor(tx, { tenantId: row.tenant_id, provider, authorizationRequestId: row.authorization_request_id, profile }));
    } catch (error) {
      throw this.refused(error, row.tenant_id);
    }
  }

  // ---------------------------------------------------------------------------------------------- both

  /** The user this is (linked, or made just in time), and a one-time ticket for the hosted pages. */
  private async ticketFor(tx: EntityManager, verified: Verified): Promise<string> {
    const user = await this.users.resolve(tx, verified.provider, verified.profile);
    const ticket = randomBytes(32).toString('base64url');
    const now = this.now();
    tx.create(FederationLogin, {
      id: sha256(randomBytes(32).toString('base64url')),
      tenantId: verified.tenantId,
      providerId: verified.provider.id,
      authorizationRequestId: verified.authorizationRequestId,
      samlRequestId: null,
      oidcCodeVerifier: null,
      oidcNonce: null,
      ticket: sha256(ticket),
      userId: user.id,
      createdAt: now,
      expiresAt: new Date(now.getTime() + TICKET_MS),
    });
    this.logger.info({ tenant: verified.tenantId, provider: verified.provider.id, user: user.id }, 'federated sign-in verified');
    return ticket;
  }

  /** A refusal as the error page tells it; logged (a client's or an IdP's mistake: not at error level). */
  private refused(error: unknown, tenant: string): unknown {
    if (error instanceof SamlRefusal || error instanceof UnsafeXml || error instanceof OidcRefusal) {
      this.logger.warn({ tenant, reason: error.message }, 'federated sign-in refused');
      return new InvalidRequest(`The identity provider's answer was refused: ${error.message}.`);
    }
    if (error instanceof AccessDenied) this.logger.warn({ tenant, reason: error.description }, 'federated sign-in refused');
    return error;
  }

  /** Whether the tenant has an enabled provider (the tenancy asks before federation may be required). */
  async hasEnabledProvider(em: EntityManager, tenantId: string): Promise<boolean> {
    return (await em.count(IdentityProvider, { tenantId, enabled: true }, { filters: false })) > 0;
  }
}
