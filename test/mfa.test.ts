// TOTP for local accounts (README "MFA"), over HTTP: a tenant admin sets the sign-in policy; the hosted sign-in takes a
// user whom it requires through enrolment (secret, otpauth URI, QR code, a code to confirm, recovery codes once) and
// asks an enrolled user for a code after the password; the browser has no session until the code is right; wrong
// codes count toward the account's lockout; a code is accepted once; a recovery code works once; an admin resets a
// user's MFA. Codes are made here with the library the server uses, from the secret the page shows, on the test clock.
import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { authorizeUrl, Browser, createUser, hiddenFields, pkce, registerCodeApp, type CodeApp } from './helpers/oauth.js';

const REDIRECT = 'https://integrator.example/callback';
const PASSWORD = 'a long enough password';
const ADMIN_PASSWORD = 'correct horse battery staple';
const CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";
const RECOVERY_CODE = /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/;

let h: Harness;

beforeAll(async () => {
  // Every sign-in here comes from one address: the per-address limit is not what is tested.
  h = await startHarness({ RATE_LIMIT_LOGIN_PER_IP: '10000' });
});
afterAll(() => h?.close());

// ------------------------------------------------------------------------------------------------ helpers

interface Org {
  tenant: TenantFixture;
  app: CodeApp;
  adminEmail: string;
}

async function org(policy?: 'none' | 'admins' | 'everyone'): Promise<Org> {
  const tenant = await h.tenant();
  const app = await registerCodeApp(h, tenant);
  if (policy) expect((await setPolicy(tenant, { mfa_required: policy })).statusCode).toBe(200);
  return { tenant, app, adminEmail: `admin@${tenant.slug}.test` };
}

const setPolicy = (tenant: TenantFixture, payload: object) => h.request({ method: 'PATCH', url: '/v1/platform/tenant', headers: bearer(tenant.adminToken), payload });

/** A new authorization request in `browser`: its login page. */
async function loginPage(browser: Browser, { app }: Org): Promise<LightMyRequestResponse> {
  const page = await browser.get(
    authorizeUrl({ response_type: 'code', client_id: app.client_id, redirect_uri: REDIRECT, scope: 'incidents:read', state: 'st', code_challenge: pkce().challenge, code_challenge_method: 'S256' }),
  );
  expect(page.statusCode).toBe(200);
  return page;
}

/** The password, in a new request; then, when a second factor follows, its page (after the 303). */
async function password(browser: Browser, o: Org, email: string, secret = PASSWORD): Promise<LightMyRequestResponse> {
  const page = await loginPage(browser, o);
  const res = await browser.post('/v1/oauth/login', { ...hiddenFields(page.body), email, password: secret });
  if (res.statusCode === 303 && res.headers.location!.startsWith('/v1/oauth/mfa?request_id=ar_')) return browser.get(res.headers.location!);
  return res;
}

const submit = (browser: Browser, page: LightMyRequestResponse, code?: string) => browser.post('/v1/oauth/mfa', { ...hiddenFields(page.body), ...(code === undefined ? {} : { code }) });

const secretOn = (page: LightMyRequestResponse) => /<code id="totp-secret" class="secret">([A-Z2-7 ]+)<\/code>/.exec(page.body)![1]!.replace(/ /g, '');
const recoveryCodesOn = (page: LightMyRequestResponse) => [...page.body.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]!);

/** The authenticator's code now, by the server's clock. */
const codeNow = (secret: string) => generate({ secret, epoch: Math.floor(h.clock.now() / 1000) });

/** The next time step: a code of a step already used would be a replay. */
const nextStep = () => h.clock.advance(30_000);

/** The `amr` of the login session the browser holds (null: it holds none). */
async function sessionAmr(browser: Browser): Promise<string[] | null> {
  const cookie = browser.cookies.get('tessera_session');
  if (!cookie) return null;
  const id = createHash('sha256').update(cookie).digest('hex');
  const { rows } = await h.runtime.core.pool.query<{ amr: string[] }>('select amr from oauth_login_sessions where id = $1', [id]);
  return rows[0]?.amr ?? null;
}

