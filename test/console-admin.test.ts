// The tenant admin's apps in the console (README "Console"), in Chromium: an admin signs in through the hosted login,
// registers an app and copies its secret (shown once: a reload of the answer makes nothing and shows nothing),
// rotates it (the new secret shown once), ends the previous one, mints and revokes a service token, edits the app and
// sees the server's field error next to the field, suspends it and resumes it (a typed confirmation; the wrong name
// is refused), with the keyboard only too, and deletes another; another tenant's admin sees none of it. Every page
// passes axe-core and leaves a screenshot. What the pages did is checked through the REST API and the token endpoint.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, tokenRequest, type Harness, type TenantFixture } from './helpers/harness.js';
import { expectAccessible, signInToTenant, startConsoleBrowser, type ConsoleBrowser } from './helpers/console-browser.js';

const PASSWORD = 'correct horse battery staple';
/** A flow of many pages in a real browser, while other files run beside it. */
const SLOW = 180_000;

let h: Harness;
let cb: ConsoleBrowser;
let acme: TenantFixture;
let globex: TenantFixture;

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  cb = await startConsoleBrowser(h);
});
afterAll(async () => {
  await cb?.close();
  await h?.close();
});

async function admin(slug: string): Promise<Page> {
  const { page } = await cb.person();
  // A step that cannot be done fails there, not at the test's timeout.
  page.setDefaultTimeout(20_000);
  await signInToTenant(page, slug, `admin@${slug}.test`, PASSWORD);
  return page;
}

/** Client credentials with `secret`: the status the token endpoint answers. */
async function tokenStatus(clientId: string, secret: string): Promise<number> {
  return (await tokenRequest(h, { grant_type: 'client_credentials' }, { id: clientId, secret })).statusCode;
}

const notice = (page: Page) => page.locator('.notice').textContent();
const fieldErrorOf = (page: Page, name: string) => page.locator(`#f-${name}-error`).textContent();

/** Presses Tab until the focused element is the one `describe` names (at most 80 times): the keyboard, only. */
async function tabTo(page: Page, wanted: (focused: { tag: string; name: string; text: string; type: string }) => boolean): Promise<void> {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLInputElement | null;
      return { tag: el?.tagName.toLowerCase() ?? '', name: el?.getAttribute('name') ?? '', text: (el?.textContent ?? '').trim(), type: el?.getAttribute('type') ?? '' };
    });
    if (wanted(focused)) return;
  }
  throw new Error('the element was not reached with Tab');
}

