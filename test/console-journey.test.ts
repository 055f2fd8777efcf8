// Issue 17's acceptance, as one journey through the console in Chromium, every role a person in a browser of its own
// (README "Console"): a tenant admin signs in through the hosted login, registers an app and copies its secret,
// rotates it, mints and revokes a service token, creates a webhook and watches a test delivery reach a receiver on
// 127.0.0.1 and show as succeeded, suspends and resumes the app; an operator assigns a bundle to that app, and the
// partner, signed in as the app with its rotated secret, finds the bundle's operations on its Operations page; an
// admin of another tenant sees none of it. The other console-*.test.ts files go deeper into each area; this one
// checks the areas meet. What each page did is checked where a user would notice it: the token endpoint, the
// receiver, the REST API.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationId, publishShippedBundles } from './helpers/graphql.js';
import { bearer, startHarness, type Harness } from './helpers/harness.js';
import { Receiver } from './helpers/receiver.js';
import { expectAccessible, signInAsOperator, signInAsPartner, signInToTenant, startConsoleBrowser, type ConsoleBrowser } from './helpers/console-browser.js';

const PASSWORD = 'correct horse battery staple';
const OPERATOR = { email: 'ops@tessera.test', password: 'an operator password' };
const LIST_INCIDENTS = operationId('incident-read', 'ListIncidents');

let h: Harness;
let cb: ConsoleBrowser;
let receiver: Receiver;

beforeAll(async () => {
  h = await startHarness({ WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WEBHOOK_HTTP_HOSTS: '127.0.0.1', WORKER_POLL_INTERVAL: '100' }, { worker: true });
  await h.tenant('acme');
  await h.tenant('globex');
  await h.runtime.services.tenancy.createOperator(h.runtime.orm.em.fork(), OPERATOR, 'test');
  await publishShippedBundles(h);
  receiver = await new Receiver(h.clock).start();
  cb = await startConsoleBrowser(h);
}, 120_000);
afterAll(async () => {
  await cb?.close();
  await receiver?.stop();
  await h?.close();
});

async function person(): Promise<Page> {
  const { page } = await cb.person();
  page.setDefaultTimeout(20_000);
  return page;
}

/** The console's server answers as the issuer the browser sees; its token endpoint is asked in process. */
async function tokenStatus(clientId: string, secret: string): Promise<number> {
  const res = await cb.server.app.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=client_credentials',
  });
  return res.statusCode;
}

const heading = (page: Page) => page.locator('h1').textContent();
const notice = (page: Page) => page.locator('.notice').textContent();

