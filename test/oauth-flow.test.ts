// The whole authorization code flow over HTTP: login form, consent, redirect, token exchange, refresh,
// revoke and introspect; then client credentials and discovery.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, MACHINE_APP, startHarness, TEST_ISSUER, type Harness, type TenantFixture } from './helpers/harness.js';
import { authorizeUrl, Browser, createUser, hiddenFields, loginAndConsent, pkce, registerCodeApp, tokenRequest, type CodeApp } from './helpers/oauth.js';

let h: Harness;
let acme: TenantFixture;
let app: CodeApp;
const REDIRECT = 'https://integrator.example/callback';

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  app = await registerCodeApp(h, acme);
  await createUser(h, acme, 'ada@acme.test');
});
afterAll(() => h?.close());

describe('authorization code with PKCE', () => {
  it('runs login, consent, code, token, refresh, introspect and revoke', async () => {
    const browser = new Browser(h);
    const { verifier, challenge } = pkce();
    const authorize = authorizeUrl({
      response_type: 'code',
      client_id: app.client_id,
      redirect_uri: REDIRECT,
      scope: 'incidents:read',
      state: 'xyz-state',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });

    const loginPage = await browser.get(authorize);
    expect(loginPage.statusCode).toBe(200);
    expect(loginPage.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(loginPage.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(loginPage.headers['x-frame-options']).toBe('DENY');
    expect(loginPage.body).toContain('<label for="email">Email</label>');
    expect(loginPage.body).toContain('Sign in to continue to Incident dashboard');
    const browserCookie = (loginPage.cookies as Array<{ name: string; httpOnly?: boolean; sameSite?: string; secure?: boolean }>).find((c) => c.name === 'tessera_browser')!;
    expect(browserCookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: true });

    const wrong = await browser.post('/v1/oauth/login', { ...hiddenFields(loginPage.body), email: 'ada@acme.test', password: 'not the password' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('The email or password is not correct.');

    const login = await browser.post('/v1/oauth/login', { ...hiddenFields(wrong.body), email: 'ada@acme.test', password: 'a long enough password' });
    expect(login.statusCode).toBe(303);
    expect(login.headers.location).toMatch(/^\/v1\/oauth\/consent\?request_id=ar_/);
    const session = (login.cookies as Array<{ name: string; httpOnly?: boolean; sameSite?: string; secure?: boolean; path?: string }>).find((c) => c.name === 'tessera_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: true, path: '/v1/oauth' });

    const consent = await browser.get(login.headers.location!);
    expect(consent.statusCode).toBe(200);
    expect(consent.body).toContain('<code>incidents:read</code>: Read incidents and their notes');
    expect(consent.body).not.toContain('webhooks:read');

    const approved = await browser.post('/v1/oauth/consent', { ...hiddenFields(consent.body), decision: 'approve' });
    expect(approved.statusCode).toBe(303);
    const callback = new URL(approved.headers.location!);
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT);
    expect(callback.searchParams.get('state')).toBe('xyz-state');
    expect(callback.searchParams.get('iss')).toBe(TEST_ISSUER);
    const code = callback.searchParams.get('code')!;
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const token = await tokenRequest(h, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, { id: app.client_id, secret: app.client_secret! });
    expect(token.statusCode).toBe(200);
    expect(token.headers['cache-control']).toBe('no-store');
    const tokens = token.json();
    expect(Object.keys(tokens).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'incidents:read' });
    const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({ client_id: app.client_id, tenant_id: acme.tenantId, scope: 'incidents:read', iss: TEST_ISSUER });
    expect(claims.sub).toMatch(/^usr_/);
    expect((await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(tokens.access_token) })).statusCode).toBe(200);

    // Refresh rotates the refresh token.
    const refreshed = await tokenRequest(h, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { id: app.client_id, secret: app.client_secret! });
    expect(refreshed.statusCode).toBe(200);
    const second = refreshed.json();
    expect(second.refresh_token).not.toBe(tokens.refresh_token);
    expect(second.scope).toBe('incidents:read');

    const basic = { id: app.client_id, secret: app.client_secret! };
    const introspect = async (t: string) =>
      (await h.request({
        method: 'POST',
        url: '/v1/oauth/introspect',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${basic.id}:${basic.secret}`).toString('base64')}` },
        payload: `token=${encodeURIComponent(t)}`,
      })).json();
    expect(await introspect(second.access_token)).toMatchObject({ active: true, client_id: app.client_id, scope: 'incidents:read', token_type: 'Bearer', tenant_id: acme.tenantId });
    expect(await introspect(second.refresh_token)).toMatchObject({ active: true, token_type: 'refresh_token' });
    expect(await introspect(tokens.refresh_token)).toEqual({ active: false }); // rotated away
    expect(await introspect('garbage')).toEqual({ active: false });

    // Revoking the refresh token ends the grant: its access tokens stop working too (RFC 7009 section 2.1).
    const revoke = await h.request({
      method: 'POST',
      url: '/v1/oauth/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${basic.id}:${basic.secret}`).toString('base64')}` },
      payload: new URLSearchParams({ token: second.refresh_token }).toString(),
    });
    expect(revoke.statusCode).toBe(200);
    expect(revoke.body).toBe('');
    expect(await introspect(second.refresh_token)).toEqual({ active: false });
    expect(await introspect(second.access_token)).toEqual({ active: false });
    const use = await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(second.access_token) });
    expect(use.statusCode).toBe(401);
  });

  it('narrows scope for one refresh only; an omitted scope means the scope originally granted (RFC 6749 section 6)', async () => {
    const browser = new Browser(h);
    const { verifier, challenge } = pkce();
    const callback = await loginAndConsent(
      browser,
      authorizeUrl({ response_type: 'code', client_id: app.client_id, redirect_uri: REDIRECT, scope: 'incidents:read webhooks:read', code_challenge: challenge, code_challenge_method: 'S256' }),
      'ada@acme.test',
      'a long enough password',
    );
    const basic = { id: app.client_id, secret: app.client_secret! };
    const first = (await tokenRequest(h, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, basic)).json();
    expect(first.scope).toBe('incidents:read webhooks:read');
    const narrow = (await tokenRequest(h, { grant_type: 'refresh_token', refresh_token: first.refresh_token, scope: 'incidents:read' }, basic)).json();
    expect(narrow.scope).toBe('incidents:read');
    const full = (await tokenRequest(h, { grant_type: 'refresh_token', refresh_token: narrow.refresh_token }, basic)).json();
    expect(full.scope).toBe('incidents:read webhooks:read');
  });

  it('remembers consent per user, app and scope set', async () => {
    const browser = new Browser(h);
    const first = pkce();
    const url = (challenge: string, scope: string) =>
      authorizeUrl({ response_type: 'code', client_id: app.client_id, redirect_uri: REDIRECT, scope, state: 's', code_challenge: challenge, code_challenge_method: 'S256' });
    await loginAndConsent(browser, url(first.challenge, 'incidents:read webhooks:read'), 'ada@acme.test', 'a long enough password');
    // Same scope set: straight back with a code, no pages.
    const again = await browser.get(url(pkce().challenge, 'webhooks:read incidents:read'));
    expect(again.statusCode).toBe(302);
    expect(new URL(again.headers.location!).searchParams.get('code')).toBeTruthy();
    // Another scope set: consent is asked again.
    const other = await browser.get(url(pkce().challenge, 'webhooks:read'));
    expect(other.statusCode).toBe(200);
    expect(other.body).toContain('<code>webhooks:read</code>');
  });

  it('sends the user back with access_denied when consent is denied', async () => {
    const browser = new Browser(h);
    // A scope set this user never approved, so the consent page is shown.
    const loginPage = await browser.get(authorizeUrl({ response_type: 'code', client_id: app.client_id, redirect_uri: REDIRECT, scope: 'webhooks:read', state: 'deny-me', code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    const login = await browser.post('/v1/oauth/login', { ...hiddenFields(loginPage.body), email: 'ada@acme.test', password: 'a long enough password' });
    expect(login.statusCode).toBe(303);
    const consent = await browser.get(login.headers.location!);
    expect(consent.statusCode).toBe(200);
    const denied = await browser.post('/v1/oauth/consent', { ...hiddenFields(consent.body), decision: 'deny' });
    const location = new URL(denied.headers.location!);
    expect(Object.fromEntries(location.searchParams)).toEqual({ error: 'access_denied', error_description: 'the user denied the request', state: 'deny-me', iss: TEST_ISSUER });
  });

  it('refuses a forged form (CSRF) and a request finished by another browser', async () => {
    const browser = new Browser(h);
    const loginPage = await browser.get(authorizeUrl({ response_type: 'code', client_id: app.client_id, redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    const fields = hiddenFields(loginPage.body);
    const forged = await browser.post('/v1/oauth/login', { ...fields, csrf_token: 'forged', email: 'ada@acme.test', password: 'a long enough password' });
    expect(forged.statusCode).toBe(403);
    expect(forged.body).toContain('The form could not be verified.');
    const elsewhere = await new Browser(h).post('/v1/oauth/login', { ...fields, email: 'ada@acme.test', password: 'a long enough password' });
    expect(elsewhere.statusCode).toBe(400);
    expect(elsewhere.body).toContain('This sign-in request has expired or is not valid.');
  });

  it('locks an account for a while after repeated wrong passwords', async () => {
    await createUser(h, acme, 'mallory-target@acme.test');
    const browser = new Browser(h);
    let page = await browser.get(authorizeUrl({ response_type: 'code', client_id: app.client_id, redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    for (let i = 0; i < 5; i++) {
      page = await browser.post('/v1/oauth/login', { ...hiddenFields(page.body), email: 'mallory-target@acme.test', password: `guess ${i}` });
      expect(page.statusCode).toBe(401);
    }
    const locked = await browser.post('/v1/oauth/login', { ...hiddenFields(page.body), email: 'mallory-target@acme.test', password: 'a long enough password' });
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
    expect(locked.body).toContain('Too many failed attempts.');
  });
});

describe('client credentials', () => {
  it('answers exactly {access_token, token_type, expires_in, scope}', async () => {
    // A client that sends its secret in the form (client_secret_post), as the contract's example does.
    const created = await h.registerApp(acme, { ...MACHINE_APP, requested_scopes: ['webhooks:write', 'incidents:read'], token_endpoint_auth_method: 'client_secret_post' });
    const inForm = { client_id: created.client_id, client_secret: created.client_secret! };
    const res = await tokenRequest(h, { grant_type: 'client_credentials', ...inForm, scope: 'webhooks:write' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'webhooks:write' });
    const all = await tokenRequest(h, { grant_type: 'client_credentials', ...inForm });
    expect(all.json().scope).toBe('webhooks:write incidents:read');

    const bad = await tokenRequest(h, { grant_type: 'client_credentials', client_id: created.client_id, client_secret: 'wrong' });
    expect(bad.statusCode).toBe(401);
    expect(bad.headers['www-authenticate']).toBe('Basic realm="tessera", charset="UTF-8"');
    expect(bad.headers['cache-control']).toBe('no-store');
    expect(bad.json()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
    const unknownGrant = await tokenRequest(h, { grant_type: 'password', username: 'x', password: 'y', ...inForm });
    expect(unknownGrant.json()).toEqual({ error: 'unsupported_grant_type', error_description: 'grant_type password is not supported' });
    const notRegistered = await tokenRequest(h, { grant_type: 'refresh_token', refresh_token: 'x', ...inForm });
    expect(notRegistered.json()).toEqual({ error: 'unauthorized_client', error_description: 'this client is not registered for the refresh_token grant' });
  });

  it('form-decodes Basic credentials (RFC 6749 section 2.3.1) and refuses ones that do not decode', async () => {
    const created = (await h.registerApp(acme, { ...MACHINE_APP, name: 'Encoded credentials connector', requested_scopes: ['incidents:read'] })) as { client_id: string; client_secret: string };
    const basicHeader = (id: string, secret: string) => ({
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
    });
    const percentEncoded = (s: string) => [...s].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    const send = (headers: Record<string, string>) => h.request({ method: 'POST', url: '/v1/oauth/token', headers, payload: 'grant_type=client_credentials' });

    // Every character escaped: the same client and secret once decoded.
    const encoded = await send(basicHeader(percentEncoded(created.client_id), percentEncoded(created.client_secret)));
    expect(encoded.statusCode).toBe(200);
    // '+' is a space once decoded, so it is not the secret.
    const plus = await send(basicHeader(created.client_id, `${created.client_secret}+`));
    expect(plus.statusCode).toBe(401);
    const broken = await send(basicHeader(created.client_id, `${created.client_secret}%E0%A4%A`));
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toEqual({ error: 'invalid_request', error_description: 'malformed Basic credentials' });
  });
});

describe('discovery', () => {
  it('publishes one document, RFC 8414 and OpenID Connect Discovery 1.0 metadata, at both well-known paths', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const res = await h.request({ method: 'GET', url: path });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        issuer: TEST_ISSUER,
        authorization_endpoint: `${TEST_ISSUER}/v1/oauth/authorize`,
        token_endpoint: `${TEST_ISSUER}/v1/oauth/token`,
        userinfo_endpoint: `${TEST_ISSUER}/v1/oauth/userinfo`,
        jwks_uri: `${TEST_ISSUER}/.well-known/jwks.json`,
        end_session_endpoint: `${TEST_ISSUER}/v1/oauth/logout`,
        revocation_endpoint: `${TEST_ISSUER}/v1/oauth/revoke`,
        introspection_endpoint: `${TEST_ISSUER}/v1/oauth/introspect`,
        scopes_supported: ['email', 'incidents:read', 'incidents:write', 'openid', 'profile', 'webhooks:read', 'webhooks:write'],
        response_types_supported: ['code'],
        response_modes_supported: ['query'],
        grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
        revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
        introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
        code_challenge_methods_supported: ['S256'],
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'at_hash', 'acr', 'amr', 'sid', 'preferred_username', 'roles', 'email', 'email_verified'],
        claim_types_supported: ['normal'],
        acr_values_supported: ['urn:tessera:acr:pwd', 'urn:tessera:acr:mfa', 'urn:tessera:acr:fed'],
        prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
        claims_parameter_supported: false,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
        authorization_response_iss_parameter_supported: true,
        service_documentation: `${TEST_ISSUER}/api/docs`,
      });
    }
  });
});
