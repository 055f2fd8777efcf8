// A tenant's identity providers over REST (README "Federation"): validation naming each field, secrets never
// answered, audit, another tenant's provider a 404; then what the hosted login page makes of them: a button per
// provider, home-realm discovery by email domain, and local passwords refused when the tenant requires federation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { authorizeUrl, Browser, createUser, hiddenFields, pkce, registerCodeApp, type CodeApp } from './helpers/oauth.js';
import { keyAndCertificate, TestSamlIdp } from './helpers/saml-idp.js';

const URL_ = '/v1/platform/identity-providers';
const REDIRECT = 'https://integrator.example/callback';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;
let idp: TestSamlIdp;

const post = (tenant: TenantFixture, payload: unknown) => h.request({ method: 'POST', url: URL_, headers: bearer(tenant.adminToken), payload: payload as object });
const oidcBody = (extra: object = {}) => ({ protocol: 'oidc', name: 'Acme Okta', issuer: 'https://login.acme.example/', client_id: 'tessera', client_secret: 'shh, a secret', ...extra });

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  idp = new TestSamlIdp({ entityId: 'https://idp.acme.example/saml', ssoUrl: 'https://idp.acme.example/sso' });
});
afterAll(() => h?.close());

describe('identity providers over REST', () => {
  it('adds a SAML provider from its metadata, and names what to give the IdP', async () => {
    const res = await post(acme, { protocol: 'saml', name: 'Acme SSO', metadata_xml: idp.metadata(), email_domains: ['Acme.Example'] });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({
      id: expect.stringMatching(/^idp_/),
      protocol: 'saml',
      name: 'Acme SSO',
      enabled: true,
      email_domains: ['acme.example'],
      role_mapping: null,
      entity_id: idp.entityId,
      sso_url: idp.ssoUrl,
      certificates: [idp.key.certificate],
      allow_idp_initiated: false,
      sp_entity_id: `http://tessera.test/v1/saml/${acme.slug}/metadata`,
      acs_url: `http://tessera.test/v1/saml/${acme.slug}/acs`,
    });
  });

  it('adds an OIDC provider; its secret is sealed and never answered', async () => {
    const res = await post(acme, oidcBody({ email_domains: ['oidc.acme.example'], role_mapping: { claim: 'groups', values: { admins: 'admin' } } }));
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json();
    expect(created).toMatchObject({ issuer: 'https://login.acme.example', client_id: 'tessera', scopes: ['openid', 'email', 'profile'], redirect_uri: 'http://tessera.test/v1/federation/oidc/callback' });
    expect(created.role_mapping).toEqual({ claim: 'groups', values: { admins: 'admin' }, default_role: 'member' });
    expect(res.body).not.toContain('shh, a secret');
    const stored = await h.runtime.orm.em.fork().getConnection().execute('select oidc_client_secret from identity_providers where id = ?', [created.id]);
    expect(stored[0].oidc_client_secret).toMatch(/^v1\./);
    expect(stored[0].oidc_client_secret).not.toContain('secret');

    const patched = await h.request({ method: 'PATCH', url: `${URL_}/${created.id}`, headers: bearer(acme.adminToken), payload: { client_secret: 'another secret', name: 'Acme Okta (new)' } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().name).toBe('Acme Okta (new)');
    expect(patched.body).not.toContain('another secret');
    const events = (await h.request({ method: 'GET', url: `/v1/platform/audit-events?target_id=${created.id}`, headers: bearer(acme.adminToken) })).json().events;
    expect(events.map((e: { action: string }) => e.action)).toEqual(['identity_provider.updated', 'identity_provider.created']);
    expect(JSON.stringify(events)).not.toContain('secret"');
    expect(events[0].details).toMatchObject({ changed: ['name'], client_secret_rotated: true });
  });

  it.each([
    [{ protocol: 'saml', name: 'x' }, 'body.entity_id is required for a saml provider'],
    [{ protocol: 'saml', name: 'x', entity_id: 'e', sso_url: 'https://idp.example/sso' }, 'body.certificates is required'],
    [{ protocol: 'saml', name: 'x', metadata_xml: '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x/>' }, 'body.metadata_xml is not usable: the XML declares a DOCTYPE'],
    [{ protocol: 'saml', name: 'x', metadata_xml: '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="e"/>' }, 'body.metadata_xml is not usable: it has no IDPSSODescriptor'],
    [{ protocol: 'saml', name: 'x', entity_id: 'e', sso_url: 'https://idp.example/sso', certificates: ['not a certificate'] }, 'body.certificates[0] must be an X.509 certificate'],
    [{ protocol: 'saml', name: 'x', entity_id: 'e', sso_url: 'http://idp.example/sso', certificates: ['x'] }, 'body.sso_url must use https'],
    [{ protocol: 'saml', name: 'x', metadata_xml: 'x', entity_id: 'e' }, 'body.entity_id must not be given with metadata_xml'],
    [{ protocol: 'saml', name: 'x', issuer: 'https://idp.example' }, 'body.issuer is not a field of a saml provider'],
    [{ protocol: 'oidc', name: 'x', issuer: 'https://idp.example', client_id: 'c' }, 'body.client_secret is required for an oidc provider'],
    [{ protocol: 'oidc', name: 'x', issuer: 'http://idp.example', client_id: 'c', client_secret: 's' }, 'body.issuer must use https'],
    [{ protocol: 'oidc', name: 'x', issuer: 'not a url', client_id: 'c', client_secret: 's' }, 'body.issuer must be an absolute URL'],
    [{ ...oidcBody(), allow_idp_initiated: true }, 'body.allow_idp_initiated is not a field of a oidc provider'],
    [{ ...oidcBody(), email_domains: ['not a domain'] }, 'body.email_domains[0] must be a domain name'],
    [{ ...oidcBody(), role_mapping: { claim: 'groups', values: { a: 'owner' } } }, 'body.role_mapping.values.a must be one of admin, member'],
    [{ ...oidcBody(), protocol: 'ldap' }, 'body.protocol must be one of saml, oidc'],
    [{ ...oidcBody(), client_secret: 42 }, 'body.client_secret must be string'],
  ])('refuses %j naming the field', async (body, message) => {
    const res = await post(acme, body);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error).toBe('invalid_request');
    expect(res.json().error_description).toContain(message);
  });

  it('gives an email domain to one provider of a tenant only (409), and another tenant may have it', async () => {
    const taken = await post(acme, oidcBody({ email_domains: ['acme.example'] }));
    expect(taken.statusCode).toBe(409);
    expect(taken.json().error_description).toContain('acme.example already belongs to the identity provider');
    expect((await post(globex, oidcBody({ email_domains: ['acme.example'] }))).statusCode).toBe(201);
  });

  it("lists the tenant's own providers; another tenant's is a 404 on every route", async () => {
    const mine = (await h.request({ method: 'GET', url: URL_, headers: bearer(acme.adminToken) })).json().identity_providers;
    const theirs = (await h.request({ method: 'GET', url: URL_, headers: bearer(globex.adminToken) })).json().identity_providers;
    expect(mine.length).toBeGreaterThanOrEqual(2);
    expect(theirs).toHaveLength(1);
    const foreign = theirs[0].id;
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const res = await h.request({ method, url: `${URL_}/${foreign}`, headers: bearer(acme.adminToken), ...(method === 'PATCH' ? { payload: { name: 'mine now' } } : {}) });
      expect(res.statusCode, `${method}`).toBe(404);
    }
    expect((await h.request({ method: 'GET', url: `${URL_}/${foreign}`, headers: bearer(globex.adminToken) })).json().name).toBe('Acme Okta');
    // Not for members' or apps' tokens.
    const app = await h.appWithToken(acme);
    expect((await h.request({ method: 'GET', url: URL_, headers: bearer(app.token) })).statusCode).toBe(403);
  });

  it('removes a provider (204), its domains with it', async () => {
    const created = (await post(globex, oidcBody({ name: 'Doomed', email_domains: ['doomed.example'] }))).json();
    expect((await h.request({ method: 'DELETE', url: `${URL_}/${created.id}`, headers: bearer(globex.adminToken) })).statusCode).toBe(204);
    expect((await h.request({ method: 'GET', url: `${URL_}/${created.id}`, headers: bearer(globex.adminToken) })).statusCode).toBe(404);
    expect((await post(globex, oidcBody({ email_domains: ['doomed.example'] }))).statusCode).toBe(201);
  });
});

