// Federated sign-in in a real browser (headless Chromium), from the app's authorize request through the identity
// provider to the code and tokens: a SAML IdP (samlify's, behind a tiny HTTP page that posts its SAMLResponse form)
// and an upstream OpenID provider (node-oidc-provider), both on 127.0.0.1. Tessera reaches the OpenID provider's
// discovery, token endpoint and JWKS through its SSRF-safe client (loopback allowed for the test, as README says).
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { FetchBrowser, freePort, startListeningTessera, type ListeningTessera } from './helpers/listening.js';
import { hiddenFields, pkce, registerCodeApp, type CodeApp } from './helpers/oauth.js';
import { startOidcIdp, type OidcIdp } from './helpers/oidc-idp.js';
import { TestSamlIdp } from './helpers/saml-idp.js';

const CHROMIUM = '/usr/bin/chromium';
// Nothing but loopback: every other host name resolves to nothing (node-oidc-provider's development pages import a
// web font), and the context aborts any request that is not for 127.0.0.1 besides.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

let h: Harness;
let server: ListeningTessera;
let acme: TenantFixture;
let app: CodeApp;
let client: Server;
let redirectUri: string;
let samlIdp: TestSamlIdp;
let samlIdpServer: Server;
let oidcIdp: OidcIdp;
const received: URLSearchParams[] = [];

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>, port = 0): Promise<Server> {
  const s = createServer((req, res) => void handler(req, res));
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

beforeAll(async () => {
  h = await startHarness({ WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WEBHOOK_HTTP_HOSTS: '127.0.0.1' });
  server = await startListeningTessera(h);
  client = await listen((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    received.push(url.searchParams);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>Connected</title><h1>Connected to Tessera</h1>');
  });
  redirectUri = `http://127.0.0.1:${(client.address() as { port: number }).port}/callback`;
  acme = await h.tenant('acme');
  app = await registerCodeApp(h, acme, { redirect_uris: [redirectUri] });

  // The SAML IdP: its SSO URL shows a page whose button posts the signed response to Tessera's ACS.
  const samlPort = await freePort();
  samlIdp = new TestSamlIdp({ entityId: `http://127.0.0.1:${samlPort}/saml`, ssoUrl: `http://127.0.0.1:${samlPort}/sso` });
  const spMetadata = await (await fetch(`${server.url}/v1/saml/${acme.slug}/metadata`)).text();
  samlIdpServer = await listen(async (req, res) => {
    const { id, relayState } = TestSamlIdp.readRequest(`http://127.0.0.1:${samlPort}${req.url}`);
    const samlResponse = await samlIdp.respond(spMetadata, { inResponseTo: id, nameId: 'grace@saml.acme.example', attributes: { email: ['grace@saml.acme.example'], groups: ['staff'] } });
    const acs = /AssertionConsumerService[^>]*Location="([^"]+)"/.exec(spMetadata)![1]!;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      `<!doctype html><title>Acme IdP</title><h1>Acme identity provider</h1><form method="post" action="${esc(acs)}">` +
        `<input type="hidden" name="SAMLResponse" value="${esc(samlResponse)}"><input type="hidden" name="RelayState" value="${esc(relayState ?? '')}">` +
        `<button type="submit">Continue to Tessera</button></form>`,
    );
  }, samlPort);
  const saml = await h.request({
    method: 'POST',
    url: '/v1/platform/identity-providers',
    headers: bearer(acme.adminToken),
    payload: { protocol: 'saml', name: 'Acme SAML', metadata_xml: samlIdp.metadata(), email_domains: ['saml.acme.example'] },
  });
  expect(saml.statusCode, saml.body).toBe(201);

  oidcIdp = await startOidcIdp({
    clientId: 'tessera-acme',
    clientSecret: 'an upstream client secret',
    redirectUri: `${server.url}/v1/federation/oidc/callback`,
    accounts: { linus: { email: 'linus@oidc.acme.example', email_verified: true, groups: ['tessera-admins'] } },
  });
  const oidc = await h.request({
    method: 'POST',
    url: '/v1/platform/identity-providers',
    headers: bearer(acme.adminToken),
    payload: {
      protocol: 'oidc',
      name: 'Acme Okta',
      issuer: oidcIdp.issuer,
      client_id: 'tessera-acme',
      client_secret: 'an upstream client secret',
      scopes: ['openid', 'email', 'groups'],
      email_domains: ['oidc.acme.example'],
      role_mapping: { claim: 'groups', values: { 'tessera-admins': 'admin' } },
    },
  });
  expect(oidc.statusCode, oidc.body).toBe(201);
  expect(oidc.json()).not.toHaveProperty('client_secret');
});

afterAll(async () => {
  for (const s of [client, samlIdpServer]) await new Promise((resolve) => (s ? s.close(resolve) : resolve(undefined)));
  await oidcIdp?.close();
  await server?.close();
  await h?.close();
});

/** A context that JavaScript-free pages run in, allowed to reach 127.0.0.1 only. */
async function loopbackContext(browser: Awaited<ReturnType<typeof chromium.launch>>): Promise<BrowserContext> {
  const context = await browser.newContext({ javaScriptEnabled: false });
  await context.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort()));
  return context;
}

function authorizeAt(challenge: string, state: string): string {
  const url = new URL(`${server.url}/v1/oauth/authorize`);
  url.search = new URLSearchParams({ response_type: 'code', client_id: app.client_id, redirect_uri: redirectUri, scope: 'incidents:read', state, code_challenge: challenge, code_challenge_method: 'S256' }).toString();
  return url.href;
}