describe('the console, from registration to the partner', () => {
  let clientId = '';
  let secret = '';

  it('a tenant admin registers an app, copies and rotates its secret, mints and revokes a service token', async () => {
    const page = await person();
    await signInToTenant(page, 'acme', 'admin@acme.test', PASSWORD);
    expect(new URL(page.url()).pathname).toBe('/console/apps');

    await page.getByLabel('Name', { exact: true }).fill('Partner feed');
    await page.getByRole('checkbox', { name: /^incidents:read/ }).check();
    await page.getByRole('checkbox', { name: /^webhooks:read/ }).check();
    await page.getByRole('button', { name: 'Register' }).click();
    await expect.poll(() => heading(page)).toBe('App registered: Partner feed');
    clientId = (await page.locator('dd code').first().textContent())!.trim();
    const first = (await page.locator('#client-secret').textContent())!.trim();
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(first);
    expect(await tokenStatus(clientId, first)).toBe(200);

    // Rotate with no grace period: the first secret stops at once, the new one is shown once.
    await page.goto(`/console/apps/${clientId}`);
    await page.getByRole('link', { name: 'Rotate the secret…' }).click();
    await page.getByLabel('Grace period of the previous secret (seconds)').fill('0');
    await page.getByRole('button', { name: 'Rotate the secret' }).click();
    await expect.poll(() => heading(page)).toBe('Secret rotated');
    secret = (await page.locator('#client-secret').textContent())!.trim();
    expect(secret).not.toBe(first);
    expect(await tokenStatus(clientId, secret)).toBe(200);
    expect(await tokenStatus(clientId, first)).toBe(401);

    // A service token: allowed by governance, minted (shown once), working, then revoked.
    await page.goto(`/console/apps/${clientId}`);
    await page.getByLabel('Allow service tokens to be minted for this app').check();
    await page.getByRole('button', { name: 'Save governance' }).click();
    await expect.poll(() => notice(page)).toBe('The governance settings were saved.');
    await page.getByRole('group', { name: 'Scopes', exact: true }).getByRole('checkbox', { name: 'incidents:read' }).check();
    await page.getByRole('button', { name: 'Mint' }).click();
    await expect.poll(() => heading(page)).toBe('Service token minted');
    const serviceToken = (await page.locator('#service-token').textContent())!.trim();
    const useToken = () => cb.server.app.inject({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(serviceToken) });
    expect((await useToken()).statusCode).toBe(200);
    await page.goto(`/console/apps/${clientId}`);
    await page.getByRole('link', { name: /^Revoke / }).click();
    await page.getByRole('button', { name: 'Revoke the token' }).click();
    await expect.poll(() => notice(page)).toContain('The service token was revoked');
    expect((await useToken()).statusCode).toBe(401);
    await expectAccessible(page, 'journey-admin-app');
  }, 180_000);

  it('the admin creates a webhook, sends a test that arrives and shows as succeeded, and suspends and resumes the app', async () => {
    const page = await person();
    await signInToTenant(page, 'acme', 'admin@acme.test', PASSWORD);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('link', { name: 'New webhook' }).click();
    await page.getByLabel('Endpoint URL').fill(`${receiver.url}/journey`);
    await page.getByLabel('incident.created').check();
    await page.getByRole('button', { name: 'Create webhook' }).click();
    const signingSecret = (await page.locator('#webhook-secret').textContent())!.trim();
    expect(signingSecret).toMatch(/^whsec_/);
    await page.getByRole('link', { name: 'Go to the webhook' }).click();

    await page.getByRole('button', { name: 'Send a test' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('A test delivery was queued');
    const rows = page.locator('section[aria-labelledby="deliveries-heading"] tbody tr');
    const deadline = Date.now() + 15_000;
    while ((await rows.filter({ hasText: 'succeeded' }).count()) !== 1) {
      if (Date.now() > deadline) throw new Error('the test delivery never showed as succeeded');
      await new Promise((resolve) => setTimeout(resolve, 250));
      await page.reload();
    }
    const arrived = receiver.received.filter((r) => r.path === '/journey');
    expect(arrived).toHaveLength(1);
    expect(JSON.parse(arrived[0]!.body).type).toBe('webhook.test');
    expect(arrived[0]!.headers['webhook-signature']).toMatch(/^v1,/);
    await expectAccessible(page, 'journey-admin-webhook');

    // Suspend, then resume, by typing the app's name: its tokens stop, then work again.
    await page.goto(`/console/apps/${clientId}`);
    await page.getByRole('link', { name: 'Suspend…' }).click();
    await page.getByLabel(/Type the app's name to confirm/).fill('Partner feed');
    await page.getByRole('button', { name: 'Suspend the app' }).click();
    await expect.poll(() => notice(page)).toContain('The app is suspended');
    expect(await tokenStatus(clientId, secret)).toBe(401);
    await page.getByRole('link', { name: 'Resume…' }).click();
    await page.getByLabel(/Type the app's name to confirm/).fill('Partner feed');
    await page.getByRole('button', { name: 'Resume the app' }).click();
    await expect.poll(() => notice(page)).toContain('The app was resumed');
    expect(await tokenStatus(clientId, secret)).toBe(200);
  }, 180_000);

  it("an operator assigns a bundle to the app, and the partner's operation list shows it", async () => {
    const partnerPage = await person();
    await signInAsPartner(partnerPage, clientId, secret);
    await partnerPage.waitForURL(/\/console\/partner\/operations/);
    expect(await partnerPage.locator('main').textContent()).not.toContain(LIST_INCIDENTS);

    const page = await person();
    await signInAsOperator(page, OPERATOR.email, OPERATOR.password);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Bundles' }).click();
    await page.locator('main').getByRole('link', { name: 'incident-read' }).click();
    await page.getByLabel("The app's client id").fill(clientId);
    await page.getByRole('button', { name: 'Assign' }).click();
    await page.getByRole('status').filter({ hasText: 'The bundle was assigned' }).waitFor();
    expect(await page.locator('main tr', { hasText: clientId }).textContent()).toContain('Partner feed');

    await partnerPage.reload();
    const operations = await partnerPage.locator('main').textContent();
    expect(operations).toContain('ListIncidents');
    expect(operations).toContain(LIST_INCIDENTS);
    await expectAccessible(partnerPage, 'journey-partner-operations');
  }, 120_000);

  it("shows an admin of another tenant none of it", async () => {
    const page = await person();
    await signInToTenant(page, 'globex', 'admin@globex.test', PASSWORD);
    expect(await page.locator('main').textContent()).not.toContain('Partner feed');
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Webhooks' }).click();
    expect(await page.locator('main').textContent()).not.toContain('/journey');
    expect((await page.goto(`/console/apps/${clientId}`))!.status()).toBe(404);
    expect(await page.content()).not.toContain('Partner feed');
  }, 120_000);
});
