// The hosted second-factor pages in a real browser (headless Chromium, JavaScript off), with the keyboard alone: a
// user whom the tenant's policy requires to have MFA enrols during the sign-in (reads the secret off the page, types
// the authenticator's code, sees the recovery codes, goes on to consent and the client), then signs in again with a
// code. Codes are made with the library the server uses, from the secret the page shows, on the clock both share.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { generate } from 'otplib';
import { chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { startListeningTessera, type ListeningTessera } from './helpers/listening.js';
import { createUser, pkce, registerCodeApp, type CodeApp } from './helpers/oauth.js';

// Debian's chromium: playwright-core cannot download browsers here (DESIGN "Runtime"); CI installs it.
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const EMAIL = 'grace@acme.test';
const PASSWORD = 'a long enough password';

let h: Harness;
let server: ListeningTessera;
let acme: TenantFixture;
let app: CodeApp;
let client: Server;
let redirectUri: string;
const received: URLSearchParams[] = [];

async function startClient(): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    received.push(url.searchParams);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>Connected</title><h1>Connected to Tessera</h1>');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

beforeAll(async () => {
  h = await startHarness();
  // The same clock as the harness: the test moves it to the next TOTP time step instead of waiting for it.
  server = await startListeningTessera(h, { clock: h.clock });
  client = await startClient();
  redirectUri = `http://127.0.0.1:${(client.address() as { port: number }).port}/callback`;
  acme = await h.tenant('acme');
  app = await registerCodeApp(h, acme, { redirect_uris: [redirectUri] });
  await createUser(h, acme, EMAIL, PASSWORD);
  const policy = await h.request({ method: 'PATCH', url: '/v1/platform/tenant', headers: bearer(acme.adminToken), payload: { mfa_required: 'everyone' } });
  expect(policy.statusCode).toBe(200);
});
afterAll(async () => {
  await new Promise((resolve) => (client ? client.close(resolve) : resolve(undefined)));
  await server?.close();
  await h?.close();
});

function authorizeUrl(state: string): string {
  const url = new URL(`${server.url}/v1/oauth/authorize`);
  url.search = new URLSearchParams({ response_type: 'code', client_id: app.client_id, redirect_uri: redirectUri, scope: 'incidents:read', state, code_challenge: pkce().challenge, code_challenge_method: 'S256' }).toString();
  return url.href;
}

const codeNow = (secret: string) => generate({ secret, epoch: Math.floor(h.clock.now() / 1000) });

/** Tab until the element labelled `label` (a field, by its label; a button or link, by its name) has the focus. */
async function tabTo(page: Page, label: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el) return '';
      const labels = (el as HTMLInputElement).labels;
      return labels?.length ? labels[0]!.textContent!.trim() : el.textContent!.trim();
    });
    if (focused === label) return;
  }
  throw new Error(`no element labelled ${label} took the focus by Tab`);
}

/** The login form, by the keyboard: email, password, Enter. */
async function signIn(page: Page): Promise<void> {
  await tabTo(page, 'Email');
  await page.keyboard.type(EMAIL);
  await tabTo(page, 'Password');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
}

describe('second factor in Chromium, keyboard only', () => {
  it('enrols an authenticator during the sign-in, then signs in with its code', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium package (apt-get install -y chromium) to run the browser test`);
    }
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      // JavaScript off for the pages; Playwright's own evaluation (which element has the focus) still runs.
      const context = await browser.newContext({ javaScriptEnabled: false });
      const page = await context.newPage();
      expect((await page.goto(authorizeUrl('enrol')))?.status()).toBe(200);
      await signIn(page);

      await page.waitForURL((url) => url.pathname === '/v1/oauth/mfa');
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Set up two-step verification');
      expect(await page.getByRole('img', { name: 'QR code of your authenticator key' }).isVisible()).toBe(true);
      const secret = (await page.locator('#totp-secret').textContent())!.replace(/\s/g, '');
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(await page.getByRole('link', { name: 'open the setup link in your authenticator app' }).getAttribute('href')).toMatch(/^otpauth:\/\/totp\//);
      expect((await context.cookies(server.url + '/v1/oauth')).map((c) => c.name)).toEqual(['tessera_browser']);

      await tabTo(page, 'Code from the app');
      await page.keyboard.type(await codeNow(secret));
      await page.keyboard.press('Enter');

      // The form posts to the page's own URL: the new page is known by its heading.
      await page.getByRole('heading', { level: 1, name: 'Save your recovery codes' }).waitFor();
      const codes = await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allTextContents();
      expect(codes).toHaveLength(10);
      await tabTo(page, 'Continue');
      await page.keyboard.press('Enter');

      await page.waitForURL((url) => url.pathname === '/v1/oauth/consent');
      await tabTo(page, 'Allow');
      await page.keyboard.press('Enter');
      await page.waitForURL((url) => url.href.startsWith(`${redirectUri}?`));
      expect(received.at(-1)!.get('state')).toBe('enrol');
      expect(received.at(-1)!.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      await context.close();

      // A new browser, a later time step: the password, then the code page.
      await h.clock.advance(30_000);
      const again = await browser.newContext({ javaScriptEnabled: false });
      const second = await again.newPage();
      await second.goto(authorizeUrl('code'));
      await signIn(second);
      await second.waitForURL((url) => url.pathname === '/v1/oauth/mfa');
      await expect(second.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Enter your verification code');
      await tabTo(second, 'Verification code');
      await second.keyboard.type(await codeNow(secret));
      await second.keyboard.press('Enter');
      // Consent was given once for these scopes: straight back to the client.
      await second.waitForURL((url) => url.href.startsWith(`${redirectUri}?`));
      expect(received.at(-1)!.get('state')).toBe('code');
      expect((await again.cookies(server.url + '/v1/oauth')).map((c) => c.name).sort()).toEqual(['tessera_browser', 'tessera_session']);
      await again.close();
    } finally {
      await browser.close();
    }
  });
});
