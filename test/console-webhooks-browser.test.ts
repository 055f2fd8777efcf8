// The console's webhooks, partner pages and activity pictures in Chromium (README "Console"), against a Tessera on
// 127.0.0.1 whose deliveries reach a real receiver: a tenant admin creates a webhook (its generated secret shown once:
// a reload of that answer makes no second webhook), sees that a link cannot put words on a page, sends a test and watches it arrive, opens its attempt, filters the deliveries, recovers a failed one and follows the
// recovery, edits, disables and deletes it (after a confirmation); an app's activity page shows its calls and deliveries
// as charts after real calls; a partner signs in as its app, sees its operations with their ids, downloads a manifest
// and the partial schema, and sees its own webhooks. Every page passes axe-core (helpers/console-browser.ts).
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gql, operationId, partner, publishShippedBundles, type Partner } from './helpers/graphql.js';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { until } from './helpers/poll.js';
import { Receiver } from './helpers/receiver.js';
import type { ConsoleBrowser } from './helpers/console-browser.js';

let h: Harness;
let acme: TenantFixture;
let receiver: Receiver;
let consoleBrowser: ConsoleBrowser;
let helpers: typeof import('./helpers/console-browser.js');

const LIST = operationId('incident-read', 'ListIncidents');
const CREATE = operationId('incident-sync', 'CreateIncident');
const PASSWORD = 'correct horse battery staple';

beforeAll(async () => {
  // Retries an hour apart: a failed delivery stays `retrying` for the recover request to send again.
  h = await startHarness(
    { WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WEBHOOK_HTTP_HOSTS: '127.0.0.1', WEBHOOK_RETRY_SCHEDULE: '3600,3600,3600', WEBHOOK_TIMEOUT: '2', WORKER_POLL_INTERVAL: '100' },
    { worker: true },
  );
  acme = await h.tenant('acme');
  await publishShippedBundles(h);
  receiver = await new Receiver(h.clock).start();
  helpers = await import('./helpers/console-browser.js');
  consoleBrowser = await helpers.startConsoleBrowser(h);
});
afterAll(async () => {
  await consoleBrowser?.close();
  await receiver?.stop();
  await h?.close();
});
beforeEach(() => {
  receiver.respond = () => ({ status: 204 });
});

