// The rest of the tenant admin's console (README "Console"), in Chromium: users (created, a server field error next to
// its field, an authenticator reset after a confirmation), the audit log (filtered by action and target, paginated
// newest first, details readable), identity providers (SAML and OpenID Connect added, edited, disabled and enabled,
// removed after a confirmation; what to give the provider shown; the client secret never shown), integration requests
// (filed, with a field error; an approved sandbox's password claimed and shown once), and the sign-in policy (changed
// with the keyboard only; a refusal next to its field). Every page passes axe-core and leaves a screenshot; what the
// pages did is checked through the REST API.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { expectAccessible, signInToTenant, startConsoleBrowser, type ConsoleBrowser } from './helpers/console-browser.js';
import { keyAndCertificate } from './helpers/saml-idp.js';

const PASSWORD = 'correct horse battery staple';
/** A flow of many pages in a real browser, while other files run beside it. */
const SLOW = 180_000;

let h: Harness;
let cb: ConsoleBrowser;
let acme: TenantFixture;

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  cb = await startConsoleBrowser(h);
});
afterAll(async () => {
  await cb?.close();
  await h?.close();
});

async function admin(slug = 'acme'): Promise<Page> {
  const { page } = await cb.person();
  page.setDefaultTimeout(20_000);
  await signInToTenant(page, slug, `admin@${slug}.test`, PASSWORD);
  return page;
}

const api = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object, token = acme.adminToken) => h.request({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
const notice = (page: Page) => page.locator('.notice').textContent();
const fieldErrorOf = (page: Page, name: string) => page.locator(`#f-${name}-error`).textContent();

async function tabTo(page: Page, wanted: (focused: { tag: string; name: string; text: string; value: string }) => boolean): Promise<void> {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLInputElement | null;
      return { tag: el?.tagName.toLowerCase() ?? '', name: el?.getAttribute('name') ?? '', text: (el?.textContent ?? '').trim(), value: el?.value ?? '' };
    });
    if (wanted(focused)) return;
  }
  throw new Error('the element was not reached with Tab');
}

describe('users', () => {
  it('adds a user (the server refusal next to its field, the email kept) and resets a user\'s MFA after a confirmation', async () => {
    const page = await admin();
    await page.getByRole('link', { name: 'Users' }).click();
    await page.waitForURL(/\/console\/users$/);
    await expectAccessible(page, 'admin-users');
    expect(await page.locator('tbody').textContent()).toContain('admin@acme.test');

    await page.getByLabel('Email').fill('dana@acme.test');
    await page.getByLabel('Password').fill('too short');
    await page.getByRole('checkbox', { name: /^admin/ }).check();
    await page.getByRole('button', { name: 'Add the user' }).click();
    await expect.poll(() => fieldErrorOf(page, 'password')).toBe('body.password must NOT have fewer than 12 characters');
    expect(await page.getByLabel('Email').inputValue()).toBe('dana@acme.test');
    expect(await page.getByRole('checkbox', { name: /^admin/ }).isChecked()).toBe(true);
    await expectAccessible(page, 'admin-users-field-error');

    await page.getByLabel('Password').fill('a long enough password');
    await page.getByRole('button', { name: 'Add the user' }).click();
    await expect.poll(() => notice(page)).toContain('The user was created');
    const row = page.locator('tbody tr', { hasText: 'dana@acme.test' });
    expect(await row.textContent()).toContain('member, admin');
    // The same email again: the conflict is said next to the email.
    await page.getByLabel('Email').fill('dana@acme.test');
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByRole('button', { name: 'Add the user' }).click();
    await expect.poll(() => fieldErrorOf(page, 'email')).toBe('a user with email dana@acme.test already exists in this tenant');

    const users = (await api('GET', '/v1/platform/users')).json().users as Array<{ id: string; email: string }>;
    const dana = users.find((u) => u.email === 'dana@acme.test')!;
    await page.goto(`/console/users/${dana.id}/reset-mfa`);
    await expectAccessible(page, 'admin-users-reset-mfa');
    expect(await page.locator('h1').textContent()).toBe('Reset the MFA of dana@acme.test');
    await page.getByRole('button', { name: 'Reset the MFA' }).click();
    await expect.poll(() => notice(page)).toContain("The user's authenticator and recovery codes were removed");
    const events = (await api('GET', `/v1/platform/audit-events?action=user.mfa_reset&target_id=${dana.id}`)).json().events;
    expect(events).toHaveLength(1);
    // Another tenant's user is not found.
    const globex = await h.tenant('globex');
    const res = await page.goto(`/console/users/${globex.userId}/reset-mfa`);
    expect(res!.status()).toBe(404);
  }, SLOW);
});

