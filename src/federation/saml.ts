// The SAML 2.0 service provider of each tenant (SAML 2.0 profiles section 4.1, Web Browser SSO): its metadata, the
// AuthnRequest sent over HTTP-Redirect, and the verification of a Response received over HTTP-POST at the ACS URL.
//
// Signatures are @node-saml/node-saml's (xml-crypto underneath): the assertion must be signed by one of the IdP's
// configured certificates (wantAssertionsSigned, advertised in our metadata), a response with more than one assertion
// is refused (signature wrapping), and only the XML the signature covers is read afterwards. What the library leaves
// to us, or does on the process's own clock, is checked here on the injectable clock (DESIGN "Conventions" 12):
// Issuer, NotBefore/NotOnOrAfter with a small skew, the bearer SubjectConfirmation's Recipient and NotOnOrAfter, the
// Response's Destination, and which request it answers (InResponseTo, matched by the caller against the requests this
// server issued). A DOCTYPE or entity declaration is refused before any parser runs (saml-metadata.ts).
import { SAML, ValidateInResponseTo, type CacheProvider } from '@node-saml/node-saml';
import forge from 'node-forge';
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { SecretBox } from '../secret-box.js';
import type { Tenant } from '../tenancy/service.js';
import { SamlSpKey, type IdentityProvider } from './entities.js';
import { endpointsOf } from './providers.js';
import { parseXml, refuseDeclarations } from './saml-metadata.js';

const ASSERTION_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';
const PROTOCOL_NS = 'urn:oasis:names:tc:SAML:2.0:protocol';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
/** The NameID formats the SP accepts, in its metadata (SAML 2.0 core section 8.3). */
export const NAME_ID_FORMATS = [EMAIL_FORMAT, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified'];
/** Attribute names that carry an email address, as IdPs name them (eduPerson's `mail` OID, ADFS/Entra's claim URI). */
const EMAIL_ATTRIBUTES = ['email', 'mail', 'emailaddress', 'urn:oid:0.9.2342.19200300.100.1.3', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'];

/** Clocks differ a little between IdP and SP; SAML leaves the allowance to the SP (profiles section 4.1.4.3). */
export const CLOCK_SKEW_MS = 60_000;
const SP_CERT_YEARS = 10;

const generateRsa = promisify(generateKeyPair);

/** Why a response is refused: a sentence for the error page and the log. */
export class SamlRefusal extends Error {}

/** What a verified assertion says. */
export interface VerifiedAssertion {
  assertionId: string;
  subject: string;
  email: string | null;
  /** The request it answers (the signed SubjectConfirmationData's InResponseTo); null: unsolicited (IdP-initiated). */
  inResponseTo: string | null;
  /** Until when its ID must be remembered: the latest NotOnOrAfter it carries. */
  expiresAt: Date;
  attributes: Record<string, string[]>;
}

/** The library keeps no request ids: this server stores the ones it issued, per tenant, in PostgreSQL (the caller). */
const NO_CACHE: CacheProvider = {
  saveAsync: async () => null,
  getAsync: async () => null,
  removeAsync: async () => null,
};

/** Library messages worth passing on, reworded; anything else is a failed verification. */
function refusalOf(error: unknown): SamlRefusal {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof SamlRefusal) return error;
  if (/multiple assertions/i.test(message)) return new SamlRefusal('the response holds more than one assertion (signature wrapping)');
  if (/signature/i.test(message)) return new SamlRefusal("the assertion is not signed by the identity provider's certificate");
  if (/audience/i.test(message)) return new SamlRefusal('the assertion is not for this service (Audience)');
  if (/SAML provider returned/i.test(message)) return new SamlRefusal(`the identity provider did not sign you in: ${message.replace(/^SAML provider returned /, '')}`);
  return new SamlRefusal('the response could not be verified');
}

function children(parent: Element, ns: string, localName: string): Element[] {
  const found: Element[] = [];
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === 1 && (node as Element).namespaceURI === ns && (node as Element).localName === localName) found.push(node as Element);
  }
  return found;
}
const child = (parent: Element | undefined, ns: string, localName: string) => (parent ? children(parent, ns, localName)[0] : undefined);
const text = (element: Element | undefined) => (element?.textContent ?? '').trim();

function instant(value: string | null, what: string): number | null {
  if (!value) return null;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new SamlRefusal(`${what} is not a time`);
  return ms;
}

export class SamlServiceProvider {
  constructor(
    private readonly box: SecretBox,
    private readonly config: Config,
    private readonly clock: Clock,
  ) {}

  private purpose(tenantId: string): string {
    return `federation-saml-sp-key:${tenantId}`;
  }

