// The operator's console in Chromium (README "Console"): an operator signs in through the operators' tenant and, with
// the keyboard-friendly server-rendered pages only, sees every tenant (paginated, sandboxes marked) and makes a
// sandbox (its field errors next to the fields; the admin's password shown once), narrows a tenant's scopes (asked
// first) and gives them back, opens a bundle with its operations, assigns a pinned version to an app by client id
// (which the partner's own operation list then shows), deprecates it and retires it (the last-use report, the refusal
// naming the app, then by force), unassigns it, approves a request and denies another (the empty note's field error),
// and rotates the signing keys. Every page passes axe-core. A tenant admin gets the 403 page on every operator page, and
// an operator's session reaches no tenant page.
import { Kind, parse, print, type OperationDefinitionNode } from 'graphql';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOperation, type CheckedBundle } from '../src/bundles/files.js';
import { forTenant } from '../src/db/tenant.js';
import { sha256 } from '../src/ids.js';
import { schema as getSchema } from '../src/modules.js';
import type { ConsoleBrowser } from './helpers/console-browser.js';
import { gql, publishShippedBundles } from './helpers/graphql.js';
import { bearer, startHarness, tokenRequest, type Harness, type TenantFixture } from './helpers/harness.js';
import { until } from './helpers/poll.js';

let h: Harness;
let acme: TenantFixture;
let consoleBrowser: ConsoleBrowser;
let operatorPage: Page;
let partner: { clientId: string; token: string };
let requests: { access: string; federation: string };
let helpers: typeof import('./helpers/console-browser.js');

const OPERATOR = { email: 'ops@tessera.test', password: 'an operator password' };
const ADMIN_PASSWORD = 'correct horse battery staple';
const TITLES = 'query FeedTitles { incidents(first: 5) { edges { node { id title } } } }';
const SUMMARY = 'query FeedSummary { incidents(first: 5) { edges { node { id summary } } } }';
const idOf = (text: string) => sha256(print(parse(text)));

/** A bundle version made of documents, checked against the schema as `operations publish` does. */
function bundle(name: string, version: string, documents: string[]): CheckedBundle {
  const schema = getSchema();
  return {
    name,
    description: `The ${name} bundle`,
    version,
    operations: documents.map((text) => {
      const { ast, ...operation } = checkOperation(schema, text, (problem) => {
        throw new Error(problem);
      })!;
      const operationName = ast.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!.name!.value;
      return { file: `${operationName}.graphql`, ...operation };
    }),
  };
}

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  // Enough tenants for a second page of the list (20 a page).
  for (let i = 0; i < 20; i++) await h.tenant(`filler-${String(i).padStart(2, '0')}`);
  await h.runtime.services.tenancy.createOperator(h.runtime.orm.em.fork(), OPERATOR, 'test');
  await publishShippedBundles(h);
  await h.runtime.services.bundles.publish([bundle('console-feed', '1.0.0', [SUMMARY]), bundle('console-feed', '1.1.0', [TITLES])], 'operator');

  const registered = await h.registerApp(acme, { name: 'Feed reader', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] });
  const token = await tokenRequest(h, { grant_type: 'client_credentials' }, { id: registered.client_id, secret: registered.client_secret! });
  partner = { clientId: registered.client_id, token: token.json().access_token };

  const file = async (payload: object) => {
    const res = await h.request({ method: 'POST', url: '/v1/platform/integration-requests', headers: bearer(acme.adminToken), payload });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id as string;
  };
  requests = {
    access: await file({ kind: 'platform_access', justification: 'Automations need the control plane', capability: 'automations' }),
    federation: await file({ kind: 'federation', justification: 'Staff sign in with Okta', protocol: 'oidc', domain: 'acme.example' }),
  };

  operatorToken = await h.operatorToken();
  helpers = await import('./helpers/console-browser.js');
  consoleBrowser = await helpers.startConsoleBrowser(h);
  operatorPage = (await consoleBrowser.person()).page;
}, 120_000);

afterAll(async () => {
  await consoleBrowser?.close();
  await h?.close();
});

const main = (page: Page) => page.locator('main');

