// Reading SAML XML safely: a DOCTYPE or an entity declaration is refused before any parser sees the text (XML
// external entities and entity expansion, OWASP "XXE Prevention"; SAML documents never need one: SAML 2.0 core
// section 1.3 defines them by XML Schema, not a DTD), and the IdP metadata a tenant admin gives is read for the three
// things federation needs (SAML 2.0 metadata sections 2.3.2, 2.4.3, 2.4.1.1): the entity id, the HTTP-Redirect single
// sign-on URL, and the signing certificates.
import { DOMParser } from '@xmldom/xmldom';
import { X509Certificate } from 'node:crypto';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
export const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

/** A DOCTYPE or an entity (internal or external) anywhere in the text, whatever its case and spacing. */
const DECLARATION = /<!\s*(DOCTYPE|ENTITY)/i;

export class UnsafeXml extends Error {}

/** Refuses XML that declares a document type or entities: never parsed, whatever else it holds. */
export function refuseDeclarations(xml: string): void {
  if (DECLARATION.test(xml)) throw new UnsafeXml('the XML declares a DOCTYPE or an entity, which SAML never needs; it is refused unread');
}

/** Parses XML that has passed `refuseDeclarations`; a malformed document is an error, never a partial tree. */
export function parseXml(xml: string): Element {
  refuseDeclarations(xml);
  const problems: string[] = [];
  const record = (message: string) => problems.push(message.split('\n')[0]!);
  let doc: Document | undefined;
  try {
    doc = new DOMParser({ errorHandler: { warning: () => undefined, error: record, fatalError: record } }).parseFromString(xml, 'text/xml');
  } catch (error) {
    record((error as Error).message ?? 'unreadable');
  }
  if (problems.length || !doc?.documentElement) throw new UnsafeXml(`the XML is not well-formed: ${problems[0] ?? 'no root element'}`);
  return doc.documentElement;
}

function children(parent: Element, ns: string, localName: string): Element[] {
  const found: Element[] = [];
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === 1 && (node as Element).namespaceURI === ns && (node as Element).localName === localName) found.push(node as Element);
  }
  return found;
}

function descendants(parent: Element, ns: string, localName: string): Element[] {
  return Array.from(parent.getElementsByTagNameNS(ns, localName));
}

/** What federation takes from an IdP's metadata. */
export interface IdpMetadata {
  entityId: string;
  ssoUrl: string;
  certificates: string[];
}

/** A certificate as metadata carries it (base64 DER, any whitespace), checked to be one, in one line. */
export function normaliseCertificate(text: string): string | null {
  const base64 = text.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return null;
  try {
    new X509Certificate(Buffer.from(base64, 'base64'));
    return base64;
  } catch {
    return null;
  }
}

/**
 * The entity id, HTTP-Redirect SSO URL and signing certificates of an IdP's metadata (an EntityDescriptor, or an
 * EntitiesDescriptor holding exactly one IdP). A KeyDescriptor without `use` serves both uses (metadata section
 * 2.4.1.1), so it counts as a signing key. Throws with a sentence saying what is missing.
 */
export function readIdpMetadata(xml: string): IdpMetadata {
  const root = parseXml(xml);
  if (root.namespaceURI !== MD || (root.localName !== 'EntityDescriptor' && root.localName !== 'EntitiesDescriptor')) {
    throw new UnsafeXml('it is not SAML 2.0 metadata (an md:EntityDescriptor)');
  }
  const entities = root.localName === 'EntityDescriptor' ? [root] : descendants(root, MD, 'EntityDescriptor');
  const idps = entities.filter((e) => children(e, MD, 'IDPSSODescriptor').length > 0);
  if (idps.length !== 1) throw new UnsafeXml(idps.length ? 'it describes more than one identity provider' : 'it has no IDPSSODescriptor');
  const entity = idps[0]!;
  const entityId = entity.getAttribute('entityID') ?? '';
  if (!entityId) throw new UnsafeXml('its EntityDescriptor has no entityID');
  const descriptor = children(entity, MD, 'IDPSSODescriptor')[0]!;
  const sso = children(descriptor, MD, 'SingleSignOnService').find((s) => s.getAttribute('Binding') === REDIRECT_BINDING);
  const ssoUrl = sso?.getAttribute('Location') ?? '';
  if (!ssoUrl) throw new UnsafeXml('it has no SingleSignOnService with the HTTP-Redirect binding');
  const certificates: string[] = [];
  for (const key of children(descriptor, MD, 'KeyDescriptor')) {
    const use = key.getAttribute('use');
    if (use && use !== 'signing') continue;
    for (const cert of descendants(key, DS, 'X509Certificate')) {
      const normalised = normaliseCertificate(cert.textContent ?? '');
      if (!normalised) throw new UnsafeXml('one of its signing X509Certificate elements is not a certificate');
      if (!certificates.includes(normalised)) certificates.push(normalised);
    }
  }
  if (!certificates.length) throw new UnsafeXml('it has no signing certificate (a KeyDescriptor with an X509Certificate)');
  return { entityId, ssoUrl, certificates };
}