describe('the audit log', () => {
  it('filters by action and target id, newest first, paginated with the filters kept, and shows details readably', async () => {
    const app = await h.registerApp(acme);
    const other = await h.registerApp(acme, { name: 'Other app', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] });
    // A millisecond apart at least: newest first is then one order.
    for (let i = 0; i < 30; i++) {
      expect((await api('PATCH', `/v1/platform/apps/${app.client_id}/governance`, { access_token_ttl: 600 + i })).statusCode).toBe(200);
      await h.clock.advance(2);
    }
    expect((await api('PATCH', `/v1/platform/apps/${other.client_id}/governance`, { allow_service_tokens: true })).statusCode).toBe(200);

    const page = await admin();
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.waitForURL(/\/console\/audit$/);
    await expectAccessible(page, 'admin-audit');
    await page.getByLabel('Action').fill('app.governance_changed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/action=app\.governance_changed/);
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBe(25);
    // Newest first: the other app's change, then the last TTL set; the change shown as before → after.
    expect(await rows.nth(0).textContent()).toContain(other.client_id);
    expect(await rows.nth(0).textContent()).toContain('allow service tokens: false → true');
    expect(await rows.nth(1).textContent()).toContain('access token ttl: 628 → 629');
    await page.getByRole('link', { name: 'Next page' }).click();
    await page.waitForURL(/cursor=/);
    expect(new URL(page.url()).searchParams.get('action')).toBe('app.governance_changed');
    expect(await rows.count()).toBe(6);
    expect(await rows.last().textContent()).toContain('access token ttl: 3600 → 600');
    expect(await page.getByRole('link', { name: 'Next page' }).count()).toBe(0);

    // By target: only the other app's events.
    await page.getByRole('link', { name: 'Clear the filter' }).click();
    await page.getByLabel('Target id').fill(other.client_id);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/target_id=/);
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toContain('app.governance_changed');
    expect(await rows.nth(1).textContent()).toContain('app.created');
    expect(await rows.nth(1).textContent()).toContain('Other app');
    await expectAccessible(page, 'admin-audit-filtered');
  }, SLOW);
});