/** Reloads the page until `probe` holds (a delivery arriving, a recovery completing: a worker's doing, not the page's). */
async function reloadUntil(page: Page, probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`still not there after ${timeoutMs} ms: ${page.url()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await page.reload();
  }
}

/** Tabs from the top of the page until the control named `name` has the focus (at most `max` presses). */
async function tabTo(page: Page, name: string, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => (document.activeElement?.textContent ?? '').trim());
    if (focused === name) return;
  }
  throw new Error(`${name} was not reached with the keyboard`);
}

const deliveryRows = (page: Page) => page.locator('section[aria-labelledby="deliveries-heading"] tbody tr');

describe('webhooks in the console, for a tenant admin', () => {
  it('creates a webhook, tests it, reads its attempt, filters and recovers deliveries, edits, disables and deletes it', { timeout: 120_000 }, async () => {
    const { page } = await consoleBrowser.person();
    await helpers.signInToTenant(page, 'acme', 'admin@acme.test', PASSWORD);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Webhooks' }).click();
    await expect.poll(() => new URL(page.url()).pathname).toBe('/console/webhooks');
    await expect.poll(() => page.getByText('No webhooks yet.').isVisible()).toBe(true);
    await helpers.expectAccessible(page, 'admin-webhooks-empty');

    await page.getByRole('link', { name: 'New webhook' }).click();
    // Each event with its description, from the catalog.
    await expect.poll(() => page.getByText('An incident was opened').count()).toBeGreaterThan(0);
    await helpers.expectAccessible(page, 'admin-webhook-new');
    // The server's refusal, next to its field.
    await page.getByLabel('Endpoint URL').fill('ftp://integrator.example/hook');
    await page.getByLabel('incident.created').check();
    await page.getByRole('button', { name: 'Create webhook' }).click();
    await expect.poll(() => page.locator('#f-url-error').textContent()).toBe('body.url must use https');
    expect(await page.getByLabel('Endpoint URL').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('incident.created').isChecked()).toBe(true);
    await helpers.expectAccessible(page, 'admin-webhook-new-refused');

    await page.getByLabel('Endpoint URL').fill(`${receiver.url}/console`);
    await page.getByRole('button', { name: 'Create webhook' }).click();
    // The generated secret, once, with a copy button.
    const secret = (await page.locator('#webhook-secret').textContent())!;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => page.locator('#webhook-secret-status').textContent()).toBe('Copied.');
    await helpers.expectAccessible(page, 'admin-webhook-created');
    const detailPath = (await page.getByRole('link', { name: 'Go to the webhook' }).getAttribute('href'))!;
    // A reload sends the form again: no second webhook is made, and the secret is not shown again.
    const again = await page.reload();
    expect(again!.status()).toBe(409);
    expect(await page.locator('h1').textContent()).toBe('Already done');
    expect(await page.content()).not.toContain(secret.slice(6));
    const listed = (await h.request({ method: 'GET', url: '/v1/webhooks', headers: bearer(acme.adminToken) })).json().webhooks;
    expect(listed.map((w: { id: string }) => w.id)).toEqual([detailPath.split('/').pop()]);
    await helpers.expectAccessible(page, 'admin-webhook-already-done');
    await page.goto(detailPath);
    const detailUrl = page.url();
    const webhookId = new URL(detailUrl).pathname.split('/').pop()!;
    expect(await page.content()).not.toContain(secret.slice(6));
    await helpers.expectAccessible(page, 'admin-webhook');
    // A link cannot put words of its own on the page: a notice is one of the console's, named by its key.
    await page.goto(`${detailUrl}?notice=${encodeURIComponent('Your webhook was compromised: call +1 555 0100')}`);
    expect(await page.locator('.notice').count()).toBe(0);
    expect(await page.content()).not.toContain('555 0100');
    await page.goto(detailUrl);

    // A test, sent with the keyboard alone, arrives and shows as succeeded.
    await tabTo(page, 'Send a test');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('status').textContent()).toContain('A test delivery was queued');
    await reloadUntil(page, async () => (await deliveryRows(page).filter({ hasText: 'succeeded' }).count()) === 1);
    expect(receiver.received.filter((r) => r.path === '/console')).toHaveLength(1);

    // Its attempt: the response and the request payload.
    await deliveryRows(page).first().getByRole('link').click();
    await expect.poll(() => page.getByRole('heading', { name: 'Attempts' }).isVisible()).toBe(true);
    const attempt = page.locator('table tbody tr').first();
    expect(await attempt.locator('td').nth(0).textContent()).toBe('1');
    expect(await attempt.locator('td').nth(2).textContent()).toBe('204');
    expect(await page.locator('pre').last().textContent()).toContain('"type": "webhook.test"');
    await helpers.expectAccessible(page, 'admin-webhook-delivery');
    await page.getByRole('link', { name: 'Back to the webhook' }).click();

    // A test the receiver refuses: retrying, an hour from now.
    receiver.respond = () => ({ status: 503, body: 'maintenance' });
    await page.getByRole('button', { name: 'Send a test' }).click();
    await reloadUntil(page, async () => (await deliveryRows(page).filter({ hasText: 'retrying' }).count()) === 1);

    // The filter.
    await page.getByLabel('Status').selectOption('retrying');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('status')).toBe('retrying');
    expect(await deliveryRows(page).count()).toBe(1);
    expect(await deliveryRows(page).first().textContent()).toContain('retrying');
    await helpers.expectAccessible(page, 'admin-webhook-deliveries-filtered');
    await page.getByLabel('Status').selectOption('failed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.getByText('No failed deliveries.').isVisible()).toBe(true);
    await page.getByLabel('Status').selectOption('succeeded');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => deliveryRows(page).count()).toBe(1);

    // Recover since a time (a day ago, as the form suggests): the retrying delivery is sent again, and succeeds.
    receiver.respond = () => ({ status: 204 });
    await page.getByRole('button', { name: 'Recover' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toBe('Recovery started: the deliveries counted below are sent again, once each.');
    expect(await page.locator('dl.facts').textContent()).toMatch(/Deliveries\s*1/);
    await helpers.expectAccessible(page, 'admin-webhook-recovery');
    await reloadUntil(page, async () => (await page.getByText('completed', { exact: true }).count()) > 0);
    expect(await page.locator('dl.facts').textContent()).toMatch(/Succeeded\s*1/);
    expect(receiver.received.filter((r) => r.path === '/console')).toHaveLength(3);

    // The success timeline: a bar per hour that had successes, a bar per hour that had failures.
    await page.goto(detailUrl);
    const timeline = (await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}/timeline?days=7`, headers: bearer(acme.adminToken) })).json();
    expect(timeline.succeeded).toBe(2);
    expect(timeline.failed).toBe(1);
    const chart = page.locator('#chart-timeline svg[role="img"]');
    expect(await chart.count()).toBe(1);
    expect(await chart.locator('g.bars rect.bar-ok').count()).toBe(timeline.hours.filter((x: { succeeded: number }) => x.succeeded > 0).length);
    expect(await chart.locator('g.bars rect.bar-bad').count()).toBe(timeline.hours.filter((x: { failed: number }) => x.failed > 0).length);
    expect(await page.locator('#chart-timeline details tbody tr').count()).toBe(timeline.hours.length);

    // Edit: a refused rate limit next to its field, then a good one.
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByLabel('Rate limit (deliveries a second, optional)').fill('5000');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.locator('#f-rate_limit-error').textContent()).toContain('body.rate_limit must be <= 1000');
    await helpers.expectAccessible(page, 'admin-webhook-edit-refused');
    await page.getByLabel('Rate limit (deliveries a second, optional)').fill('10');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toBe('Saved.');
    expect(await page.locator('dl.facts').textContent()).toContain('10 a second');

    // Disable, enable.
    await page.getByRole('button', { name: 'Disable' }).click();
    await expect.poll(() => page.locator('dl.facts .badge').first().textContent()).toBe('disabled');
    await page.getByRole('button', { name: 'Enable' }).click();
    await expect.poll(() => page.locator('dl.facts .badge').first().textContent()).toBe('enabled');

    // The list, then delete after a confirmation.
    await page.getByRole('link', { name: 'All webhooks' }).click();
    expect(await page.locator('tbody tr').count()).toBe(1);
    expect(await page.locator('tbody tr').textContent()).toContain('10 a second');
    await helpers.expectAccessible(page, 'admin-webhooks');
    await page.goto(`${detailUrl}`);
    await page.getByRole('link', { name: 'Delete…' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Delete this webhook?' }).isVisible()).toBe(true);
    await helpers.expectAccessible(page, 'admin-webhook-delete');
    await page.getByRole('button', { name: 'Delete the webhook' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toBe('The webhook was deleted.');
    expect((await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}`, headers: bearer(acme.adminToken) })).statusCode).toBe(404);

    // The list pages by 20.
    const made: string[] = [];
    for (let i = 0; i < 21; i++) {
      const res = await h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(acme.adminToken), payload: { url: `${receiver.url}/paged/${i}`, events: ['incident.closed'] } });
      made.push(res.json().id);
    }
    await page.goto('/console/webhooks');
    expect(await page.locator('tbody tr').count()).toBe(20);
    await page.getByRole('link', { name: 'Next page' }).click();
    expect(await page.locator('tbody tr').count()).toBe(1);
    expect(await page.locator('tbody tr').textContent()).toContain('/paged/20');
    for (const id of made) await h.request({ method: 'DELETE', url: `/v1/webhooks/${id}`, headers: bearer(acme.adminToken) });
  });
});

describe("an app's activity and a partner's pages", () => {
  let app: Partner;
  let own: string;

  beforeAll(async () => {
    app = await partner(h, acme, ['incident-read', 'incident-sync'], ['incidents:read', 'incidents:write', 'webhooks:read', 'webhooks:write']);
    const subscribed = await h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(app.token), payload: { url: `${receiver.url}/partner`, events: ['incident.created'] } });
    expect(subscribed.statusCode, subscribed.body).toBe(201);
    own = subscribed.json().id;
    // The tenant admin's own subscription: not the partner's to see.
    const admins = await h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(acme.adminToken), payload: { url: `${receiver.url}/admins`, events: ['incident.closed'] } });
    expect(admins.statusCode).toBe(201);
    for (const title of ['first', 'second']) {
      expect((await gql(h, app, acme.tenantId, { documentId: `sha256:${CREATE}`, variables: { input: { title, severity: 'SEV3' } } })).statusCode).toBe(200);
    }
    for (const first of [1, 2, 500]) await gql(h, app, acme.tenantId, { documentId: `sha256:${LIST}`, variables: { first } });
    await receiver.waitFor(2, (r) => r.path === '/partner');
    await until(async () => (await h.request({ method: 'GET', url: `/v1/webhooks/${own}/deliveries?status=succeeded`, headers: bearer(acme.adminToken) })).json().deliveries.length, (n) => n === 2);
    // The calls were counted by the harness's process: written now rather than at its next 5 s flush.
    await h.runtime.services.operationStats.flush();
    // The console's server listens for no notifications (a runtime without background work): it loads the assignment.
    await consoleBrowser.server.runtime.services.bundleRegistry.reload();
  });

  async function expectCharts(page: Page) {
    const rest = async (kind: string) => (await h.request({ method: 'GET', url: `/v1/platform/apps/${app.clientId}/activity/${kind}?days=7`, headers: bearer(acme.adminToken) })).json();
    const calls = await rest('graphql');
    const deliveries = await rest('webhooks');
    expect([calls.calls, calls.errors, deliveries.succeeded]).toEqual([5, 1, 2]);
    const graphql = page.locator('#chart-graphql svg[role="img"]');
    expect(await graphql.count()).toBe(1);
    expect(await graphql.locator('g.bars rect.bar-calls').count()).toBe(calls.hours.filter((x: { calls: number; errors: number }) => x.calls > x.errors).length);
    expect(await graphql.locator('g.bars rect.bar-bad').count()).toBe(calls.hours.filter((x: { errors: number }) => x.errors > 0).length);
    expect(await graphql.locator('title').first().textContent()).toBe('GraphQL calls per hour, last 7 days');
    const delivered = page.locator('#chart-deliveries svg[role="img"]');
    expect(await delivered.locator('g.bars rect.bar-ok').count()).toBe(deliveries.hours.filter((x: { succeeded: number }) => x.succeeded > 0).length);
    expect(await delivered.locator('g.bars rect.bar-bad').count()).toBe(0);
    expect(await page.locator('#chart-graphql details tbody tr').count()).toBe(calls.hours.length);
  }

  it("shows the tenant admin an app's calls and deliveries as charts", { timeout: 60_000 }, async () => {
    const { page } = await consoleBrowser.person();
    await helpers.signInToTenant(page, 'acme', 'admin@acme.test', PASSWORD);
    await page.goto(`/console/apps/${app.clientId}/activity`);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Activity of Partner sync');
    await expectCharts(page);
    expect(await page.getByRole('table', { name: 'GraphQL calls per operation' }).textContent()).toContain('ListIncidents');
    expect(await page.getByRole('table', { name: 'Delivery attempts per subscription of the app' }).textContent()).toContain(`${receiver.url}/partner`);
    await helpers.expectAccessible(page, 'admin-app-activity');
    await page.getByLabel('Window').selectOption('1');
    await page.getByRole('button', { name: 'Show' }).click();
    await expect.poll(() => page.locator('#chart-graphql figcaption').textContent()).toBe('GraphQL calls per hour, last 1 day');
    expect(await page.locator('#chart-graphql svg').getAttribute('data-slots')).toBe('24');
    // Another tenant's app, or none: not found.
    const missing = await page.goto('/console/apps/app_unknown/activity');
    expect(missing?.status()).toBe(404);
  });

  it('signs a partner in: its operations with their ids, the manifests to download, its activity and its own webhooks', { timeout: 90_000 }, async () => {
    const { page } = await consoleBrowser.person();
    await helpers.signInAsPartner(page, app.clientId, app.secret);
    await expect.poll(() => new URL(page.url()).pathname).toBe('/console/partner/operations');
    const operations = page.getByRole('table', { name: 'Operations the app may run' });
    const listRow = operations.locator('tr', { hasText: 'ListIncidents' });
    expect(await listRow.textContent()).toContain(`sha256:${LIST}`);
    expect(await listRow.textContent()).toContain('incidents:read');
    expect(await operations.textContent()).toContain(`sha256:${CREATE}`);
    await expectCharts(page);
    await helpers.expectAccessible(page, 'partner-operations');

    const [manifest] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'documentId map', exact: true }).click()]);
    expect(manifest.suggestedFilename()).toBe(`${app.clientId}-document-ids.json`);
    const ids = JSON.parse(await readFile((await manifest.path())!, 'utf8'));
    expect(ids.ListIncidents).toBe(`sha256:${LIST}`);
    const [apollo] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Apollo persisted-query manifest' }).click()]);
    const apolloManifest = JSON.parse(await readFile((await apollo.path())!, 'utf8'));
    expect(apolloManifest.operations.map((o: { id: string }) => o.id)).toContain(LIST);
    const [schema] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Partial schema (SDL)' }).click()]);
    expect(schema.suggestedFilename()).toBe(`${app.clientId}-schema.graphql`);
    expect(await readFile((await schema.path())!, 'utf8')).toContain('type Query');
    // A download is an attachment, never a page.
    const direct = await page.request.get('/console/partner/operations/codegen-document-ids.json');
    expect(direct.headers()['content-disposition']).toBe(`attachment; filename="${app.clientId}-codegen-document-ids.json"`);

    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Webhooks' }).click();
    await expect.poll(() => new URL(page.url()).pathname).toBe('/console/partner/webhooks');
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain(`${receiver.url}/partner`);
    await helpers.expectAccessible(page, 'partner-webhooks');
    // A new subscription offers the events the app's scopes allow, not the tenant admins' operational ones.
    await page.getByRole('link', { name: 'New webhook' }).click();
    expect(await page.getByLabel('incident.created').count()).toBe(1);
    expect(await page.getByLabel('webhook.endpoint.disabled').count()).toBe(0);
    await helpers.expectAccessible(page, 'partner-webhook-new');
    await page.getByRole('link', { name: 'All webhooks' }).click();
    await rows.first().getByRole('link').click();
    await expect.poll(() => deliveryRows(page).count()).toBe(2);
    await helpers.expectAccessible(page, 'partner-webhook');
    // The tenant admin's subscription is not the partner's: not found.
    const admins = (await h.request({ method: 'GET', url: '/v1/webhooks', headers: bearer(acme.adminToken) })).json().webhooks.find((w: { url: string }) => w.url.endsWith('/admins'));
    expect((await page.goto(`/console/partner/webhooks/${admins.id}`))?.status()).toBe(404);
    // A partner's pages are not the admin's, and the other way round.
    expect((await page.goto('/console/webhooks'))?.status()).toBe(403);
  });
});