async function exchange(code: string, verifier: string) {
  const res = await fetch(`${server.url}/v1/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(app.client_id)}:${encodeURIComponent(app.client_secret!)}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }).toString(),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { access_token: string };
  return JSON.parse(Buffer.from(body.access_token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
}

async function usersOf(): Promise<Array<{ id: string; email: string; roles: string[] }>> {
  return (await h.request({ method: 'GET', url: '/v1/platform/users?limit=100', headers: bearer(acme.adminToken) })).json().users;
}

describe('federated sign-in in Chromium', () => {
  it('SAML: the provider button, the IdP page, the ACS, consent, and the code exchanges for tokens', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium package`);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await (await loopbackContext(browser)).newPage();
      const { verifier, challenge } = pkce();
      await page.goto(authorizeAt(challenge, 'saml-state'));
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Sign in to continue to Incident dashboard');
      await page.getByRole('button', { name: 'Sign in with Acme SAML' }).click();
      await page.waitForURL((url) => url.port === new URL(samlIdp.ssoUrl).port);
      await page.getByRole('button', { name: 'Continue to Tessera' }).click();
      await page.waitForURL((url) => url.pathname === '/v1/oauth/consent');
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Allow Incident dashboard to access your account?');
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((url) => url.href.startsWith(`${redirectUri}?`));
      const callback = received.at(-1)!;
      expect(callback.get('state')).toBe('saml-state');
      const claims = await exchange(callback.get('code')!, verifier);
      const grace = (await usersOf()).find((u) => u.email === 'grace@saml.acme.example')!;
      expect(grace.roles).toEqual(['member']);
      expect(claims).toMatchObject({ sub: grace.id, tenant_id: acme.tenantId });
    } finally {
      await browser.close();
    }
  });

  it('OpenID Connect: home-realm discovery by email, node-oidc-provider, consent, and the code exchanges for tokens', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium package`);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await (await loopbackContext(browser)).newPage();
      const { verifier, challenge } = pkce();
      await page.goto(authorizeAt(challenge, 'oidc-state'));
      // The email first: its domain belongs to the OpenID provider.
      await page.getByLabel('Email').fill('linus@oidc.acme.example');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL((url) => url.origin === oidcIdp.issuer);
      await page.locator('input[name=login]').fill('linus');
      await page.locator('input[name=password]').fill('anything');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.getByRole('button', { name: 'Continue' }).click(); // the IdP's own consent
      await page.waitForURL((url) => url.pathname === '/v1/oauth/consent');
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((url) => url.href.startsWith(`${redirectUri}?`));
      const callback = received.at(-1)!;
      expect(callback.get('state')).toBe('oidc-state');
      const claims = await exchange(callback.get('code')!, verifier);
      const linus = (await usersOf()).find((u) => u.email === 'linus@oidc.acme.example')!;
      expect(linus.roles).toEqual(['admin']);
      expect(claims).toMatchObject({ sub: linus.id, tenant_id: acme.tenantId });
    } finally {
      await browser.close();
    }
  });
});

describe('the OIDC callback refuses what it cannot match or verify', () => {
  /** The hosted login up to the OpenID provider: the state Tessera sent, read from the redirect. */
  async function sentToIdp(): Promise<{ browser: FetchBrowser; state: string; authorization: URL }> {
    const browser = new FetchBrowser(server.url);
    const page = await browser.get(authorizeAt(pkce().challenge, 'refused'));
    const sent = await browser.post('/v1/oauth/login', { ...hiddenFields(await page.text()), email: 'linus@oidc.acme.example' });
    expect(sent.status).toBe(303);
    const authorization = new URL(sent.headers.get('location')!);
    expect(authorization.origin).toBe(oidcIdp.issuer);
    expect(Object.fromEntries(authorization.searchParams)).toMatchObject({ response_type: 'code', client_id: 'tessera-acme', code_challenge_method: 'S256', scope: 'openid email groups' });
    expect(authorization.searchParams.get('nonce')).toBeTruthy();
    return { browser, state: authorization.searchParams.get('state')!, authorization };
  }
  const callback = (browser: FetchBrowser, params: Record<string, string>) => browser.get(`/v1/federation/oidc/callback?${new URLSearchParams(params)}`);

  it('an unknown state, an IdP error, a state used twice, another issuer (RFC 9207), a forged code', async () => {
    const unknown = await callback(new FetchBrowser(server.url), { state: 'never-issued', code: 'x' });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('expired or was finished already');

    const denied = await sentToIdp();
    const error = await callback(denied.browser, { state: denied.state, error: 'access_denied', error_description: 'The user said no', iss: oidcIdp.issuer });
    expect(error.status).toBe(400);
    expect(await error.text()).toContain('did not sign you in: access_denied');
    // The state was used up by that answer.
    expect((await callback(denied.browser, { state: denied.state, code: 'x', iss: oidcIdp.issuer })).status).toBe(400);

    const mixedUp = await sentToIdp();
    const other = await callback(mixedUp.browser, { state: mixedUp.state, code: 'x', iss: 'https://evil.example' });
    expect(other.status).toBe(400);
    expect(await other.text()).toContain('refused');

    const forged = await sentToIdp();
    const code = await callback(forged.browser, { state: forged.state, code: 'not-a-code-the-idp-issued', iss: oidcIdp.issuer });
    expect(code.status).toBe(400);
    expect(await code.text()).toContain('refused the code: invalid_grant');
    expect((await usersOf()).filter((u) => u.email === 'linus@oidc.acme.example').length).toBeLessThanOrEqual(1);
  });
});