describe('the hosted login page with identity providers', () => {
  let tenant: TenantFixture;
  let app: CodeApp;
  let samlProvider: string;

  beforeAll(async () => {
    tenant = await h.tenant('initech');
    app = await registerCodeApp(h, tenant);
    await createUser(h, tenant, 'local@elsewhere.example', 'a long enough password');
    const samlIdp = new TestSamlIdp({ entityId: 'https://idp.initech.example/saml', ssoUrl: 'https://idp.initech.example/sso', key: keyAndCertificate('initech') });
    samlProvider = (await post(tenant, { protocol: 'saml', name: 'Initech SSO', metadata_xml: samlIdp.metadata(), email_domains: ['initech.example'] })).json().id;
  });

  async function loginPage(browser: Browser) {
    const { challenge } = pkce();
    const page = await browser.get(authorizeUrl({ response_type: 'code', client_id: app.client_id, redirect_uri: REDIRECT, scope: 'incidents:read', code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(page.statusCode).toBe(200);
    return page;
  }

  it('offers a button per enabled provider and asks for the email first', async () => {
    const page = await loginPage(new Browser(h));
    expect(page.body).toContain(`<button type="submit" name="provider" value="${samlProvider}">Sign in with Initech SSO</button>`);
    expect(page.body).toContain('<button type="submit">Continue</button>');
    expect(page.body).not.toContain('type="password"');
  });

  it('sends an email of a provider’s domain to it, and any other to the password form', async () => {
    const browser = new Browser(h);
    const page = await loginPage(browser);
    const discovered = await browser.post('/v1/oauth/login', { ...hiddenFields(page.body), email: 'Peter@Initech.example' });
    expect(discovered.statusCode).toBe(303);
    expect(discovered.headers.location).toMatch(/^https:\/\/idp\.initech\.example\/sso\?SAMLRequest=/);

    const local = await browser.post('/v1/oauth/login', { ...hiddenFields(page.body), email: 'local@elsewhere.example' });
    expect(local.statusCode).toBe(200);
    expect(local.body).toContain('type="password"');
    expect(local.body).toContain('value="local@elsewhere.example"');
    const signedIn = await browser.post('/v1/oauth/login', { ...hiddenFields(local.body), email: 'local@elsewhere.example', password: 'a long enough password' });
    expect(signedIn.statusCode).toBe(303);
    expect(signedIn.headers.location).toMatch(/^\/v1\/oauth\/consent\?/);
  });

  it('checks the CSRF token and the browser on the provider button as on the password form', async () => {
    const browser = new Browser(h);
    const page = await loginPage(browser);
    const forged = await browser.post('/v1/oauth/login', { ...hiddenFields(page.body), csrf_token: 'forged', provider: samlProvider });
    expect(forged.statusCode).toBe(403);
    const elsewhere = await new Browser(h).post('/v1/oauth/login', { ...hiddenFields(page.body), provider: samlProvider });
    expect(elsewhere.statusCode).toBe(400);
    const unknown = await browser.post('/v1/oauth/login', { ...hiddenFields(page.body), provider: 'idp_not_ours' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).toContain('That identity provider is not available');
  });

  it('refuses local passwords once the tenant requires federation, with a clear message', async () => {
    await h.runtime.services.tenancy.setSignInPolicy(h.runtime.orm.em.fork(), tenant.tenantId, { federationRequired: true }, 'test');
    const browser = new Browser(h);
    const page = await loginPage(browser);
    const password = await browser.post('/v1/oauth/login', { ...hiddenFields(page.body), email: 'local@elsewhere.example', password: 'a long enough password' });
    expect(password.statusCode).toBe(403);
    expect(password.body).toContain('passwords are off here');
    expect(password.headers['set-cookie'] ?? '').not.toContain('tessera_session');
    const discovery = await browser.post('/v1/oauth/login', { ...hiddenFields(page.body), email: 'local@elsewhere.example' });
    expect(discovery.statusCode).toBe(403);
    expect(discovery.body).toContain('passwords are off here');
    expect(discovery.body).not.toContain('type="password"');
    // The provider's domain still goes to it.
    expect((await browser.post('/v1/oauth/login', { ...hiddenFields(page.body), email: 'peter@initech.example' })).statusCode).toBe(303);
    // Its last enabled provider cannot be turned off or removed meanwhile.
    const disable = await h.request({ method: 'PATCH', url: `${URL_}/${samlProvider}`, headers: bearer(tenant.adminToken), payload: { enabled: false } });
    expect(disable.statusCode).toBe(409);
    expect((await h.request({ method: 'DELETE', url: `${URL_}/${samlProvider}`, headers: bearer(tenant.adminToken) })).statusCode).toBe(409);
  });
});
