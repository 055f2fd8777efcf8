// SAML 2.0 federation over HTTP (README "Federation"): a tenant's SAML IdP (samlify's, in the test) signs assertions
// for the tenant's SP; the hosted login sends the browser there (SP-initiated, HTTP-Redirect), the ACS verifies the
// answer (HTTP-POST), the user is provisioned just in time, consents and the app gets its code and tokens. Then every
// attack on the ACS is refused, and nothing is provisioned by it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { authorizeUrl, Browser, hiddenFields, pkce, registerCodeApp, tokenRequest, type CodeApp } from './helpers/oauth.js';
import { decode, encode, keyAndCertificate, TestSamlIdp } from './helpers/saml-idp.js';

const REDIRECT = 'https://integrator.example/callback';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;
let app: CodeApp;
let idp: TestSamlIdp;
let providerId: string;
let spMetadata: string;

async function addProvider(tenant: TenantFixture, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await h.request({ method: 'POST', url: '/v1/platform/identity-providers', headers: bearer(tenant.adminToken), payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

async function users(tenant: TenantFixture): Promise<Array<{ id: string; email: string; roles: string[] }>> {
  const res = await h.request({ method: 'GET', url: '/v1/platform/users?limit=100', headers: bearer(tenant.adminToken) });
  return res.json().users;
}

/** The hosted login up to the IdP: the provider's button, then the AuthnRequest Tessera sent the browser with. */
async function startAtIdp(browser: Browser, provider = providerId, client = app) {
  const { verifier, challenge } = pkce();
  const loginPage = await browser.get(
    authorizeUrl({ response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope: 'incidents:read', state: 'fed-state', code_challenge: challenge, code_challenge_method: 'S256' }),
  );
  expect(loginPage.statusCode).toBe(200);
  const sent = await browser.post('/v1/oauth/login', { ...hiddenFields(loginPage.body), provider });
  expect(sent.statusCode, sent.body).toBe(303);
  const location = sent.headers.location!;
  expect(location.startsWith(`${idp.ssoUrl}?`)).toBe(true);
  return { ...TestSamlIdp.readRequest(location), verifier };
}

function acs(samlResponse: string, relayState?: string, slug = acme.slug) {
  return h.request({
    method: 'POST',
    url: `/v1/saml/${slug}/acs`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ SAMLResponse: samlResponse, ...(relayState ? { RelayState: relayState } : {}) }).toString(),
  });
}

/** The IdP's answer, made now on the test's clock. */
const respond = (options: Parameters<TestSamlIdp['respond']>[1], by = idp) => by.respond(spMetadata, { issuedAt: new Date(h.clock.now()), ...options });

/** From the ACS's 303 to the app's code: the ticket, then consent. */
async function finish(browser: Browser, acsAnswer: { statusCode: number; headers: Record<string, unknown>; body: string }): Promise<URL> {
  expect(acsAnswer.statusCode, acsAnswer.body).toBe(303);
  const ticketUrl = acsAnswer.headers.location as string;
  expect(ticketUrl).toMatch(/^\/v1\/oauth\/federated\?ticket=/);
  const back = await browser.get(ticketUrl);
  let final = back;
  if (back.statusCode === 303 && back.headers.location!.startsWith('/v1/oauth/consent')) {
    const consent = await browser.get(back.headers.location!);
    expect(consent.statusCode).toBe(200);
    final = await browser.post('/v1/oauth/consent', { ...hiddenFields(consent.body), decision: 'approve' });
  }
  expect([302, 303], final.body).toContain(final.statusCode);
  return new URL(final.headers.location!);
}

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  app = await registerCodeApp(h, acme);
  spMetadata = (await h.request({ method: 'GET', url: `/v1/saml/${acme.slug}/metadata` })).body;
  idp = new TestSamlIdp({ entityId: 'https://idp.acme.example/saml', ssoUrl: 'https://idp.acme.example/sso' });
  const provider = await addProvider(acme, {
    protocol: 'saml',
    name: 'Acme SSO',
    metadata_xml: idp.metadata(),
    email_domains: ['acme.example'],
    role_mapping: { claim: 'groups', values: { 'tessera-admins': 'admin', staff: 'member' }, default_role: null },
  });
  providerId = provider.id as string;
});
afterAll(() => h?.close());