/** Presses Tab until the focused element's text is `text` (keyboard only), then Enter. */
async function tabToAndPress(page: Page, text: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    if ((await page.evaluate(() => document.activeElement?.textContent?.trim())) === text) {
      await page.keyboard.press('Enter');
      return;
    }
  }
  throw new Error(`Tab never reached ${text}`);
}
const operatorGet = (url: string) => h.request({ method: 'GET', url, headers: { authorization: `Bearer ${operatorToken}` } });
let operatorToken = '';

describe('an operator in the console', () => {
  it('signs in through the operators\' tenant and lands on the tenants, paginated, sandboxes marked; makes a sandbox', async () => {
    const page = operatorPage;
    await helpers.signInAsOperator(page, OPERATOR.email, OPERATOR.password);
    expect(new URL(page.url()).pathname).toBe('/console/tenants');
    await expect.poll(() => page.getByRole('navigation', { name: 'Console' }).getByRole('link').allTextContents()).toEqual(['Tenants', 'Bundles', 'Integration requests', 'Signing keys']);
    await helpers.expectAccessible(page, 'operator-tenants');
    expect(await main(page).getByRole('link', { name: 'Tenant acme', exact: true }).count()).toBe(1);

    // A sandbox, with the server's field error next to its field and what was typed kept.
    await page.getByRole('link', { name: 'Create a sandbox' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Acme lab');
    await page.getByLabel('Slug (optional)').fill('Bad Slug');
    await page.getByLabel("Admin's email").fill('dev@acme.test');
    await page.getByLabel('Days until it expires (optional)').fill('7');
    await page.getByRole('button', { name: 'Create the sandbox' }).click();
    await expect.poll(() => page.locator('#f-slug-error').textContent()).toMatch(/^body\.slug must match pattern/);
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Acme lab');
    expect(await page.getByLabel('Slug (optional)').getAttribute('aria-invalid')).toBe('true');
    await helpers.expectAccessible(page, 'operator-sandbox-form-error');
    await page.getByLabel('Slug (optional)').fill('acme-lab');
    const sent = {
      csrf: (await page.locator('input[name=csrf]').last().inputValue()),
      once: await page.locator('input[name=once]').inputValue(),
      name: 'Acme lab',
      slug: 'acme-lab-again',
      admin_email: 'dev@acme.test',
    };
    await page.getByRole('button', { name: 'Create the sandbox' }).click();
    await page.getByRole('heading', { name: 'Sandbox created' }).waitFor();
    // The same form sent again (a reload of its answer) makes nothing: the password was shown once.
    const again = await page.request.post('/console/tenants/new-sandbox', { form: sent, maxRedirects: 0 });
    expect(again.status()).toBe(409);
    expect(await h.runtime.services.tenancy.tenantBySlug(h.runtime.orm.em.fork(), 'acme-lab-again')).toBeNull();
    const password = (await page.locator('#admin-password').textContent())!.trim();
    expect(password.length).toBeGreaterThanOrEqual(20);
    await helpers.expectAccessible(page, 'operator-sandbox-created');
    const lab = await h.runtime.services.tenancy.tenantBySlug(h.runtime.orm.em.fork(), 'acme-lab');
    expect(lab).toMatchObject({ sandbox: true });
    expect(await h.runtime.services.tenancy.checkCredentials(forTenant(h.runtime.orm.em, lab!.id), 'dev@acme.test', password)).toMatchObject({ roles: ['admin'] });

    // The list: twenty a page, the sandbox on the second, marked; the filter keeps only sandboxes.
    await page.goto('/console/tenants');
    expect(await main(page).locator('tbody tr').count()).toBe(20);
    await page.getByRole('link', { name: 'Next page' }).click();
    const row = main(page).locator('tr', { has: page.getByRole('link', { name: 'Acme lab' }) });
    expect(await row.textContent()).toContain('sandbox');
    await page.getByLabel('Show').selectOption('true');
    await page.getByRole('button', { name: 'Filter' }).click();
    expect(await main(page).locator('tbody tr').allTextContents()).toEqual([expect.stringContaining('Acme lab')]);
  }, 90_000);

  it("narrows a tenant's scopes after a confirmation, and gives them all back", async () => {
    const page = operatorPage;
    await page.goto('/console/tenants');
    await main(page).getByRole('link', { name: 'Tenant acme', exact: true }).click();
    await page.getByRole('heading', { name: 'Tenant acme' }).waitFor();
    expect(await main(page).locator('dl.facts').textContent()).toContain('Apps1Users1');
    await helpers.expectAccessible(page, 'operator-tenant');

    await page.getByLabel('Only the scopes ticked below').check();
    await page.getByLabel('incidents:write').uncheck();
    await page.getByLabel('webhooks:write').uncheck();
    await page.getByRole('button', { name: 'Save scopes' }).click();
    await page.getByRole('heading', { name: 'Withhold scopes from this tenant?' }).waitFor();
    expect(await main(page).textContent()).toContain('Its apps lose incidents:write, webhooks:write at once');
    await helpers.expectAccessible(page, 'operator-scopes-confirm');
    await page.getByRole('button', { name: 'Withhold these 2 scopes' }).click();
    await page.getByRole('status').filter({ hasText: "The tenant's scopes were saved" }).waitFor();
    const narrowed = await operatorGet(`/api/v1/platform/tenants/${acme.tenantId}/scopes`);
    expect(narrowed.json()).toEqual({ tenant_id: acme.tenantId, scopes: ['email', 'incidents:read', 'openid', 'profile', 'webhooks:read'], restricted: true });
    expect(await page.getByLabel('incidents:write').isChecked()).toBe(false);

    await page.getByLabel('Every published scope').check();
    await page.getByRole('button', { name: 'Save scopes' }).click();
    await page.getByRole('status').filter({ hasText: 'every published scope again' }).waitFor();
    expect((await operatorGet(`/api/v1/platform/tenants/${acme.tenantId}/scopes`)).json().restricted).toBe(false);
  }, 60_000);

  it('opens a bundle, assigns a pinned version to an app by client id, which the partner then sees', async () => {
    const page = operatorPage;
    await page.getByRole('link', { name: 'Bundles' }).click();
    await page.getByRole('heading', { name: 'Operation bundles' }).waitFor();
    expect(await main(page).textContent()).toContain('incident-read');
    await helpers.expectAccessible(page, 'operator-bundles');
    await main(page).getByRole('link', { name: 'console-feed' }).click();
    await page.getByRole('heading', { name: 'console-feed', exact: true }).waitFor();
    // The latest version's operations, with their ids and the scopes each needs.
    const operations = main(page).locator('table', { has: page.locator('caption', { hasText: 'Operations of console-feed 1.1.0' }) });
    expect(await operations.textContent()).toContain(`sha256:${idOf(TITLES)}`);
    expect(await operations.textContent()).toContain('incidents:read');
    await helpers.expectAccessible(page, 'operator-bundle');
    await page.getByRole('link', { name: 'Operations of 1.0.0' }).click();
    await page.getByRole('heading', { name: 'Operations of 1.0.0' }).waitFor();
    expect(await main(page).textContent()).toContain(`sha256:${idOf(SUMMARY)}`);

    // An unknown app: the server's message next to the client id, what was typed kept.
    await page.getByLabel("The app's client id").fill('app_nope');
    await page.getByLabel('Track').selectOption('1.0.0');
    await page.getByRole('button', { name: 'Assign' }).click();
    await expect.poll(() => page.locator('#f-client_id-error').textContent()).toBe('no app with client_id app_nope');
    expect(await page.getByLabel("The app's client id").inputValue()).toBe('app_nope');
    expect(await page.getByLabel('Track').inputValue()).toBe('1.0.0');
    await helpers.expectAccessible(page, 'operator-assign-error');
    await page.getByLabel("The app's client id").fill(partner.clientId);
    await page.getByRole('button', { name: 'Assign' }).click();
    await page.getByRole('status').filter({ hasText: 'The bundle was assigned' }).waitFor();
    const held = main(page).locator('tr', { hasText: partner.clientId });
    expect(await held.textContent()).toContain('Feed reader');
    expect(await held.textContent()).toContain('pinned to 1.0.0');

    // The partner's own operation list shows it (the harness's runtime hears of it by NOTIFY).
    const listed = await until(
      () => h.request({ method: 'GET', url: `/v1/platform/apps/${partner.clientId}/operations`, headers: bearer(partner.token) }),
      (res) => res.json().operations?.some((o: { name: string }) => o.name === 'FeedSummary'),
    );
    expect(listed.json().operations).toEqual([expect.objectContaining({ name: 'FeedSummary', bundle: 'console-feed', version: '1.0.0', id: `sha256:${idOf(SUMMARY)}` })]);
  }, 60_000);

  it('deprecates the version, and retires it: the report, the refusal naming the app, then by force', async () => {
    const page = operatorPage;
    // The partner runs an operation of 1.0.0: its use is what refuses the retirement.
    const ran = await until(() => gql(h, partner, acme.tenantId, { documentId: `sha256:${idOf(SUMMARY)}` }), (res) => res.statusCode === 200);
    expect(ran.statusCode, ran.body).toBe(200);
    await h.runtime.services.operationStats.flush();

    await page.goto('/console/bundles/console-feed');
    await page.getByRole('link', { name: /^Deprecate\s+1\.0\.0\s*…$/ }).click();
    await page.getByRole('heading', { name: 'Deprecate console-feed 1.0.0?' }).waitFor();
    await helpers.expectAccessible(page, 'operator-deprecate');
    await page.getByRole('button', { name: 'Deprecate 1.0.0' }).click();
    await page.getByRole('status').filter({ hasText: 'The version was deprecated' }).waitFor();
    expect(await main(page).locator('tr', { hasText: '1.0.0' }).first().textContent()).toContain('deprecated');

    await page.getByRole('link', { name: /^Retire\s+1\.0\.0\s*…$/ }).click();
    await page.getByRole('heading', { name: 'Retire console-feed 1.0.0?' }).waitFor();
    const report = (await main(page).textContent())!;
    expect(report).toContain(partner.clientId);
    expect(report).toContain('Feed reader');
    expect(report).toContain('pinned to 1.0.0');
    await helpers.expectAccessible(page, 'operator-retire-report');
    await page.getByRole('button', { name: 'Retire 1.0.0' }).click();
    await page.getByRole('heading', { name: 'console-feed 1.0.0 is still in use' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toContain(`Feed reader (${partner.clientId}, tenant ${acme.tenantId}) last used it at`);
    const users = main(page).locator('table', { has: page.locator('caption', { hasText: 'Apps that still use console-feed 1.0.0' }) });
    expect(await users.textContent()).toContain('Feed reader');
    expect(await users.getByRole('link', { name: acme.tenantId }).count()).toBe(1);
    await helpers.expectAccessible(page, 'operator-retire-refused');
    await page.getByRole('button', { name: 'Retire anyway (force)' }).click();
    await page.getByRole('status').filter({ hasText: 'retired, by force' }).waitFor();
    const version = (await operatorGet('/api/v1/platform/bundles/console-feed?version=1.0.0')).json();
    expect(version.status).toBe('retired');

    // The app's track now serves nothing: unassigned, after a confirmation.
    await main(page).getByRole('link', { name: /^Unassign Feed reader/ }).click();
    await page.getByRole('heading', { name: 'Unassign console-feed?' }).waitFor();
    await helpers.expectAccessible(page, 'operator-unassign');
    await page.getByRole('button', { name: 'Unassign' }).click();
    await page.getByRole('status').filter({ hasText: 'The bundle was unassigned' }).waitFor();
    expect(await main(page).textContent()).toContain('No app holds this bundle.');
  }, 60_000);

  it('approves one integration request and denies another, the empty note refused next to its field', async () => {
    const page = operatorPage;
    await page.getByRole('link', { name: 'Integration requests' }).click();
    await page.getByLabel('Status').selectOption('pending');
    await page.getByRole('button', { name: 'Filter' }).click();
    expect(await main(page).locator('tbody tr').count()).toBe(2);
    await helpers.expectAccessible(page, 'operator-requests');

    await page.getByRole('link', { name: `Review request ${requests.access}` }).click();
    await page.getByRole('heading', { name: /Review the request/ }).waitFor();
    await helpers.expectAccessible(page, 'operator-request-review');
    await page.getByLabel('Note for the requester (optional)').fill('Granted for the automations pilot');
    await page.getByRole('button', { name: 'Approve the request' }).click();
    await page.getByRole('status').filter({ hasText: 'The request was approved' }).waitFor();
    expect((await operatorGet(`/api/v1/platform/integration-requests/${requests.access}`)).json()).toMatchObject({ status: 'approved', decision_note: 'Granted for the automations pilot' });

    await page.getByRole('link', { name: `Review request ${requests.federation}` }).click();
    await page.getByRole('button', { name: 'Deny the request' }).click();
    await expect.poll(() => page.locator('#f-deny_note-error').textContent()).toMatch(/^body\.note /);
    expect(await page.getByLabel('Why it is denied (required)').getAttribute('aria-invalid')).toBe('true');
    expect((await operatorGet(`/api/v1/platform/integration-requests/${requests.federation}`)).json().status).toBe('pending');
    await helpers.expectAccessible(page, 'operator-request-deny-error');
    await page.getByLabel('Why it is denied (required)').fill('Federation needs a signed order form first');
    await page.getByRole('button', { name: 'Deny the request' }).click();
    await page.getByRole('status').filter({ hasText: 'The request was denied' }).waitFor();
    expect((await operatorGet(`/api/v1/platform/integration-requests/${requests.federation}`)).json()).toMatchObject({ status: 'denied', decision_note: 'Federation needs a signed order form first' });

    // Decided requests are shown, no longer offered for review.
    await page.goto(`/console/operator/requests/${requests.federation}`);
    expect(await page.getByRole('button', { name: 'Deny the request' }).count()).toBe(0);
    await helpers.expectAccessible(page, 'operator-request-decided');
  }, 60_000);

  it('rotates the signing keys after a confirmation', async () => {
    const page = operatorPage;
    const before = (await operatorGet('/api/v1/platform/keys')).json().keys as Array<{ kid: string; state: string }>;
    await page.getByRole('link', { name: 'Signing keys' }).click();
    await page.getByRole('heading', { name: 'Signing keys' }).waitFor();
    await helpers.expectAccessible(page, 'operator-keys');
    // With the keyboard only.
    await tabToAndPress(page, 'Rotate the keys…');
    await page.getByRole('heading', { name: 'Rotate the signing keys?' }).waitFor();
    expect(await main(page).textContent()).toContain(before.find((k) => k.state === 'next')!.kid);
    await helpers.expectAccessible(page, 'operator-keys-rotate');
    await tabToAndPress(page, 'Rotate the keys');
    await page.getByRole('status').filter({ hasText: 'The signing keys were rotated' }).waitFor();
    const after = (await operatorGet('/api/v1/platform/keys')).json().keys as Array<{ kid: string; state: string }>;
    expect(after.find((k) => k.state === 'active')!.kid).toBe(before.find((k) => k.state === 'next')!.kid);
    expect(after.find((k) => k.state === 'retired')!.kid).toBe(before.find((k) => k.state === 'active')!.kid);
    expect(await main(page).locator('tbody tr').count()).toBe(3);
    // The operator's session goes on, on the retired key's token.
    await page.goto('/console/keys');
    expect(new URL(page.url()).pathname).toBe('/console/keys');
  }, 60_000);

  it("reaches no tenant admin's page", async () => {
    const page = operatorPage;
    const apps = await page.goto('/console/apps');
    const served = consoleBrowser.server.app.hasRoute({ method: 'GET', url: '/console/apps' });
    expect(apps!.status()).toBe(served ? 403 : 404);
    if (served) expect(await page.getByRole('alert').textContent()).toContain('This page is not part of your role');
    // Nor does an operator's token reach a tenant's REST routes.
    expect((await operatorGet('/v1/platform/apps')).statusCode).toBe(403);
  });
});

describe('a tenant admin in the console', () => {
  it('gets the 403 page on every operator page and action', async () => {
    const { page } = await consoleBrowser.person();
    await helpers.signInToTenant(page, 'acme', 'admin@acme.test', ADMIN_PASSWORD);
    for (const path of ['/console/tenants', `/console/tenants/${acme.tenantId}`, '/console/tenants/new-sandbox', '/console/bundles', '/console/bundles/console-feed', '/console/operator/requests', `/console/operator/requests/${requests.access}`, '/console/keys', '/console/keys/rotate']) {
      const res = await page.goto(path);
      expect(res!.status(), path).toBe(403);
      expect(await page.getByRole('alert').textContent(), path).toContain('This page is not part of your role');
      expect(await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Signing keys' }).count()).toBe(0);
    }
    await helpers.expectAccessible(page, 'operator-403-for-admin');
    const keysBefore = (await operatorGet('/api/v1/platform/keys')).json();
    const posted = await page.request.post('/console/keys/rotate', { form: { csrf: 'anything' }, maxRedirects: 0 });
    expect(posted.status()).toBe(403);
    expect((await operatorGet('/api/v1/platform/keys')).json()).toEqual(keysBefore);
  }, 60_000);
});