  /**
   * The tenant's SP key pair, made at first use: RSA 2048 and a self-signed certificate (SAML uses certificates only
   * as key carriers; metadata section 2.4.1.1). Two processes making one at once keep the first (the key is the
   * tenant id).
   */
  async keys(em: EntityManager, tenantId: string): Promise<{ privateKey: string; certificate: string }> {
    const open = (row: SamlSpKey) => ({ privateKey: this.box.open(row.privateKey, this.purpose(tenantId)), certificate: row.certificate });
    const existing = await em.findOne(SamlSpKey, { tenantId });
    if (existing) return open(existing);
    const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048 });
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
    // A positive serial (RFC 5280 section 4.1.2.2): random, with its top bit clear.
    cert.serialNumber = `0${randomBytes(15).toString('hex')}`;
    const now = new Date(this.clock.now());
    cert.validity.notBefore = now;
    cert.validity.notAfter = new Date(now.getTime() + SP_CERT_YEARS * 365 * 86_400_000);
    const name = [{ name: 'commonName', value: `Tessera SAML SP ${tenantId}` }];
    cert.setSubject(name);
    cert.setIssuer(name);
    const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    cert.sign(forge.pki.privateKeyFromPem(pkcs1), forge.md.sha256.create());
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await em
      .getConnection()
      .execute(
        'insert into saml_sp_keys (tenant_id, private_key, certificate, created_at) values (?, ?, ?, ?) on conflict (tenant_id) do nothing',
        [tenantId, this.box.seal(pkcs8, this.purpose(tenantId)), forge.pki.certificateToPem(cert), now],
      );
    return open(await em.fork().findOneOrFail(SamlSpKey, { tenantId }));
  }

  private saml(tenant: Tenant, keys: { privateKey: string }, provider?: IdentityProvider, requestId?: string): SAML {
    const { spEntityId, acsUrl } = endpointsOf(this.config, tenant.slug);
    return new SAML({
      issuer: spEntityId,
      callbackUrl: acsUrl,
      audience: spEntityId,
      entryPoint: provider?.samlSsoUrl ?? undefined,
      // The library needs one to start; a response is only verified with a provider's own certificates.
      idpCert: provider?.samlCertificates.length ? provider.samlCertificates : 'none',
      privateKey: keys.privateKey,
      signatureAlgorithm: 'sha256',
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      // Time is checked here, on the injectable clock; request ids are kept by the caller, per tenant.
      acceptedClockSkewMs: -1,
      validateInResponseTo: ValidateInResponseTo.never,
      cacheProvider: NO_CACHE,
      identifierFormat: null,
      // No RequestedAuthnContext: the IdP decides how its users authenticate (a password-only context would forbid MFA).
      disableRequestedAuthnContext: true,
      ...(requestId ? { generateUniqueId: () => requestId } : {}),
    });
  }

  /** The SP metadata of the tenant (SAML 2.0 metadata section 2.4.4): entity id, ACS URL, NameID formats, signing certificate. */
  async metadata(em: EntityManager, tenant: Tenant): Promise<string> {
    const keys = await this.keys(em, tenant.id);
    const xml = this.saml(tenant, keys).generateServiceProviderMetadata(null, keys.certificate);
    // The library writes one NameIDFormat at most; the SP takes these (their place: before the ACS, metadata 2.4.4).
    return xml.replace(/(\s*)<AssertionConsumerService/, (_, space: string) => `${NAME_ID_FORMATS.map((f) => `${space}<NameIDFormat>${f}</NameIDFormat>`).join('')}${space}<AssertionConsumerService`);
  }

  /** A fresh AuthnRequest ID: an xs:ID must not start with a digit (SAML 2.0 core section 1.3.4). */
  newRequestId(): string {
    return `_${randomBytes(20).toString('hex')}`;
  }

  /** The HTTP-Redirect URL of a signed AuthnRequest with this ID (SAML 2.0 bindings section 3.4.4.1). */
  async authnRequestUrl(em: EntityManager, tenant: Tenant, provider: IdentityProvider, requestId: string, relayState: string): Promise<string> {
    const keys = await this.keys(em, tenant.id);
    return this.saml(tenant, keys, provider, requestId).getAuthorizeUrlAsync(relayState, undefined, {});
  }

  /** The Issuer of a response, before anything is verified: which provider's certificates to verify it with. */
  issuerOf(xml: string): string | null {
    const root = parseXml(xml);
    if (root.namespaceURI !== PROTOCOL_NS || root.localName !== 'Response') throw new SamlRefusal('it is not a SAML Response');
    const issuer = text(child(root, ASSERTION_NS, 'Issuer')) || text(child(child(root, ASSERTION_NS, 'Assertion'), ASSERTION_NS, 'Issuer'));
    return issuer || null;
  }

  /**
   * Verifies a Response (the decoded XML of an HTTP-POST `SAMLResponse`) from `provider` for `tenant`'s SP. Throws a
   * SamlRefusal saying why. Replay and InResponseTo are the caller's (they need the database).
   */
  async verify(em: EntityManager, tenant: Tenant, provider: IdentityProvider, xml: string): Promise<VerifiedAssertion> {
    refuseDeclarations(xml);
    const { spEntityId, acsUrl } = endpointsOf(this.config, tenant.slug);
    const keys = await this.keys(em, tenant.id);
    let assertionXml: string;
    try {
      const { profile } = await this.saml(tenant, keys, provider).validatePostResponseAsync({ SAMLResponse: Buffer.from(xml, 'utf8').toString('base64') });
      if (!profile) throw new SamlRefusal('the response holds no assertion');
      if (!profile.getAssertionXml) throw new SamlRefusal('the response holds no assertion');
      assertionXml = profile.getAssertionXml();
    } catch (error) {
      throw refusalOf(error);
    }
    const response = parseXml(xml);
    // From here on only the signed assertion is read (the library returns the XML its signature covers).
    const assertion = parseXml(assertionXml);
    const now = this.clock.now();

    if (text(child(assertion, ASSERTION_NS, 'Issuer')) !== provider.samlEntityId) throw new SamlRefusal('the assertion is not from this identity provider (Issuer)');
    const assertionId = assertion.getAttribute('ID') ?? '';
    if (!assertionId) throw new SamlRefusal('the assertion has no ID');
    const destination = response.getAttribute('Destination');
    if (destination && destination !== acsUrl) throw new SamlRefusal("the response is not addressed to this service's ACS URL (Destination)");

    const conditions = child(assertion, ASSERTION_NS, 'Conditions');
    const notBefore = instant(conditions?.getAttribute('NotBefore') ?? null, 'NotBefore');
    const notOnOrAfter = instant(conditions?.getAttribute('NotOnOrAfter') ?? null, 'NotOnOrAfter');
    if (notBefore !== null && now + CLOCK_SKEW_MS < notBefore) throw new SamlRefusal('the assertion is not valid yet (NotBefore)');
    if (notOnOrAfter !== null && now - CLOCK_SKEW_MS >= notOnOrAfter) throw new SamlRefusal('the assertion has expired (NotOnOrAfter)');
    const audiences = conditions ? children(conditions, ASSERTION_NS, 'AudienceRestriction').map((r) => children(r, ASSERTION_NS, 'Audience').map(text)) : [];
    if (!audiences.length || audiences.some((list) => !list.includes(spEntityId))) throw new SamlRefusal('the assertion is not for this service (Audience)');

    // Profiles section 4.1.4.2: a bearer SubjectConfirmation whose data names our ACS URL and has not expired.
    const subject = child(assertion, ASSERTION_NS, 'Subject');
    const nameId = text(child(subject, ASSERTION_NS, 'NameID'));
    if (!nameId) throw new SamlRefusal('the assertion names no subject (NameID)');
    const bearers = (subject ? children(subject, ASSERTION_NS, 'SubjectConfirmation') : []).filter((c) => c.getAttribute('Method') === BEARER);
    const data = bearers.map((c) => child(c, ASSERTION_NS, 'SubjectConfirmationData')).filter((d): d is Element => Boolean(d));
    if (!data.length) throw new SamlRefusal('the assertion has no bearer SubjectConfirmation');
    const addressed = data.filter((d) => d.getAttribute('Recipient') === acsUrl);
    if (!addressed.length) throw new SamlRefusal("the assertion is not addressed to this service's ACS URL (Recipient)");
    const current = addressed.filter((d) => {
      const until = instant(d.getAttribute('NotOnOrAfter'), 'SubjectConfirmationData NotOnOrAfter');
      return until !== null && now - CLOCK_SKEW_MS < until;
    });
    if (!current.length) throw new SamlRefusal('the assertion has expired (SubjectConfirmationData NotOnOrAfter)');
    const confirmation = current[0]!;
    const inResponseTo = confirmation.getAttribute('InResponseTo') || null;
    const responseInResponseTo = response.getAttribute('InResponseTo') || null;
    if (responseInResponseTo !== inResponseTo) throw new SamlRefusal('the response and its assertion answer different requests (InResponseTo)');

    const attributes: Record<string, string[]> = {};
    for (const statement of children(assertion, ASSERTION_NS, 'AttributeStatement')) {
      for (const attribute of children(statement, ASSERTION_NS, 'Attribute')) {
        const name = attribute.getAttribute('Name') ?? '';
        if (name) attributes[name] = [...(attributes[name] ?? []), ...children(attribute, ASSERTION_NS, 'AttributeValue').map(text).filter(Boolean)];
      }
    }
    const emailAttribute = Object.entries(attributes).find(([name]) => EMAIL_ATTRIBUTES.includes(name.toLowerCase()))?.[1][0];
    const nameIdFormat = child(subject, ASSERTION_NS, 'NameID')?.getAttribute('Format');
    const email = emailAttribute ?? (nameIdFormat === EMAIL_FORMAT || /^[^\s@]+@[^\s@]+$/.test(nameId) ? nameId : null);
    const untils = [notOnOrAfter, instant(confirmation.getAttribute('NotOnOrAfter'), 'NotOnOrAfter')].filter((t): t is number => t !== null);
    return { assertionId, subject: nameId, email, inResponseTo, expiresAt: new Date(Math.max(...untils) + CLOCK_SKEW_MS), attributes };
  }
}