describe('apps in the console', () => {
  it('registers an app, shows its secret once with a copy button, rotates it, ends the previous one, and mints and revokes a service token', async () => {
    const page = await admin('acme');
    expect(new URL(page.url()).pathname).toBe('/console/apps');
    await expectAccessible(page, 'admin-apps');

    // Register: the answer shows the secret once, with a copy button that copies it.
    await page.getByLabel('Name', { exact: true }).fill('Case sync connector');
    await page.getByRole('checkbox', { name: /^webhooks:write/ }).check();
    await page.getByRole('checkbox', { name: /^incidents:read/ }).check();
    await page.getByRole('button', { name: 'Register' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('App registered: Case sync connector');
    const secret = (await page.locator('#client-secret').textContent())!.trim();
    expect(secret).toMatch(/^tsec_/);
    const clientId = (await page.locator('dd code').first().textContent())!.trim();
    expect(clientId).toMatch(/^app_/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => page.locator('#client-secret-status').textContent()).toBe('Copied.');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await expectAccessible(page, 'admin-app-registered');
    expect(await tokenStatus(clientId, secret)).toBe(200);

    // A reload sends the form again: nothing is made and no secret is shown.
    const again = await page.reload();
    expect(again!.status()).toBe(409);
    expect(await page.content()).not.toContain(secret);
    await expectAccessible(page, 'admin-already-done');
    const apps = await h.request({ method: 'GET', url: '/v1/platform/apps', headers: bearer(acme.adminToken) });
    expect(apps.json().apps.map((a: { name: string }) => a.name)).toEqual(['Case sync connector']);

    // The list, with the app's state; its page.
    await page.getByRole('link', { name: 'Back to the apps' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    expect(await page.locator('tbody tr').first().textContent()).toContain('active');
    await page.getByRole('link', { name: 'Case sync connector' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toContain('Case sync connector');
    expect(await page.content()).not.toContain(secret);
    expect(await page.getByRole('link', { name: 'Activity' }).getAttribute('href')).toBe(`/console/apps/${clientId}/activity`);
    await expectAccessible(page, 'admin-app');

    // Rotate, with a grace period: the new secret once; both work until the previous one is ended.
    await page.getByRole('link', { name: 'Rotate the secret…' }).click();
    await expectAccessible(page, 'admin-app-rotate');
    await page.getByLabel('Grace period of the previous secret (seconds)').fill('3600');
    await page.getByRole('button', { name: 'Rotate the secret' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Secret rotated');
    const rotated = (await page.locator('#client-secret').textContent())!.trim();
    expect(rotated).not.toBe(secret);
    expect(await page.content()).toContain('The previous secret keeps working until');
    await expectAccessible(page, 'admin-app-rotated');
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(rotated);
    expect(await tokenStatus(clientId, rotated)).toBe(200);
    expect(await tokenStatus(clientId, secret)).toBe(200);
    // Not shown again on reload (nor rotated again), nor on the app's page.
    await page.reload();
    expect(await page.content()).not.toContain(rotated);
    expect(await page.locator('h1').textContent()).toBe('Already done');
    expect(await tokenStatus(clientId, rotated)).toBe(200);
    await page.goto(`/console/apps/${clientId}`);
    expect(await page.content()).not.toContain(rotated);

    // End the previous secret, after a confirmation.
    await page.getByRole('link', { name: 'End the previous secret…' }).click();
    await expectAccessible(page, 'admin-app-end-previous-secret');
    await page.getByRole('button', { name: 'End the previous secret' }).click();
    await expect.poll(() => notice(page)).toContain('The previous secret no longer works');
    expect(await tokenStatus(clientId, secret)).toBe(401);
    expect(await tokenStatus(clientId, rotated)).toBe(200);
    // None left: the API's answer is said on the confirmation page.
    await page.goto(`/console/apps/${clientId}/end-previous-secret`);
    await page.getByRole('button', { name: 'End the previous secret' }).click();
    await expect.poll(() => page.locator('.error').textContent()).toContain('has no previous secret in a grace period');

    // Governance: a server refusal next to its field, what was typed kept; then service tokens allowed.
    await page.goto(`/console/apps/${clientId}`);
    await page.getByLabel('Longest service token lifetime (seconds)').fill('10');
    await page.getByRole('button', { name: 'Save governance' }).click();
    await expect.poll(() => fieldErrorOf(page, 'service_token_max_ttl')).toBe('body.service_token_max_ttl must be >= 60');
    expect(await page.getByLabel('Longest service token lifetime (seconds)').inputValue()).toBe('10');
    await page.getByLabel('Longest service token lifetime (seconds)').fill('7200');
    await page.getByLabel('Allow service tokens to be minted for this app').check();
    await page.getByRole('button', { name: 'Save governance' }).click();
    await expect.poll(() => notice(page)).toBe('The governance settings were saved.');
    const governed = await h.request({ method: 'GET', url: `/v1/platform/apps/${clientId}`, headers: bearer(acme.adminToken) });
    expect(governed.json().governance).toMatchObject({ allow_service_tokens: true, service_token_max_ttl: 7200 });

    // Mint: the token once, with a copy button; it works; listed without the token; revoked after a confirmation.
    await page.getByRole('group', { name: 'Scopes', exact: true }).getByRole('checkbox', { name: 'webhooks:write' }).check();
    await page.getByRole('button', { name: 'Mint' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Service token minted');
    const serviceToken = (await page.locator('#service-token').textContent())!.trim();
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(serviceToken);
    await expectAccessible(page, 'admin-app-token-minted');
    // Verified by the server that issued it (its issuer is its own address).
    const useToken = () => cb.server.app.inject({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(serviceToken) });
    expect((await useToken()).statusCode).toBe(200);
    await page.reload();
    expect(await page.content()).not.toContain(serviceToken);
    await page.goto(`/console/apps/${clientId}`);
    expect(await page.content()).not.toContain(serviceToken);
    const tokens = await h.request({ method: 'GET', url: `/v1/platform/apps/${clientId}/service-tokens`, headers: bearer(acme.adminToken) });
    expect(tokens.json().service_tokens).toHaveLength(1);
    const tokenId = tokens.json().service_tokens[0].id;
    await page.getByRole('link', { name: `Revoke ${tokenId}` }).click();
    await expectAccessible(page, 'admin-app-revoke-token');
    expect(await page.content()).toContain(tokenId);
    await page.getByRole('button', { name: 'Revoke the token' }).click();
    await expect.poll(() => notice(page)).toContain('The service token was revoked');
    expect((await useToken()).statusCode).toBe(401);
    expect(await page.locator('section[aria-labelledby="tokens"] tbody').textContent()).toContain('revoked');
  }, SLOW);

  it('edits an app, with the server\'s field error next to the field; suspends and resumes it by typing its name (with the keyboard only); deletes another', async () => {
    const registered = await h.registerApp(acme, { name: 'Incident dashboard', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] });
    const clientId = registered.client_id;
    const page = await admin('acme');
    await page.goto(`/console/apps/${clientId}`);

    // An http redirect URI: the API's refusal next to Redirect URIs, and everything typed kept.
    await page.getByLabel('Name', { exact: true }).fill('Incident dashboard 2');
    await page.getByRole('group', { name: 'Grant types' }).getByRole('checkbox', { name: /^authorization_code/ }).check();
    await page.getByLabel('Redirect URIs', { exact: true }).fill('http://integrator.example/callback');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => fieldErrorOf(page, 'redirect_uris')).toBe('body.redirect_uris[0] must use https (http is allowed only for loopback hosts)');
    expect(await page.getByLabel('Redirect URIs', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Redirect URIs', { exact: true }).inputValue()).toBe('http://integrator.example/callback');
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Incident dashboard 2');
    expect(await page.getByRole('group', { name: 'Grant types' }).getByRole('checkbox', { name: /^authorization_code/ }).isChecked()).toBe(true);
    await expectAccessible(page, 'admin-app-field-error');
    await page.getByLabel('Redirect URIs', { exact: true }).fill('https://integrator.example/callback');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => notice(page)).toBe('The app was updated.');
    const edited = await h.request({ method: 'GET', url: `/v1/platform/apps/${clientId}`, headers: bearer(acme.adminToken) });
    expect(edited.json()).toMatchObject({ name: 'Incident dashboard 2', grant_types: ['client_credentials', 'authorization_code'], redirect_uris: ['https://integrator.example/callback'] });

    // Suspend: the wrong name is refused (what was typed kept), the right one suspends.
    await page.getByRole('link', { name: 'Suspend…' }).click();
    await expectAccessible(page, 'admin-app-suspend');
    await page.getByLabel('Reason (optional, for the audit log and the app page)').fill('Leaking tokens');
    await page.getByLabel(/Type the app's name to confirm/).fill('Incident dashboard');
    await page.getByRole('button', { name: 'Suspend the app' }).click();
    await expect.poll(() => fieldErrorOf(page, 'confirm_name')).toBe("That is not the app's name. Type Incident dashboard 2 exactly to suspend it.");
    expect(await page.getByLabel('Reason (optional, for the audit log and the app page)').inputValue()).toBe('Leaking tokens');
    expect((await h.request({ method: 'GET', url: `/v1/platform/apps/${clientId}`, headers: bearer(acme.adminToken) })).json().status).toBe('active');
    await page.getByLabel(/Type the app's name to confirm/).fill('Incident dashboard 2');
    await page.getByRole('button', { name: 'Suspend the app' }).click();
    await expect.poll(() => notice(page)).toContain('The app is suspended');
    expect(await page.locator('h1').textContent()).toContain('suspended');
    expect(await page.locator('.warning').textContent()).toContain('Leaking tokens');
    expect(await tokenStatus(clientId, registered.client_secret!)).toBe(401);

    // Resume with the keyboard only: Tab to the link, Enter; Tab to the name, type it, Enter.
    await tabTo(page, (f) => f.tag === 'a' && f.text === 'Resume…');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/resume$/);
    await expectAccessible(page, 'admin-app-resume');
    await tabTo(page, (f) => f.name === 'confirm_name');
    await page.keyboard.type('Incident dashboard 2');
    await page.keyboard.press('Enter');
    await expect.poll(() => notice(page)).toContain('The app was resumed');
    expect(await tokenStatus(clientId, registered.client_secret!)).toBe(200);

    // Delete another app (a public client: registered without a secret), by typing its name.
    await page.goto('/console/apps');
    await page.getByLabel('Name', { exact: true }).fill('Throwaway');
    await page.getByRole('group', { name: 'Grant types' }).getByRole('checkbox', { name: /^client_credentials/ }).uncheck();
    await page.getByRole('group', { name: 'Grant types' }).getByRole('checkbox', { name: /^authorization_code/ }).check();
    await page.getByLabel('Redirect URIs', { exact: true }).fill('https://throwaway.example/cb');
    await page.getByRole('group', { name: 'Requested scopes' }).getByRole('checkbox', { name: /^incidents:read/ }).check();
    await page.getByLabel('Token endpoint authentication method').selectOption('none');
    await page.getByRole('button', { name: 'Register' }).click();
    await expect.poll(() => notice(page)).toContain('public client');
    const throwaway = new URL(page.url()).pathname.split('/')[3]!;
    await page.getByRole('link', { name: 'Delete…' }).click();
    await expectAccessible(page, 'admin-app-delete');
    await page.getByLabel(/Type the app's name to confirm/).fill('throwaway');
    await page.getByRole('button', { name: 'Delete the app' }).click();
    await expect.poll(() => fieldErrorOf(page, 'confirm_name')).toContain("That is not the app's name");
    await page.getByLabel(/Type the app's name to confirm/).fill('Throwaway');
    await page.getByRole('button', { name: 'Delete the app' }).click();
    await expect.poll(() => notice(page)).toBe('The app was deleted.');
    expect(new URL(page.url()).pathname).toBe('/console/apps');
    expect(await page.locator('main').textContent()).not.toContain('Throwaway');
    expect((await h.request({ method: 'GET', url: `/v1/platform/apps/${throwaway}`, headers: bearer(acme.adminToken) })).statusCode).toBe(404);
    // The other app stays, and its page no longer exists for the deleted one.
    expect((await h.request({ method: 'GET', url: `/v1/platform/apps/${clientId}`, headers: bearer(acme.adminToken) })).statusCode).toBe(200);
    const gone = await page.goto(`/console/apps/${throwaway}`);
    expect(gone!.status()).toBe(404);
  }, SLOW);

  it("shows another tenant's admin none of this tenant's apps; its app's page is not found there; the list paginates", async () => {
    const acmeApp = await h.registerApp(acme, { name: 'Acme private app', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] });
    for (let i = 1; i <= 21; i++) await h.registerApp(globex, { name: `Globex app ${String(i).padStart(2, '0')}`, grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] });
    const page = await admin('globex');
    const listed = await page.locator('main').textContent();
    expect(listed).not.toContain('Acme private app');
    expect(listed).not.toContain(acmeApp.client_id);
    expect(await page.locator('tbody tr').count()).toBe(20);
    await page.getByRole('link', { name: 'Next page' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    expect(await page.locator('tbody').textContent()).toContain('Globex app 21');
    expect(await page.getByRole('link', { name: 'Next page' }).count()).toBe(0);

    for (const path of [`/console/apps/${acmeApp.client_id}`, `/console/apps/${acmeApp.client_id}/suspend`, `/console/apps/${acmeApp.client_id}/rotate`]) {
      const res = await page.goto(path);
      expect(res!.status(), path).toBe(404);
      expect(await page.locator('h1').textContent()).toBe('Not found');
      expect(await page.locator('main').textContent()).not.toContain('Acme private app');
    }
    await expectAccessible(page, 'admin-not-found');
    // A form of this admin's, posted at the other tenant's app, changes nothing there.
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const posted = await page.request.post(`/console/apps/${acmeApp.client_id}/suspend`, { form: { csrf, confirm_name: 'Acme private app' }, maxRedirects: 0 });
    expect(posted.status()).toBe(404);
    expect((await h.request({ method: 'GET', url: `/v1/platform/apps/${acmeApp.client_id}`, headers: bearer(acme.adminToken) })).json().status).toBe('active');
  }, SLOW);
});
