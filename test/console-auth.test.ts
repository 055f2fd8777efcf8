// Signing in to the console and out (README "Console"): through Tessera's own authorization server for tenant admins
// and operators (code + PKCE + nonce, the console's client made at first use, no consent asked), with the app's own
// credentials for a partner; the session ends on logout (tokens revoked, the hosted session ended) and on expiry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, hiddenFields } from './helpers/oauth.js';
import { bearer, startHarness, TEST_ISSUER, type Harness, type TenantFixture } from './helpers/harness.js';

let h: Harness;
let acme: TenantFixture;

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
});
afterAll(() => h?.close());

const path = (location: string) => location.replace(TEST_ISSUER, '');

/** Signs in through the hosted login page as `email`; answers the browser, signed in to the console. */
async function signIn(browser: Browser, start: string, email: string, password: string) {
  const toAuthorize = await browser.get(start);
  expect(toAuthorize.statusCode, toAuthorize.body).toBe(303);
  const login = await browser.get(toAuthorize.headers.location!);
  expect(login.statusCode, login.body).toBe(200);
  const signedIn = await browser.post('/v1/oauth/login', { ...hiddenFields(login.body), email, password });
  expect(signedIn.statusCode, signedIn.body).toBe(303);
  // The console is first party: no consent page, straight back with a code.
  const callback = signedIn.headers.location!;
  expect(callback.startsWith(`${TEST_ISSUER}/console/callback?`)).toBe(true);
  return browser.get(path(callback));
}

describe('the console', () => {
  it('signs a tenant admin in through the authorization server and out again', async () => {
    const browser = new Browser(h);
    const landed = await signIn(browser, '/console/signin?tenant=acme', 'admin@acme.test', 'correct horse battery staple');
    expect(landed.statusCode, landed.body).toBe(303);
    expect(landed.headers.location).toBe('/console/apps');
    const home = await browser.get('/console');
    expect(home.headers.location).toBe('/console/apps');
    // The console's client: first party, absent from the tenant's apps.
    const apps = await h.request({ method: 'GET', url: '/v1/platform/apps', headers: bearer(acme.adminToken) });
    expect(apps.json().apps).toEqual([]);
  });
});

describe('the console in Chromium', () => {
  it('shows the sign-in page, accessible, and signs a tenant admin in', async () => {
    const { startConsoleBrowser, signInToTenant, expectAccessible } = await import('./helpers/console-browser.js');
    const consoleBrowser = await startConsoleBrowser(h);
    try {
      const { page } = await consoleBrowser.person();
      await page.goto('/console');
      await expectAccessible(page, 'sign-in');
      await signInToTenant(page, 'acme', 'admin@acme.test', 'correct horse battery staple');
      expect(new URL(page.url()).pathname).toBe('/console/apps');
    } finally {
      await consoleBrowser.close();
    }
  });
});