const expectConsent = (res: LightMyRequestResponse) => {
  expect(res.statusCode, res.body).toBe(303);
  expect(res.headers.location).toMatch(/^\/v1\/oauth\/consent\?request_id=ar_/);
};

/** Enrols `email` through the sign-in, as required by the policy: the secret and the recovery codes. */
async function enrol(o: Org, email: string, secret = PASSWORD): Promise<{ secret: string; recoveryCodes: string[]; browser: Browser }> {
  const browser = new Browser(h);
  const page = await password(browser, o, email, secret);
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('<h1>Set up two-step verification</h1>');
  const totpSecret = secretOn(page);
  const shown = await submit(browser, page, await codeNow(totpSecret));
  expect(shown.statusCode).toBe(200);
  const recoveryCodes = recoveryCodesOn(shown);
  expectConsent(await submit(browser, shown));
  await nextStep();
  return { secret: totpSecret, recoveryCodes, browser };
}

async function auditEvents(tenant: TenantFixture, action: string) {
  const res = await h.request({ method: 'GET', url: `/v1/platform/audit-events?action=${action}&limit=100`, headers: bearer(tenant.adminToken) });
  expect(res.statusCode).toBe(200);
  return res.json().events as Array<{ actor: string; target_type: string; target_id: string; details: Record<string, unknown> }>;
}

async function users(tenant: TenantFixture) {
  const res = await h.request({ method: 'GET', url: '/v1/platform/users', headers: bearer(tenant.adminToken) });
  expect(res.statusCode).toBe(200);
  return res.json().users as Array<{ id: string; email: string; mfa_enabled: boolean }>;
}

// ------------------------------------------------------------------------------------------------ the policy

describe('the tenant sign-in policy', () => {
  it('shows the caller tenant and its policy', async () => {
    const { tenant } = await org();
    const res = await h.request({ method: 'GET', url: '/v1/platform/tenant', headers: bearer(tenant.adminToken) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: tenant.tenantId, slug: tenant.slug, name: `Tenant ${tenant.slug}`, sandbox: false, mfa_required: 'none', federation_required: false });
  });

  it('is changed by a tenant admin, audited, and refused naming the field', async () => {
    const { tenant } = await org();
    const refused = async (payload: unknown, description: string) => {
      const res = await setPolicy(tenant, payload as object);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'invalid_request', error_description: description });
    };
    await refused({ mfa_required: 'sometimes' }, 'body.mfa_required must be one of none, admins, everyone');
    await refused({ federation_required: 'yes' }, 'body.federation_required must be boolean');
    await refused({ mfa_required: 'admins', sso: true }, "body has unknown field 'sso'");
    await refused({}, 'body must set mfa_required or federation_required');

    const changed = await setPolicy(tenant, { mfa_required: 'admins' });
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toMatchObject({ id: tenant.tenantId, mfa_required: 'admins', federation_required: false });
    // The same again changes nothing, and records nothing.
    expect((await setPolicy(tenant, { mfa_required: 'admins', federation_required: false })).statusCode).toBe(200);
    const events = await auditEvents(tenant, 'tenant.sign_in_policy_changed');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: tenant.userId, target_type: 'tenant', target_id: tenant.tenantId, details: { mfa_required: { from: 'none', to: 'admins' } } });
  });

  it('refuses federation_required while the tenant has no identity provider', async () => {
    const { tenant } = await org();
    const res = await setPolicy(tenant, { federation_required: true });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({
      error: 'conflict',
      error_description: 'federation_required cannot be true while the tenant has no identity provider: its users would have no way to sign in',
    });
    expect((await h.request({ method: 'GET', url: '/v1/platform/tenant', headers: bearer(tenant.adminToken) })).json().federation_required).toBe(false);
  });

  it("is each tenant's own, and a tenant admin's only", async () => {
    const acme = await org('everyone');
    const globex = await org();
    expect((await h.request({ method: 'GET', url: '/v1/platform/tenant', headers: bearer(globex.tenant.adminToken) })).json()).toMatchObject({ id: globex.tenant.tenantId, mfa_required: 'none' });
    expect((await setPolicy(globex.tenant, { mfa_required: 'admins' })).json()).toMatchObject({ id: globex.tenant.tenantId, mfa_required: 'admins' });
    expect((await h.request({ method: 'GET', url: '/v1/platform/tenant', headers: bearer(acme.tenant.adminToken) })).json()).toMatchObject({ id: acme.tenant.tenantId, mfa_required: 'everyone' });

    const member = (await h.runtime.tokens.issue({ subject: 'usr_member', clientId: 'tessera-cli', scopes: ['incidents:read'], tenantId: acme.tenant.tenantId, ttlSeconds: 600 })).token;
    for (const method of ['GET', 'PATCH'] as const) {
      const res = await h.request({ method, url: '/v1/platform/tenant', headers: bearer(member), ...(method === 'PATCH' ? { payload: { mfa_required: 'none' } } : {}) });
      expect(res.statusCode).toBe(403);
    }
    expect((await h.request({ method: 'GET', url: '/v1/platform/tenant' })).statusCode).toBe(401);
  });
});

