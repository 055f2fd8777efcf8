// The hosted login and consent pages in a real browser (headless Chromium, JavaScript off): labels,
// buttons, cookies, the 303s and the cross-origin redirect to a real loopback client, then the code
// exchange at the token endpoint.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { startListeningTessera, type ListeningTessera } from './helpers/listening.js';
import { createUser, pkce, registerCodeApp, type CodeApp } from './helpers/oauth.js';

// Debian's chromium: playwright-core cannot download browsers here (DESIGN "Runtime"); CI installs it.
const CHROMIUM = '/usr/bin/chromium';
// No network but loopback on these machines: nothing in the background may try to go out.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const EMAIL = 'ada@acme.test';
const PASSWORD = 'a long enough password';

let h: Harness;
let server: ListeningTessera;
let acme: TenantFixture;
let app: CodeApp;
let client: Server;
let redirectUri: string;
/** The query strings the client's redirect endpoint received. */
const received: URLSearchParams[] = [];

/** The integrator's redirect endpoint: records the authorization response and shows a page. */
async function startClient(): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    received.push(url.searchParams);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    // The script must not run: the context has JavaScript disabled.
    res.end('<!doctype html><title>Connected</title><h1>Connected to Tessera</h1><script>document.title = "script ran"</script>');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

beforeAll(async () => {
  h = await startHarness();
  server = await startListeningTessera(h);
  client = await startClient();
  const { port } = client.address() as { port: number };
  redirectUri = `http://127.0.0.1:${port}/callback`; // http is allowed for loopback redirect URIs (RFC 8252 7.3)
  acme = await h.tenant('acme');
  app = await registerCodeApp(h, acme, { redirect_uris: [redirectUri] });
  await createUser(h, acme, EMAIL, PASSWORD);
});
afterAll(async () => {
  await new Promise((resolve) => (client ? client.close(resolve) : resolve(undefined)));
  await server?.close();
  await h?.close();
});

describe('hosted pages in Chromium', () => {
  it('signs in, shows the requested scope, allows, lands on the client, and the code exchanges for tokens, without JavaScript', async () => {
    // A missing browser is a failure, not a skip: CI installs it (.ci/run).
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium package (apt-get install -y chromium) to run the browser test`);
    }
    const { verifier, challenge } = pkce();
    const authorize = new URL(`${server.url}/v1/oauth/authorize`);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: app.client_id,
      redirect_uri: redirectUri,
      scope: 'incidents:read',
      state: 'browser-state',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const context = await browser.newContext({ javaScriptEnabled: false });
      const page = await context.newPage();

      const loginResponse = await page.goto(authorize.href);
      expect(loginResponse?.status()).toBe(200);
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Sign in to continue to Incident dashboard');
      await page.getByLabel('Email').fill(EMAIL);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();

      // Post/redirect/get to the consent page, which lists the scope with its description.
      await page.waitForURL((url) => url.pathname === '/v1/oauth/consent');
      expect(page.url()).toMatch(new RegExp(`^${server.url}/v1/oauth/consent\\?request_id=ar_`));
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Allow Incident dashboard to access your account?');
      const permissions = page.getByRole('list', { name: 'Requested permissions' }).getByRole('listitem');
      expect(await permissions.allTextContents()).toEqual(['incidents:read: Read incidents and their notes']);
      const cookies = await context.cookies(server.url + '/v1/oauth');
      expect(cookies.map((c) => c.name).sort()).toEqual(['tessera_browser', 'tessera_session']);

      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((url) => url.href.startsWith(`${redirectUri}?`));
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Connected to Tessera');
      expect(await page.title()).toBe('Connected'); // its script did not run: JavaScript is off

      expect(received).toHaveLength(1);
      const callback = received[0]!;
      expect([...callback.keys()].sort()).toEqual(['code', 'iss', 'state']);
      expect(callback.get('state')).toBe('browser-state');
      expect(callback.get('iss')).toBe(server.url);
      const code = callback.get('code')!;
      expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
      await context.close();

      // The client's back channel.
      const token = await fetch(`${server.url}/v1/oauth/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(app.client_id)}:${encodeURIComponent(app.client_secret!)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }).toString(),
      });
      expect(token.status).toBe(200);
      expect(token.headers.get('cache-control')).toBe('no-store');
      const body = (await token.json()) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'incidents:read' });
      expect(body.access_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(body.refresh_token).toMatch(/^trt_/);
    } finally {
      await browser.close();
    }
  });
});