describe('SAML SP-initiated sign-in', () => {
  it('publishes the SP metadata: entity id, ACS URL, NameID formats and its signing certificate', async () => {
    const res = await h.request({ method: 'GET', url: `/v1/saml/${acme.slug}/metadata` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/samlmetadata\+xml/);
    expect(res.body).toContain(`entityID="http://tessera.test/v1/saml/${acme.slug}/metadata"`);
    expect(res.body).toContain(`Location="http://tessera.test/v1/saml/${acme.slug}/acs"`);
    expect(res.body).toContain('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    expect(res.body.match(/<NameIDFormat>/g)).toHaveLength(3);
    expect(res.body).toMatch(/<ds:X509Certificate>[A-Za-z0-9+/=\s]+<\/ds:X509Certificate>/);
    expect(res.body).toContain('WantAssertionsSigned="true"');
    // One key per tenant, kept: the same certificate on every read.
    const certificate = (xml: string) => /<ds:X509Certificate>([^<]+)</.exec(xml)![1];
    expect(certificate((await h.request({ method: 'GET', url: `/v1/saml/${acme.slug}/metadata` })).body)).toBe(certificate(res.body));
    expect((await h.request({ method: 'GET', url: '/v1/saml/no-such-tenant/metadata' })).statusCode).toBe(404);
  });

  it('signs in through the IdP, provisions the user with the mapped role, and the app gets a code and tokens', async () => {
    const browser = new Browser(h);
    const { id, relayState, verifier, xml } = await startAtIdp(browser);
    expect(xml).toContain(`AssertionConsumerServiceURL="http://tessera.test/v1/saml/${acme.slug}/acs"`);
    expect(relayState).toBeTruthy();
    const answer = await acs(await respond({ inResponseTo: id, nameId: 'ada@acme.example', attributes: { email: ['ada@acme.example'], groups: ['staff'] } }), relayState!);
    const callback = await finish(browser, answer);
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT);
    expect(callback.searchParams.get('state')).toBe('fed-state');
    const token = await tokenRequest(h, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, { id: app.client_id, secret: app.client_secret! });
    expect(token.statusCode, token.body).toBe(200);
    const claims = JSON.parse(Buffer.from(token.json().access_token.split('.')[1], 'base64url').toString());
    const ada = (await users(acme)).find((u) => u.email === 'ada@acme.example')!;
    expect(ada.roles).toEqual(['member']);
    expect(claims).toMatchObject({ sub: ada.id, tenant_id: acme.tenantId, scope: 'incidents:read' });
    const audit = (await h.request({ method: 'GET', url: `/v1/platform/audit-events?target_id=${ada.id}`, headers: bearer(acme.adminToken) })).json().events;
    expect(audit.map((e: { action: string }) => e.action)).toContain('user.provisioned');

    // The second sign-in: the same user, whose role follows the IdP's groups; the consent is remembered.
    const again = new Browser(h);
    const second = await startAtIdp(again);
    const back = await finish(again, await acs(await respond({ inResponseTo: second.id, nameId: 'ada@acme.example', attributes: { groups: ['tessera-admins', 'staff'] } }), second.relayState!));
    expect(back.searchParams.get('code')).toBeTruthy();
    const after = (await users(acme)).filter((u) => u.email === 'ada@acme.example');
    expect(after).toHaveLength(1);
    expect(after[0]!.roles).toEqual(['admin', 'member']);
    const changed = (await h.request({ method: 'GET', url: `/v1/platform/audit-events?action=user.roles_changed&target_id=${ada.id}`, headers: bearer(acme.adminToken) })).json().events;
    expect(changed[0].details).toMatchObject({ from: ['member'], to: ['admin', 'member'], provider_id: providerId });
  });

  it('refuses a user the role mapping gives nothing, and provisions nobody', async () => {
    const browser = new Browser(h);
    const { id, relayState } = await startAtIdp(browser);
    const answer = await acs(await respond({ inResponseTo: id, nameId: 'eve@acme.example', attributes: { groups: ['contractors'] } }), relayState!);
    expect(answer.statusCode).toBe(403);
    expect(answer.body).toContain('none of the groups values');
    expect((await users(acme)).some((u) => u.email === 'eve@acme.example')).toBe(false);
  });

  it('does not finish the sign-in in another browser than the one that started it', async () => {
    const browser = new Browser(h);
    const { id, relayState } = await startAtIdp(browser);
    const answer = await acs(await respond({ inResponseTo: id, nameId: 'bob@acme.example', attributes: { groups: ['staff'] } }), relayState!);
    expect(answer.statusCode).toBe(303);
    const thief = new Browser(h);
    await thief.get('/v1/oauth/authorize?client_id=x'); // a browser cookie of its own
    const stolen = await thief.get(answer.headers.location!);
    expect(stolen.statusCode).toBe(400);
    expect(stolen.body).toContain('has expired or is not valid');
    // The ticket was one-time: the rightful browser cannot use it after that either.
    expect((await browser.get(answer.headers.location!)).statusCode).toBe(400);
  });
});

describe('SAML attacks on the ACS, each refused with nothing provisioned', () => {
  let counter = 0;
  /** A fresh user's email, a started request, and the refusal checked: status, reason, and no user made. */
  async function refused(make: (request: { id: string; relayState: string | null; email: string }) => Promise<{ samlResponse: string; relayState?: string }>, status: number, reason: RegExp) {
    const email = `attack-${++counter}@acme.example`;
    const browser = new Browser(h);
    const request = await startAtIdp(browser);
    const before = await users(acme);
    const { samlResponse, relayState } = await make({ ...request, email });
    const answer = await acs(samlResponse, relayState);
    expect(answer.statusCode, answer.body).toBe(status);
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.body).toMatch(reason);
    const after = await users(acme);
    expect(after.length).toBe(before.length);
    expect(after.some((u) => u.email === email)).toBe(false);
    return { request, email };
  }
  const valid = (r: { id: string; email: string }, extra: Partial<Parameters<TestSamlIdp['respond']>[1]> = {}) =>
    respond({ inResponseTo: r.id, nameId: r.email, attributes: { groups: ['staff'] }, ...extra });

  it('an unsigned assertion', async () => {
    await refused(async (r) => ({ samlResponse: encode(decode(await valid(r)).replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '')) }), 400, /not signed by the identity provider/);
  });

  it('an assertion signed by another key', async () => {
    const impostor = new TestSamlIdp({ entityId: idp.entityId, ssoUrl: idp.ssoUrl, key: keyAndCertificate('impostor') });
    await refused(async (r) => ({ samlResponse: await respond({ inResponseTo: r.id, nameId: r.email, attributes: { groups: ['staff'] } }, impostor) }), 400, /not signed by the identity provider/);
  });

  it('signature wrapping: a signed assertion with an unsigned one beside it', async () => {
    await refused(
      async (r) => {
        const xml = decode(await valid(r));
        const signed = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0];
        const evil = signed.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '').replace(/ID="_[0-9a-f]+"/, 'ID="_evil"').replace(r.email, 'root@acme.example');
        return { samlResponse: encode(xml.replace(signed, `${evil}${signed}`)) };
      },
      400,
      /more than one assertion/,
    );
    // ...and the signed assertion moved inside an unsigned one that takes its place.
    await refused(
      async (r) => {
        const xml = decode(await valid(r));
        const signed = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0];
        const evil = signed.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '').replace(/ID="_[0-9a-f]+"/, 'ID="_evil"').replace(r.email, 'root@acme.example');
        return { samlResponse: encode(xml.replace(signed, evil.replace('</saml:Assertion>', `<saml:Advice>${signed}</saml:Advice></saml:Assertion>`))) };
      },
      400,
      /not signed by the identity provider/,
    );
  });

  it('a wrong audience', async () => {
    await refused(async (r) => ({ samlResponse: await valid(r, { audience: 'https://another-sp.example/metadata' }) }), 400, /not for this service \(Audience\)/);
  });

  it('a wrong recipient', async () => {
    await refused(async (r) => ({ samlResponse: await valid(r, { recipient: 'https://another-sp.example/acs' }) }), 400, /\(Recipient\)/);
  });

  it('a wrong destination', async () => {
    await refused(async (r) => ({ samlResponse: await valid(r, { destination: 'https://another-sp.example/acs' }) }), 400, /\(Destination\)/);
  });

  it('an expired assertion (the clock moved past NotOnOrAfter and the skew)', async () => {
    await refused(
      async (r) => {
        const samlResponse = await valid(r);
        await h.clock.advance(5 * 60_000 + 61_000);
        return { samlResponse };
      },
      400,
      /has expired/,
    );
  });

  it('an assertion not valid yet', async () => {
    await refused(async (r) => ({ samlResponse: await valid(r, { issuedAt: new Date(h.clock.now() + 5 * 60_000) }) }), 400, /not valid yet/);
  });

  it('a replayed response', async () => {
    const browser = new Browser(h);
    const request = await startAtIdp(browser);
    const samlResponse = await respond({ inResponseTo: request.id, nameId: 'replayed@acme.example', attributes: { groups: ['staff'] } });
    expect((await acs(samlResponse, request.relayState!)).statusCode).toBe(303);
    const count = (await users(acme)).length;
    const replay = await acs(samlResponse, request.relayState!);
    expect(replay.statusCode).toBe(400);
    expect(replay.body).toContain('(InResponseTo)');
    expect((await users(acme)).length).toBe(count);
  });

  it('InResponseTo of a request this server never issued, or issued for another tenant', async () => {
    await refused(async (r) => ({ samlResponse: await valid({ ...r, id: '_0123456789abcdef0123456789abcdef01234567' }) }), 400, /answers no sign-in this service started/);
    // globex has its own SP and the same IdP: a request issued there is no request of acme's.
    const globexProvider = await addProvider(globex, { protocol: 'saml', name: 'Shared IdP', metadata_xml: idp.metadata() });
    const globexApp = await registerCodeApp(h, globex);
    const elsewhere = await startAtIdp(new Browser(h), globexProvider.id as string, globexApp);
    await refused(async (r) => ({ samlResponse: await valid({ ...r, id: elsewhere.id }) }), 400, /answers no sign-in this service started/);
  });

  it('a RelayState that is not the request’s', async () => {
    await refused(async (r) => ({ samlResponse: await valid(r), relayState: 'not-the-relay-state' }), 400, /RelayState/);
  });

  it('XML with a DOCTYPE or an external entity, refused before it is parsed', async () => {
    await refused(
      async (r) => ({ samlResponse: encode(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${decode(await valid(r))}`) }),
      400,
      /DOCTYPE or an entity/,
    );
    await refused(async (r) => ({ samlResponse: encode(`<!doctype Response>${decode(await valid(r))}`) }), 400, /DOCTYPE or an entity/);
  });

  it('an unsolicited (IdP-initiated) response while the provider does not allow it', async () => {
    await refused(async (r) => ({ samlResponse: await respond({ nameId: r.email, attributes: { groups: ['staff'] } }) }), 403, /IdP-initiated sign-in is off/);
  });

  it('garbage, and a response from no provider of the tenant', async () => {
    expect((await acs('not base64 at all!')).statusCode).toBe(400);
    expect((await acs(encode('<not-saml/>'))).body).toContain('not a SAML Response');
    const stranger = new TestSamlIdp({ entityId: 'https://stranger.example/saml', ssoUrl: 'https://stranger.example/sso' });
    await refused(async (r) => ({ samlResponse: await respond({ inResponseTo: r.id, nameId: r.email }, stranger) }), 400, /no identity provider of this organisation/);
    expect((await acs(await respond({ nameId: 'x@acme.example' }), undefined, 'no-such-tenant')).statusCode).toBe(404);
  });
});

describe('IdP-initiated sign-in, where allowed', () => {
  it('continues the pending request of the same browser, refuses a replay, and says so with no pending request', async () => {
    const unsolicited = new TestSamlIdp({ entityId: 'https://portal.acme.example/saml', ssoUrl: 'https://portal.acme.example/sso' });
    await addProvider(acme, { protocol: 'saml', name: 'Acme portal', metadata_xml: unsolicited.metadata(), allow_idp_initiated: true });
    const browser = new Browser(h);
    await startAtIdp(browser); // a pending request of this browser (the user then used the portal's tile)
    const samlResponse = await respond({ nameId: 'portal@acme.example' }, unsolicited);
    const answer = await acs(samlResponse);
    const callback = await finish(browser, answer);
    expect(callback.searchParams.get('code')).toBeTruthy();
    const replay = await acs(samlResponse);
    expect(replay.statusCode).toBe(400);
    expect(replay.body).toContain('used already (replay)');

    // A browser with no pending request: told to start from the application.
    const lone = new Browser(h);
    await lone.get('/v1/oauth/authorize?client_id=x');
    const ticket = await acs(await respond({ nameId: 'portal@acme.example' }, unsolicited));
    const page = await lone.get(ticket.headers.location!);
    expect(page.statusCode).toBe(400);
    expect(page.body).toContain('no application asked for a sign-in from this browser');
  });
});