describe('identity providers', () => {
  it('adds a SAML provider (a server refusal next to its field), shows the SP to give the IdP, edits, disables, enables and removes it', async () => {
    const { pem } = keyAndCertificate('idp.acme.example');
    // A tenant of its own: with an enabled provider, its sign-in page asks for the email first.
    const initech = await h.tenant('initech');
    const page = await admin('initech');
    await page.getByRole('link', { name: 'Identity providers' }).click();
    await page.waitForURL(/\/console\/identity-providers$/);
    await expectAccessible(page, 'admin-identity-providers');
    await page.getByRole('link', { name: 'Add a SAML provider' }).click();
    await expectAccessible(page, 'admin-identity-provider-new-saml');
    await page.getByLabel('Name', { exact: true }).fill('Acme SSO');
    await page.getByLabel('Email domains').fill('acme.example, eng.acme.example');
    await page.getByLabel('Entity id').fill('https://idp.acme.example/metadata');
    await page.getByLabel('SSO URL (HTTP-Redirect binding)').fill('http://idp.acme.example/sso');
    await page.getByLabel('Signing certificates').fill(pem);
    await page.getByRole('button', { name: 'Add the provider' }).click();
    await expect.poll(() => fieldErrorOf(page, 'sso_url')).toBe('body.sso_url must use https');
    expect(await page.getByLabel('Entity id').inputValue()).toBe('https://idp.acme.example/metadata');
    expect(await page.getByLabel('Signing certificates').inputValue()).toBe(pem.replace(/\r\n/g, '\n'));
    await expectAccessible(page, 'admin-identity-provider-field-error');
    await page.getByLabel('SSO URL (HTTP-Redirect binding)').fill('https://idp.acme.example/sso');
    await page.getByRole('button', { name: 'Add the provider' }).click();
    await expect.poll(() => notice(page)).toBe('The identity provider was added.');
    const id = new URL(page.url()).pathname.split('/')[3]!;
    expect(await page.locator('main').textContent()).toContain(`${cb.url}/v1/saml/initech/metadata`);
    expect(await page.locator('main').textContent()).toContain(`${cb.url}/v1/saml/initech/acs`);
    await expectAccessible(page, 'admin-identity-provider');

    // Edit: a new name and a role mapping.
    await page.getByLabel('Name', { exact: true }).fill('Acme single sign-on');
    await page.getByLabel('Attribute').fill('groups');
    await page.getByLabel('Values', { exact: true }).fill('tessera-admins = admin\nstaff = member');
    await page.getByLabel('Anyone with none of these values').selectOption('refuse');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => notice(page)).toBe('The identity provider was saved.');
    const saved = (await api('GET', `/v1/platform/identity-providers/${id}`, undefined, initech.adminToken)).json();
    expect(saved).toMatchObject({ name: 'Acme single sign-on', enabled: true, email_domains: ['acme.example', 'eng.acme.example'], entity_id: 'https://idp.acme.example/metadata', role_mapping: { claim: 'groups', values: { 'tessera-admins': 'admin', staff: 'member' }, default_role: null } });
    // A role the API does not know: its refusal under the values, what was typed kept.
    await page.getByLabel('Values', { exact: true }).fill('tessera-admins = owner');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => fieldErrorOf(page, 'role_mapping_values')).toContain('body.role_mapping.values');
    expect(await page.getByLabel('Values', { exact: true }).inputValue()).toBe('tessera-admins = owner');

    await page.goto(`/console/identity-providers/${id}`);
    await page.getByRole('button', { name: 'Disable' }).click();
    await expect.poll(() => notice(page)).toContain('disabled');
    expect((await api('GET', `/v1/platform/identity-providers/${id}`, undefined, initech.adminToken)).json().enabled).toBe(false);
    await page.getByRole('button', { name: 'Enable' }).click();
    await expect.poll(() => notice(page)).toContain('enabled');
    expect((await api('GET', `/v1/platform/identity-providers/${id}`, undefined, initech.adminToken)).json().enabled).toBe(true);

    await page.getByRole('link', { name: 'Remove…' }).click();
    await expectAccessible(page, 'admin-identity-provider-delete');
    await page.getByRole('button', { name: 'Remove the provider' }).click();
    await expect.poll(() => notice(page)).toContain('The identity provider was removed');
    expect((await api('GET', `/v1/platform/identity-providers/${id}`, undefined, initech.adminToken)).statusCode).toBe(404);
  }, SLOW);

  it('adds an OpenID Connect provider: the redirect URI to register is shown, the client secret never', async () => {
    const umbrella = await h.tenant('umbrella');
    const page = await admin('umbrella');
    await page.goto('/console/identity-providers/new?protocol=oidc');
    await expectAccessible(page, 'admin-identity-provider-new-oidc');
    await page.getByLabel('Name', { exact: true }).fill('Acme Okta');
    await page.getByLabel('Issuer').fill('https://acme.okta.example');
    await page.getByLabel('Client id').fill('0oa-console');
    await page.getByLabel('Client secret').fill('upstream-client-secret-value');
    await page.getByLabel('Scopes').fill('openid email groups');
    await page.getByRole('button', { name: 'Add the provider' }).click();
    await expect.poll(() => notice(page)).toBe('The identity provider was added.');
    expect(await page.locator('main').textContent()).toContain(`${cb.url}/v1/federation/oidc/callback`);
    expect(await page.content()).not.toContain('upstream-client-secret-value');
    expect(await page.getByLabel('Client secret').inputValue()).toBe('');
    await expectAccessible(page, 'admin-identity-provider-oidc');
    // Saving without a secret keeps the one stored.
    await page.getByLabel('Scopes').fill('openid email');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => notice(page)).toBe('The identity provider was saved.');
    const id = new URL(page.url()).pathname.split('/')[3]!;
    expect((await api('GET', `/v1/platform/identity-providers/${id}`, undefined, umbrella.adminToken)).json()).toMatchObject({ issuer: 'https://acme.okta.example', client_id: '0oa-console', scopes: ['openid', 'email'] });
    await page.goto('/console/identity-providers');
    expect(await page.locator('tbody').textContent()).toContain('Acme Okta');
  }, SLOW);
});