// ------------------------------------------------------------------------------------------------ enrolment

describe('enrolment in the sign-in, where the policy requires it', () => {
  it('admins: an admin enrols (QR code, secret, otpauth URI, a code, recovery codes once) before any session; a member does not', async () => {
    const o = await org('admins');
    await createUser(h, o.tenant, 'member@admins.test');
    const member = new Browser(h);
    expectConsent(await password(member, o, 'member@admins.test'));
    expect(await sessionAmr(member)).toEqual(['pwd']);

    const browser = new Browser(h);
    const page = await password(browser, o, o.adminEmail, ADMIN_PASSWORD);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toBe(CSP);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).toContain('<h1>Set up two-step verification</h1>');
    expect(page.body).not.toMatch(/<script|<img|data:/);
    expect(page.body).toMatch(/<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 \d+ \d+" width="200" height="200" role="img" aria-label="QR code of your authenticator key"/);
    const secret = secretOn(page);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(/<a href="(otpauth:[^"]+)">/.exec(page.body)![1]!.replace(/&amp;/g, '&'));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe(`/Tessera Tenant ${o.tenant.slug}:${o.adminEmail}`);
    // SHA-1, 6 digits, 30 s: the Key Uri Format's defaults, which every authenticator app reads.
    expect(Object.fromEntries(uri.searchParams)).toEqual({ secret, issuer: `Tessera Tenant ${o.tenant.slug}` });
    // Half signed in: no session, and the consent page sends back to the sign-in.
    expect(browser.cookies.has('tessera_session')).toBe(false);
    const skipped = await browser.get(`/v1/oauth/consent?request_id=${hiddenFields(page.body).request_id}`);
    expect(skipped.statusCode).toBe(200);
    expect(skipped.body).toContain('Sign in to continue to Incident dashboard');

    const wrong = await submit(browser, page, '000000' === (await codeNow(secret)) ? '111111' : '000000');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('The code is not correct. Check that the time on your device is right, and enter the code your app shows now.');
    expect(secretOn(wrong)).toBe(secret);
    expect((await submit(browser, wrong, '')).statusCode).toBe(400);

    const shown = await submit(browser, wrong, await codeNow(secret));
    expect(shown.statusCode).toBe(200);
    expect(shown.body).toContain('<h1>Save your recovery codes</h1>');
    const codes = recoveryCodesOn(shown);
    expect(codes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(RECOVERY_CODE);
    expect(new Set(codes).size).toBe(10);
    expect(browser.cookies.has('tessera_session')).toBe(false);
    // Shown once: the page of the step, again, has no codes.
    const again = await browser.get(`/v1/oauth/mfa?request_id=${hiddenFields(shown.body).request_id}`);
    expect(again.body).toContain('<h1>Two-step verification is on</h1>');
    expect(recoveryCodesOn(again)).toEqual([]);

    expectConsent(await submit(browser, shown));
    expect(await sessionAmr(browser)).toEqual(['pwd', 'otp']);
    expect((await users(o.tenant)).map((u) => [u.email, u.mfa_enabled])).toEqual([
      [o.adminEmail, true],
      ['member@admins.test', false],
    ]);
    const [enrolled] = await auditEvents(o.tenant, 'user.mfa_enrolled');
    expect(enrolled).toMatchObject({ actor: o.tenant.userId, target_type: 'user', target_id: o.tenant.userId, details: { email: o.adminEmail, recovery_codes: 10 } });
    // The secret is stored sealed, never as it was shown.
    const { rows } = await h.runtime.core.pool.query<{ secret_sealed: string }>('select secret_sealed from user_totp where user_id = $1', [o.tenant.userId]);
    expect(rows[0]!.secret_sealed).toMatch(/^v1\./);
    expect(rows[0]!.secret_sealed).not.toContain(secret);
  });

  it('everyone: a member enrols too, and signs in with a code from then on', async () => {
    const o = await org('everyone');
    await createUser(h, o.tenant, 'member@everyone.test');
    const { secret } = await enrol(o, 'member@everyone.test');
    const browser = new Browser(h);
    const page = await password(browser, o, 'member@everyone.test');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h1>Enter your verification code</h1>');
    expect(page.body).toContain('<label for="code">Verification code</label>');
    expectConsent(await submit(browser, page, await codeNow(secret)));
    expect(await sessionAmr(browser)).toEqual(['pwd', 'otp']);
  });

  it('an enrolment expires with its step', async () => {
    const o = await org('everyone');
    const browser = new Browser(h);
    const page = await password(browser, o, o.adminEmail, ADMIN_PASSWORD);
    const secret = secretOn(page);
    await h.clock.advance(601_000);
    const late = await submit(browser, page, await codeNow(secret));
    // The authorization request (10 minutes) is gone too: the error page, and no session.
    expect(late.statusCode).toBe(400);
    expect(late.body).toContain('This sign-in request has expired or is not valid.');
    expect(browser.cookies.has('tessera_session')).toBe(false);
    expect((await users(o.tenant))[0]!.mfa_enabled).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------------ signing in

describe('the code page of an enrolled user', () => {
  let o: Org;
  let secret: string;
  let recoveryCodes: string[];
  const email = 'ada@codes.test';

  beforeAll(async () => {
    o = await org('everyone');
    await createUser(h, o.tenant, email);
    ({ secret, recoveryCodes } = await enrol(o, email));
  });

  it('asks for a code after the password, and the session starts only with the right one', async () => {
    const browser = new Browser(h);
    const page = await password(browser, o, email);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toBe(CSP);
    expect(browser.cookies.has('tessera_session')).toBe(false);
    const wrong = await submit(browser, page, (Number(await codeNow(secret)) ^ 1).toString().padStart(6, '0'));
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('<div class="error" role="alert" id="form-error">The code is not correct.</div>');
    expect(browser.cookies.has('tessera_session')).toBe(false);
    expectConsent(await submit(browser, wrong, await codeNow(secret)));
    expect(await sessionAmr(browser)).toEqual(['pwd', 'otp']);
    await nextStep();
  });

  it('refuses a code already accepted, in its time step', async () => {
    const code = await codeNow(secret);
    const first = new Browser(h);
    expectConsent(await submit(first, await password(first, o, email), code));
    const replay = new Browser(h);
    const refused = await submit(replay, await password(replay, o, email), code);
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain('The code is not correct.');
    expect(replay.cookies.has('tessera_session')).toBe(false);
    await nextStep();
    expectConsent(await submit(replay, refused, await codeNow(secret)));
    await nextStep();
  });

  it('takes a recovery code once, with the amr of a one-time password', async () => {
    const [code] = recoveryCodes;
    const browser = new Browser(h);
    // As printed, or typed without the dashes and in capitals.
    expectConsent(await submit(browser, await password(browser, o, email), code!.replace(/-/g, '').toUpperCase()));
    expect(await sessionAmr(browser)).toEqual(['pwd', 'otp']);
    const [used] = await auditEvents(o.tenant, 'user.mfa_recovery_code_used');
    expect(used).toMatchObject({ target_type: 'user', details: { email, remaining: 9 } });

    const again = new Browser(h);
    const refused = await submit(again, await password(again, o, email), code);
    expect(refused.statusCode).toBe(401);
    expect(again.cookies.has('tessera_session')).toBe(false);
    // Another of them still works.
    expectConsent(await submit(again, refused, recoveryCodes[1]!));
  });

  it('binds the step to the browser and its form (CSRF), and lets it expire', async () => {
    const browser = new Browser(h);
    const page = await password(browser, o, email);
    const forged = await browser.post('/v1/oauth/mfa', { ...hiddenFields(page.body), csrf_token: 'forged', code: await codeNow(secret) });
    expect(forged.statusCode).toBe(403);
    expect(forged.body).toContain('The form could not be verified.');
    const elsewhere = await new Browser(h).post('/v1/oauth/mfa', { ...hiddenFields(page.body), code: await codeNow(secret) });
    expect(elsewhere.statusCode).toBe(400);
    expect(elsewhere.body).toContain('This sign-in request has expired or is not valid.');

    await h.clock.advance(301_000);
    const late = await submit(browser, page, await codeNow(secret));
    expect(late.statusCode).toBe(401);
    expect(late.body).toContain('This sign-in step has expired. Sign in again.');
    expect(late.body).toContain('Sign in to continue to Incident dashboard');
    expect(browser.cookies.has('tessera_session')).toBe(false);
    await nextStep();
  });

  it('counts wrong codes toward the lockout: 429 after the limit, even with the right code, until it ends', async () => {
    const browser = new Browser(h);
    let page = await password(browser, o, email);
    for (let i = 0; i < h.config.oauth.loginMaxFailures; i++) {
      page = await submit(browser, page, `wrong-${i}`);
      expect(page.statusCode).toBe(401);
    }
    const locked = await submit(browser, page, await codeNow(secret));
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBe(h.config.oauth.loginLockout);
    expect(locked.body).toContain('Too many failed attempts. Try again in 15 minute(s).');
    expect(browser.cookies.has('tessera_session')).toBe(false);
    // The password is refused as well, the right one included.
    const other = new Browser(h);
    const refused = await password(other, o, email);
    expect(refused.statusCode).toBe(429);
    expect(refused.body).toContain('Too many failed attempts.');

    await h.clock.advance(h.config.oauth.loginLockout * 1000 - 60_000);
    expect((await password(new Browser(h), o, email)).statusCode).toBe(429);
    await h.clock.advance(61_000);
    const after = new Browser(h);
    expectConsent(await submit(after, await password(after, o, email), await codeNow(secret)));
    await nextStep();
  });

  it('a correct password does not reset the count of wrong codes', async () => {
    for (let attempt = 0; attempt < h.config.oauth.loginMaxFailures; attempt++) {
      const browser = new Browser(h);
      const wrong = await submit(browser, await password(browser, o, email), '000000' === (await codeNow(secret)) ? '111111' : '000000');
      expect(wrong.statusCode).toBe(401);
    }
    const browser = new Browser(h);
    expect((await password(browser, o, email)).statusCode).toBe(429);
    await h.clock.advance(h.config.oauth.loginLockout * 1000 + 1000);
  });
});

describe('a session made with the password alone', () => {
  it('stops standing once the policy requires a second factor', async () => {
    const o = await org();
    const browser = new Browser(h);
    expectConsent(await password(browser, o, o.adminEmail, ADMIN_PASSWORD));
    expect(await sessionAmr(browser)).toEqual(['pwd']);
    // With the session, a new request goes straight to the consent page; once the policy requires a code, to the sign-in.
    expect((await loginPage(browser, o)).body).toContain('<h1>Allow Incident dashboard to access your account?</h1>');
    expect((await setPolicy(o.tenant, { mfa_required: 'admins' })).statusCode).toBe(200);
    expect((await loginPage(browser, o)).body).toContain('Sign in to continue to Incident dashboard');
  });
});

// ------------------------------------------------------------------------------------------------ reset

describe('MFA reset by a tenant admin', () => {
  it('takes the authenticator and recovery codes away, audited; the user enrols again', async () => {
    const o = await org('everyone');
    await createUser(h, o.tenant, 'lost@phone.test');
    const { secret } = await enrol(o, 'lost@phone.test');
    const user = (await users(o.tenant)).find((u) => u.email === 'lost@phone.test')!;
    expect(user.mfa_enabled).toBe(true);

    const other = await org();
    // One user, as the console's confirmation page reads it; another tenant's is not found.
    const one = await h.request({ method: 'GET', url: `/v1/platform/users/${user.id}`, headers: bearer(o.tenant.adminToken) });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toEqual({ id: user.id, email: 'lost@phone.test', roles: ['member'], mfa_enabled: true, created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });
    const unseen = await h.request({ method: 'GET', url: `/v1/platform/users/${user.id}`, headers: bearer(other.tenant.adminToken) });
    expect(unseen.statusCode).toBe(404);
    expect(unseen.json()).toEqual({ error: 'not_found', error_description: `no user ${user.id}` });
    const foreign = await h.request({ method: 'DELETE', url: `/v1/platform/users/${user.id}/mfa`, headers: bearer(other.tenant.adminToken) });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json()).toEqual({ error: 'not_found', error_description: `no user ${user.id}` });
    expect((await h.request({ method: 'DELETE', url: '/v1/platform/users/usr_nobody/mfa', headers: bearer(o.tenant.adminToken) })).statusCode).toBe(404);

    const reset = await h.request({ method: 'DELETE', url: `/v1/platform/users/${user.id}/mfa`, headers: bearer(o.tenant.adminToken) });
    expect(reset.statusCode).toBe(204);
    expect(reset.body).toBe('');
    expect((await users(o.tenant)).find((u) => u.id === user.id)!.mfa_enabled).toBe(false);
    expect((await h.request({ method: 'GET', url: `/v1/platform/users/${user.id}`, headers: bearer(o.tenant.adminToken) })).json().mfa_enabled).toBe(false);
    const [event] = await auditEvents(o.tenant, 'user.mfa_reset');
    expect(event).toMatchObject({ actor: o.tenant.userId, target_type: 'user', target_id: user.id, details: { email: 'lost@phone.test', had_mfa: true } });
    const { rows } = await h.runtime.core.pool.query('select 1 from user_recovery_codes where user_id = $1', [user.id]);
    expect(rows).toEqual([]);

    // The old authenticator is worth nothing; the user enrols a new one.
    const browser = new Browser(h);
    const page = await password(browser, o, 'lost@phone.test');
    expect(page.body).toContain('<h1>Set up two-step verification</h1>');
    expect(secretOn(page)).not.toBe(secret);
  });

  it('without a policy, a reset user signs in with the password alone', async () => {
    const o = await org('everyone');
    await enrol(o, o.adminEmail, ADMIN_PASSWORD);
    expect((await setPolicy(o.tenant, { mfa_required: 'none' })).statusCode).toBe(200);
    // Still enrolled: still asked.
    expect((await password(new Browser(h), o, o.adminEmail, ADMIN_PASSWORD)).body).toContain('<h1>Enter your verification code</h1>');
    expect((await h.request({ method: 'DELETE', url: `/v1/platform/users/${o.tenant.userId}/mfa`, headers: bearer(o.tenant.adminToken) })).statusCode).toBe(204);
    const browser = new Browser(h);
    expectConsent(await password(browser, o, o.adminEmail, ADMIN_PASSWORD));
    expect(await sessionAmr(browser)).toEqual(['pwd']);
  });
});
