// A SAML 2.0 identity provider for the federation tests: samlify's IdP (a well-kept library, not ours) signs each
// assertion with its own key, for Tessera's SP as its metadata describes it. The tests choose what the assertion says
// (audience, recipient, times, InResponseTo, attributes), and spoil a signed response by hand for the attacks.
import forge from 'node-forge';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import * as samlify from 'samlify';

// samlify refuses to parse a message without a schema validator; this IdP reads Tessera's AuthnRequests only to take
// their ID, and what is under test is Tessera's side.
samlify.setSchemaValidator({ validate: async () => 'skipped' });

const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

/** A key pair and a self-signed certificate (base64 DER), as an IdP publishes its signing key. */
export function keyAndCertificate(commonName: string): { privateKey: string; certificate: string; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  cert.serialNumber = `0${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  cert.setIssuer([{ name: 'commonName', value: commonName }]);
  const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  cert.sign(forge.pki.privateKeyFromPem(pkcs1), forge.md.sha256.create());
  const pem = forge.pki.certificateToPem(cert);
  return { privateKey: pkcs1, certificate: pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), pem };
}

export interface AssertionOptions {
  /** The AuthnRequest answered; none for an IdP-initiated response. */
  inResponseTo?: string;
  nameId: string;
  attributes?: Record<string, string[]>;
  audience?: string;
  recipient?: string;
  destination?: string;
  /** When the assertion was made (default now); it is valid five minutes from then. */
  issuedAt?: Date;
  issuer?: string;
}

const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export class TestSamlIdp {
  readonly entityId: string;
  readonly ssoUrl: string;
  readonly key: ReturnType<typeof keyAndCertificate>;
  private readonly idp: ReturnType<typeof samlify.IdentityProvider>;

  constructor(options: { entityId: string; ssoUrl: string; key?: ReturnType<typeof keyAndCertificate> }) {
    this.entityId = options.entityId;
    this.ssoUrl = options.ssoUrl;
    this.key = options.key ?? keyAndCertificate(options.entityId);
    this.idp = samlify.IdentityProvider({
      entityID: this.entityId,
      privateKey: this.key.privateKey,
      signingCert: this.key.pem,
      nameIDFormat: [EMAIL_FORMAT],
      singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: this.ssoUrl }],
      singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${this.ssoUrl}/logout` }],
    });
  }

  /** The IdP's metadata, as a tenant admin pastes it. */
  metadata(): string {
    return this.idp.getMetadata();
  }

  /** The ID and RelayState of the AuthnRequest in an HTTP-Redirect URL Tessera sent the browser to. */
  static readRequest(url: string): { id: string; relayState: string | null; xml: string } {
    const parsed = new URL(url);
    const xml = inflateRawSync(Buffer.from(parsed.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
    return { id: /\sID="([^"]+)"/.exec(xml)![1]!, relayState: parsed.searchParams.get('RelayState'), xml };
  }

  /** A signed Response (base64, the HTTP-POST binding's SAMLResponse) for the SP of `spMetadata`. */
  async respond(spMetadata: string, options: AssertionOptions): Promise<string> {
    const sp = samlify.ServiceProvider({ metadata: spMetadata });
    const acs = /AssertionConsumerService[^>]*Location="([^"]+)"/.exec(spMetadata)![1]!;
    const spEntityId = /entityID="([^"]+)"/.exec(spMetadata)![1]!;
    const issued = options.issuedAt ?? new Date();
    const until = new Date(issued.getTime() + 5 * 60_000).toISOString();
    const inResponseTo = options.inResponseTo ? ` InResponseTo="${esc(options.inResponseTo)}"` : '';
    const attributes = Object.entries(options.attributes ?? {})
      .map(([name, values]) => `<saml:Attribute Name="${esc(name)}">${values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`)
      .join('');
    const issuer = esc(options.issuer ?? this.entityId);
    const id = `_${randomBytes(16).toString('hex')}`;
    const xml =
      `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${issued.toISOString()}" Destination="${esc(options.destination ?? acs)}"${inResponseTo}>` +
      `<saml:Issuer>${issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
      `<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_${randomBytes(16).toString('hex')}" Version="2.0" IssueInstant="${issued.toISOString()}">` +
      `<saml:Issuer>${issuer}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="${EMAIL_FORMAT}">${esc(options.nameId)}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${until}" Recipient="${esc(options.recipient ?? acs)}"${inResponseTo}/></saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${issued.toISOString()}" NotOnOrAfter="${until}"><saml:AudienceRestriction><saml:Audience>${esc(options.audience ?? spEntityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${issued.toISOString()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '') +
      `</saml:Assertion></samlp:Response>`;
    const { context } = (await this.idp.createLoginResponse(sp, {} as never, 'post', { email: options.nameId }, { customTagReplacement: () => ({ id, context: xml }) })) as { context: string };
    return context;
  }
}

export const decode = (samlResponse: string) => Buffer.from(samlResponse, 'base64').toString('utf8');
export const encode = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');