describe('integration requests', () => {
  it('files a sandbox request (a server refusal next to its field); once approved, its password is claimed and shown once', async () => {
    const page = await admin();
    await page.getByRole('link', { name: 'Integration requests' }).click();
    await page.waitForURL(/\/console\/requests$/);
    await expectAccessible(page, 'admin-requests');
    await page.getByLabel('What do you need?').selectOption('sandbox');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/kind=sandbox/);
    await expectAccessible(page, 'admin-request-new');
    await page.getByLabel('Sandbox name').fill('Acme try-out');
    await page.getByLabel('Short name (optional)').fill('Bad Slug');
    await page.getByLabel('Why').fill('Try the webhooks before go-live');
    await page.getByRole('button', { name: 'File the request' }).click();
    await expect.poll(() => fieldErrorOf(page, 'slug')).toBe('body.slug must be 2-63 lowercase letters, digits or dashes, starting with a letter or digit');
    expect(await page.getByLabel('Why').inputValue()).toBe('Try the webhooks before go-live');
    await page.getByLabel('Short name (optional)').fill('acme-try-out');
    await page.getByRole('button', { name: 'File the request' }).click();
    await expect.poll(() => notice(page)).toContain('The integration request was filed');
    expect(await page.locator('h1').textContent()).toContain('pending');
    await expectAccessible(page, 'admin-request');
    const id = new URL(page.url()).pathname.split('/')[3]!;

    const approved = await h.request({ method: 'POST', url: `/api/v1/platform/integration-requests/${id}/approve`, headers: bearer(await h.operatorToken()), payload: { note: 'Enjoy the sandbox' } });
    expect(approved.statusCode, approved.body).toBe(200);
    await page.goto('/console/requests');
    const row = page.locator('tbody tr').first();
    expect(await row.textContent()).toContain('approved');
    expect(await row.textContent()).toContain('Enjoy the sandbox');
    await page.goto(`/console/requests/${id}`);
    await page.getByRole('button', { name: 'Claim the credentials' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Sandbox credentials');
    const password = (await page.locator('#sandbox-password').textContent())!.trim();
    expect(password.length).toBeGreaterThan(11);
    await expectAccessible(page, 'admin-sandbox-credentials');
    // The password signs the sandbox's admin in to the console.
    const sandbox = await cb.person();
    sandbox.page.setDefaultTimeout(20_000);
    await signInToTenant(sandbox.page, 'acme-try-out', 'admin@acme.test', password);
    expect(new URL(sandbox.page.url()).pathname).toBe('/console/apps');
    // Shown once: a reload is refused by the API and shows nothing; the request's page has no claim any more.
    await page.reload();
    expect(await page.content()).not.toContain(password);
    expect(await page.locator('.error').textContent()).toContain("the sandbox admin's password was already handed over");
    await page.goto(`/console/requests/${id}`);
    expect(await page.getByRole('button', { name: 'Claim the credentials' }).count()).toBe(0);
    expect(await page.content()).not.toContain(password);
  }, SLOW);
});

describe('settings', () => {
  it('changes the sign-in policy with the keyboard only, and says a refusal next to its field', async () => {
    const page = await admin();
    await page.goto('/console/settings');
    await expectAccessible(page, 'admin-settings');
    // Keyboard only: Tab to the policy's radio buttons, the arrow to "Admins", Tab to the button, Enter.
    await tabTo(page, (f) => f.name === 'mfa_required');
    await page.keyboard.press('ArrowRight');
    await tabTo(page, (f) => f.tag === 'button' && f.text === 'Save the policy');
    await page.keyboard.press('Enter');
    await expect.poll(() => notice(page)).toBe('The sign-in policy was saved.');
    expect((await api('GET', '/v1/platform/tenant')).json()).toMatchObject({ mfa_required: 'admins', federation_required: false });
    expect(await page.getByRole('radio', { name: 'Admins' }).isChecked()).toBe(true);

    // Passwords off with no identity provider: the API's refusal next to the checkbox.
    await page.getByRole('checkbox', { name: /Turn passwords off/ }).check();
    await page.getByRole('button', { name: 'Save the policy' }).click();
    await expect.poll(() => fieldErrorOf(page, 'federation_required')).toContain('federation_required cannot be true while the tenant has no identity provider');
    expect(await page.getByRole('checkbox', { name: /Turn passwords off/ }).isChecked()).toBe(true);
    expect((await api('GET', '/v1/platform/tenant')).json().federation_required).toBe(false);
    await expectAccessible(page, 'admin-settings-field-error');
    expect((await api('PATCH', '/v1/platform/tenant', { mfa_required: 'none' })).statusCode).toBe(200);
  }, SLOW);
});
