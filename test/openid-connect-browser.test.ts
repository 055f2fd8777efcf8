// OpenID Connect in a real browser (headless Chromium, JavaScript off) with openid-client as the relying party behind
// a real loopback web app: sign-in and consent to the OpenID Connect scopes, the code exchange and its ID token, then
// RP-initiated logout twice: with an id_token_hint (straight back to the app) and without one (the user confirms, with
// the keyboard); each time the next silent request (prompt=none) answers login_required.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import * as client from 'openid-client';
import { chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { startListeningTessera, type ListeningTessera } from './helpers/listening.js';
import { createUser, registerCodeApp, type CodeApp } from './helpers/oauth.js';

// Debian's chromium: playwright-core cannot download browsers here (DESIGN "Runtime"); CI installs it.
const CHROMIUM = '/usr/bin/chromium';
// No network but loopback on these machines: nothing in the background may try to go out.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const EMAIL = 'linus@acme.test';
const PASSWORD = 'a long enough password';

let h: Harness;
let server: ListeningTessera;
let acme: TenantFixture;
let app: CodeApp;
let web: Server;
let base: string;
let rp: client.Configuration;
/** What the relying party's web app received, by path. */
const received: Array<{ path: string; url: URL }> = [];

/** The relying party's web app: its redirect URI and its post-logout page. */
async function startWebApp(): Promise<Server> {
  const webApp = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    if (url.pathname !== '/callback' && url.pathname !== '/signed-out') {
      res.writeHead(404).end();
      return;
    }
    received.push({ path: url.pathname, url });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>RP</title><h1>${url.pathname === '/callback' ? 'Back at the app' : 'Signed out of the app'}</h1>`);
  });
  await new Promise<void>((resolve, reject) => {
    webApp.once('error', reject);
    webApp.listen(0, '127.0.0.1', () => resolve());
  });
  return webApp;
}

beforeAll(async () => {
  h = await startHarness();
  server = await startListeningTessera(h);
  web = await startWebApp();
  base = `http://127.0.0.1:${(web.address() as { port: number }).port}`;
  acme = await h.tenant('acme');
  app = await registerCodeApp(h, acme, {
    name: 'Team wiki',
    redirect_uris: [`${base}/callback`],
    post_logout_redirect_uris: [`${base}/signed-out`],
    requested_scopes: ['openid', 'profile', 'email'],
  });
  await createUser(h, acme, EMAIL, PASSWORD);
  rp = await client.discovery(new URL(server.url), app.client_id, app.client_secret, client.ClientSecretBasic(app.client_secret!), { execute: [client.allowInsecureRequests] });
});
afterAll(async () => {
  await new Promise((resolve) => (web ? web.close(resolve) : resolve(undefined)));
  await server?.close();
  await h?.close();
});

/** A fresh authorization request of the relying party. */
async function authorization(extra: Record<string, string> = {}) {
  const checks = { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedNonce: client.randomNonce(), expectedState: client.randomState() };
  const url = client.buildAuthorizationUrl(rp, {
    redirect_uri: `${base}/callback`,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(checks.pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    ...extra,
  });
  return { url, checks };
}

/** Where the browser lands: the app's page, once it has loaded. */
async function landsAt(page: Page, path: string): Promise<URL> {
  await page.waitForURL((url) => url.href.startsWith(`${base}${path}`));
  const last = received.at(-1)!;
  expect(last.path).toBe(path);
  return last.url;
}

/** prompt=none from this browser: the error the app gets, if any. */
async function silently(page: Page): Promise<string | null> {
  const { url } = await authorization({ prompt: 'none' });
  await page.goto(url.href);
  return (await landsAt(page, '/callback')).searchParams.get('error');
}

async function signIn(page: Page, expectConsent: boolean) {
  const { url, checks } = await authorization();
  await page.goto(url.href);
  await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Sign in to continue to Team wiki');
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (expectConsent) {
    await page.waitForURL((u) => u.pathname === '/v1/oauth/consent');
    const permissions = page.getByRole('list', { name: 'Requested permissions' }).getByRole('listitem');
    expect(await permissions.allTextContents()).toEqual([
      'openid: Sign you in with your Tessera account and know who you are',
      'profile: Read your username and your roles in your organisation',
      'email: Read your email address',
    ]);
    await page.getByRole('button', { name: 'Allow' }).click();
  }
  const callback = await landsAt(page, '/callback');
  return client.authorizationCodeGrant(rp, callback, checks);
}

describe('OpenID Connect in Chromium', () => {
  it('signs in, validates the ID token, and logs out with and without an id_token_hint', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium package (apt-get install -y chromium) to run the browser test`);
    }
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const context = await browser.newContext({ javaScriptEnabled: false });
      const page = await context.newPage();
      const sessionCookie = async () => (await context.cookies(`${server.url}/v1/oauth`)).find((c) => c.name === 'tessera_session');

      const tokens = await signIn(page, true);
      expect(tokens.claims()).toMatchObject({ iss: server.url, aud: app.client_id, acr: 'urn:tessera:acr:pwd', amr: ['pwd'], email: EMAIL, preferred_username: EMAIL });
      expect(await sessionCookie()).toBeDefined();

      // With the ID token as the hint: no question, straight back to the app with its state.
      await page.goto(client.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${base}/signed-out`, state: 'first' }).href);
      expect((await landsAt(page, '/signed-out')).searchParams.get('state')).toBe('first');
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Signed out of the app');
      expect(await sessionCookie()).toBeUndefined();
      expect(await silently(page)).toBe('login_required');

      // Signed in again (the consent is remembered), then a logout nobody vouches for: the user confirms it.
      await signIn(page, false);
      expect(await silently(page)).toBeNull();
      await page.goto(client.buildEndSessionUrl(rp, { post_logout_redirect_uri: `${base}/signed-out`, state: 'second' }).href);
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Sign out of Tessera?');
      await page.getByRole('button', { name: 'Sign out' }).focus();
      await page.keyboard.press('Enter');
      expect((await landsAt(page, '/signed-out')).searchParams.get('state')).toBe('second');
      expect(await sessionCookie()).toBeUndefined();
      expect(await silently(page)).toBe('login_required');
      await context.close();
    } finally {
      await browser.close();
    }
  });
});
