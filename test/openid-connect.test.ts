// OpenID Connect, as a relying party sees it: openid-client (v6, with its default validation) against a Tessera
// listening on 127.0.0.1, through the hosted pages over real HTTP: discovery, authorization code + PKCE + nonce, the
// ID token (nonce, at_hash, auth_time, acr, amr, sid, the user's claims), UserInfo, refresh with a new ID token, and
// RP-initiated logout. Then prompt and max_age on the harness, whose clock the test moves, and the registration of
// post-logout redirect URIs.
import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, MACHINE_APP, startHarness, TEST_ISSUER, type Harness, type TenantFixture } from './helpers/harness.js';
import { FetchBrowser, startListeningTessera, type ListeningTessera } from './helpers/listening.js';
import { authorizeUrl, Browser, createUser, hiddenFields, pkce, registerCodeApp, tokenRequest, type CodeApp } from './helpers/oauth.js';

// Never contacted: the tests read each redirect's Location instead of following it.
const REDIRECT = 'http://127.0.0.1/rp/callback';
const POST_LOGOUT = 'http://127.0.0.1/rp/signed-out';
const EMAIL = 'grace@acme.test';
const PASSWORD = 'a long enough password';
const OIDC_SCOPES = 'openid profile email incidents:read';

let h: Harness;
let server: ListeningTessera;
let acme: TenantFixture;
let rpApp: CodeApp;
let otherApp: CodeApp;
let rp: client.Configuration;
let userId: string;

/** openid-client's one relaxation here: the test server is plain http on loopback. */
const insecure = { execute: [client.allowInsecureRequests] };

beforeAll(async () => {
  h = await startHarness();
  server = await startListeningTessera(h);
  acme = await h.tenant('acme');
  const oidcApp = {
    name: 'Relying party',
    redirect_uris: [REDIRECT],
    post_logout_redirect_uris: [POST_LOGOUT],
    requested_scopes: ['openid', 'profile', 'email', 'incidents:read'],
  };
  rpApp = await registerCodeApp(h, acme, oidcApp);
  otherApp = await registerCodeApp(h, acme, { ...oidcApp, name: 'Another app' });
  await createUser(h, acme, EMAIL, PASSWORD);
  userId = (await h.runtime.orm.em.fork().getConnection().execute('select id from users where email = ?', [EMAIL]))[0]?.id;
  rp = await client.discovery(new URL(server.url), rpApp.client_id, rpApp.client_secret, client.ClientSecretBasic(rpApp.client_secret!), insecure);
});
afterAll(async () => {
  await server?.close();
  await h?.close();
});

/** The hosted pages as a browser without JavaScript uses them: sign in (and consent when asked); the final redirect. */
async function signIn(browser: FetchBrowser, authorize: URL): Promise<URL> {
  const loginPage = await browser.get(authorize.href);
  expect(loginPage.status, 'the sign-in page').toBe(200);
  const login = await browser.post('/v1/oauth/login', { ...hiddenFields(await loginPage.text()), email: EMAIL, password: PASSWORD });
  expect(login.status).toBe(303);
  let location = login.headers.get('location')!;
  if (location.startsWith('/v1/oauth/consent')) {
    const consentPage = await browser.get(location);
    expect(consentPage.status).toBe(200);
    const approved = await browser.post('/v1/oauth/consent', { ...hiddenFields(await consentPage.text()), decision: 'approve' });
    expect(approved.status).toBe(303);
    location = approved.headers.get('location')!;
  }
  return new URL(location);
}

/** An authorization request of the relying party, with the values it must check the answer against. */
async function authorization(extra: Record<string, string> = {}) {
  const checks = { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedNonce: client.randomNonce(), expectedState: client.randomState() };
  const url = client.buildAuthorizationUrl(rp, {
    redirect_uri: REDIRECT,
    scope: OIDC_SCOPES,
    code_challenge: await client.calculatePKCECodeChallenge(checks.pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    ...extra,
  });
  return { url, checks };
}

/** OIDC Core section 3.1.3.6: base64url of the left half of SHA-256 of the access token. */
const atHash = (accessToken: string) => createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');

/** prompt=none from `browser`: the authorization response it gets at once. */
async function silentAuthorization(browser: FetchBrowser) {
  const { url, checks } = await authorization({ prompt: 'none' });
  const response = await browser.get(url.href);
  expect(response.status).toBe(302);
  return { callback: new URL(response.headers.get('location')!), checks };
}

describe('openid-client as the relying party', () => {
  it('discovers the provider: OpenID Connect Discovery 1.0 metadata naming the real endpoints', () => {
    const metadata = rp.serverMetadata();
    expect(metadata).toMatchObject({
      issuer: server.url,
      authorization_endpoint: `${server.url}/v1/oauth/authorize`,
      token_endpoint: `${server.url}/v1/oauth/token`,
      userinfo_endpoint: `${server.url}/v1/oauth/userinfo`,
      jwks_uri: `${server.url}/.well-known/jwks.json`,
      end_session_endpoint: `${server.url}/v1/oauth/logout`,
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
      claims_parameter_supported: false,
      request_parameter_supported: false,
      request_uri_parameter_supported: false,
      authorization_response_iss_parameter_supported: true,
    });
    expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email']));
    expect(metadata.supportsPKCE()).toBe(true);
  });

  it('documents UserInfo and logout in the public OpenAPI document', async () => {
    const doc = (await h.request({ method: 'GET', url: '/api/docs' })).json();
    expect(Object.keys(doc.paths['/v1/oauth/userinfo']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/v1/oauth/logout']).sort()).toEqual(['get', 'post']);
  });

  it('signs in with code + PKCE + nonce, validates the ID token, reads UserInfo, refreshes, and logs out', async () => {
    const browser = new FetchBrowser(server.url);
    const { url, checks } = await authorization();
    const before = Math.floor(Date.now() / 1000);
    const callback = await signIn(browser, url);
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT);

    // openid-client checks state, iss (RFC 9207), the ID token's signature, iss, aud, exp, iat and nonce.
    const tokens = await client.authorizationCodeGrant(rp, callback, checks);
    expect(Object.keys(tokens).sort()).toEqual(['access_token', 'expires_in', 'id_token', 'refresh_token', 'scope', 'token_type']);
    expect(tokens.scope).toBe(OIDC_SCOPES);
    const claims = tokens.claims()!;
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    const header = decodeProtectedHeader(tokens.id_token!);
    expect(header).toEqual({ alg: 'RS256', kid: expect.any(String), typ: 'JWT' });
    expect(jwks.keys.map((k) => k.kid)).toContain(header.kid);
    expect(claims).toEqual({
      iss: server.url,
      sub: userId,
      aud: rpApp.client_id,
      exp: claims.iat + 3600,
      iat: expect.any(Number),
      auth_time: expect.any(Number),
      nonce: checks.expectedNonce,
      at_hash: atHash(tokens.access_token),
      acr: 'urn:tessera:acr:pwd',
      amr: ['pwd'],
      sid: expect.stringMatching(/^[0-9a-f]{64}$/),
      preferred_username: EMAIL,
      roles: ['member'],
      email: EMAIL,
      email_verified: false,
    });
    expect(claims.auth_time).toBeGreaterThanOrEqual(before);
    expect(claims.auth_time).toBeLessThanOrEqual(claims.iat);
    // sid is the login session's: the SHA-256 of this browser's session cookie.
    expect(claims.sid).toBe(createHash('sha256').update(browser.cookies.get('tessera_session')!).digest('hex'));

    // UserInfo (OIDC Core section 5.3): sub and the claims of the granted scopes, never cached.
    const userInfo = await client.fetchUserInfo(rp, tokens.access_token, claims.sub);
    expect(userInfo).toEqual({ sub: userId, preferred_username: EMAIL, roles: ['member'], email: EMAIL, email_verified: false });
    for (const init of [
      { method: 'GET', headers: { authorization: `Bearer ${tokens.access_token}` } } as RequestInit,
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ access_token: tokens.access_token }).toString() },
    ]) {
      const raw = await fetch(`${server.url}/v1/oauth/userinfo`, init);
      expect(raw.status, init.method).toBe(200);
      expect(raw.headers.get('cache-control'), init.method).toBe('no-store');
      expect(await raw.json(), init.method).toEqual(userInfo);
    }

    // Refresh (OIDC Core section 12.2): a new ID token for the same sign-in, bound to the new access token, no nonce.
    const refreshed = await client.refreshTokenGrant(rp, tokens.refresh_token!);
    const again = refreshed.claims()!;
    expect(refreshed.id_token).not.toBe(tokens.id_token);
    expect(again).toEqual({ ...claims, nonce: undefined, iat: again.iat, exp: again.iat + 3600, at_hash: atHash(refreshed.access_token) });
    expect(again).not.toHaveProperty('nonce');
    expect(again.auth_time).toBe(claims.auth_time);

    // RP-initiated logout with the ID token as the hint: the session ends at once and the user goes back, with state.
    const logoutUrl = client.buildEndSessionUrl(rp, { id_token_hint: refreshed.id_token!, post_logout_redirect_uri: POST_LOGOUT, state: 'bye' });
    expect(`${logoutUrl.origin}${logoutUrl.pathname}`).toBe(`${server.url}/v1/oauth/logout`);
    const logout = await browser.get(logoutUrl.href);
    expect(logout.status).toBe(302);
    expect(logout.headers.get('location')).toBe(`${POST_LOGOUT}?state=bye`);
    expect(browser.setCookies.at(-1)).toMatch(/^tessera_session=; Max-Age=0; Path=\/v1\/oauth; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/);
    expect(browser.cookies.has('tessera_session')).toBe(false);

    // The session is gone, not only its cookie: the next silent request answers login_required, with state and iss.
    const { callback: silent, checks: silentChecks } = await silentAuthorization(browser);
    expect(Object.fromEntries(silent.searchParams)).toEqual({ error: 'login_required', error_description: 'the user is not signed in', state: silentChecks.expectedState, iss: server.url });
    await expect(client.authorizationCodeGrant(rp, silent, silentChecks)).rejects.toMatchObject({ name: 'AuthorizationResponseError', error: 'login_required' });
    expect(await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from oauth_login_sessions where id = ?', [claims.sid])).toEqual([{ n: 0 }]);
  });

  it('signs out without redirecting when post_logout_redirect_uri is not registered', async () => {
    const browser = new FetchBrowser(server.url);
    const { url, checks } = await authorization();
    const tokens = await client.authorizationCodeGrant(rp, await signIn(browser, url), checks);
    for (const unregistered of ['https://attacker.example/landing', `${POST_LOGOUT}/`, `${POST_LOGOUT}?next=x`]) {
      const logout = await browser.get(client.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: unregistered, state: 's' }).href);
      expect(logout.status, unregistered).toBe(200);
      expect(logout.headers.get('location'), unregistered).toBeNull();
      expect(logout.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
      const html = await logout.text();
      expect(html).toContain('<h1>You are signed out</h1>');
      expect(html).toContain('Relying party asked to be sent back to an address it has not registered, so you stay on this page.');
      expect(html).not.toContain(unregistered.replace(/&/g, '&amp;'));
    }
    const { callback } = await silentAuthorization(browser);
    expect(callback.searchParams.get('error')).toBe('login_required');
  });

  it('asks the user to confirm a logout that no ID token vouches for, with a form bound to the browser', async () => {
    const browser = new FetchBrowser(server.url);
    const { url, checks } = await authorization();
    await client.authorizationCodeGrant(rp, await signIn(browser, url), checks);

    const request = await browser.get(client.buildEndSessionUrl(rp, { post_logout_redirect_uri: POST_LOGOUT, state: 'a&b' }).href);
    expect(request.status).toBe(200);
    const page = await request.text();
    expect(page).toContain('<h1>Sign out of Tessera?</h1>');
    expect(page).toContain('Relying party asks to sign you out of Tessera.');
    const fields = hiddenFields(page);
    expect(Object.keys(fields)).toEqual(['client_id', 'post_logout_redirect_uri', 'state', 'csrf_token']);
    expect(fields).toMatchObject({ client_id: rpApp.client_id, post_logout_redirect_uri: POST_LOGOUT, state: 'a&b' });
    // Nothing ended yet: a silent request still gets a code.
    expect((await silentAuthorization(browser)).callback.searchParams.get('code')).toMatch(/^[\w-]{43}$/);

    // A forged form (another token, or another browser's) changes nothing.
    const forged = await browser.post('/v1/oauth/logout', { ...fields, csrf_token: 'x'.repeat(43) });
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('The form could not be verified.');
    const elsewhere = await new FetchBrowser(server.url).post('/v1/oauth/logout', fields);
    expect(elsewhere.status).toBe(403);
    expect((await silentAuthorization(browser)).callback.searchParams.get('code')).toMatch(/^[\w-]{43}$/);

    const confirmed = await browser.post('/v1/oauth/logout', { ...fields, decision: 'logout' });
    expect(confirmed.status).toBe(303);
    expect(confirmed.headers.get('location')).toBe(`${POST_LOGOUT}?state=a%26b`);
    expect((await silentAuthorization(browser)).callback.searchParams.get('error')).toBe('login_required');
  });

  it('refuses an id_token_hint that is not ours, or not the client\'s, with a page, and keeps the session', async () => {
    const browser = new FetchBrowser(server.url);
    const { url, checks } = await authorization();
    const tokens = await client.authorizationCodeGrant(rp, await signIn(browser, url), checks);
    const [header, payload, signature] = tokens.id_token!.split('.');
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...tokens.claims(), sub: 'usr_someone_else' })).toString('base64url')}.${signature}`;
    const cases: Array<[Record<string, string>, string]> = [
      [{ id_token_hint: tokens.id_token!, client_id: otherApp.client_id, post_logout_redirect_uri: POST_LOGOUT }, 'id_token_hint was issued to another application than client_id names'],
      [{ id_token_hint: tampered, post_logout_redirect_uri: POST_LOGOUT }, 'id_token_hint is not an ID token signed by this server'],
      [{ id_token_hint: `${header}.${payload}`, post_logout_redirect_uri: POST_LOGOUT }, 'id_token_hint is not an ID token signed by this server'],
      [{ id_token_hint: tokens.access_token, post_logout_redirect_uri: POST_LOGOUT }, 'id_token_hint is not an ID token'],
      [{ client_id: 'app_unknown', post_logout_redirect_uri: POST_LOGOUT }, 'The application that sent you here is not registered.'],
    ];
    for (const [params, message] of cases) {
      const res = await browser.get(`/v1/oauth/logout?${new URLSearchParams(params)}`);
      expect(res.status, message).toBe(400);
      expect(res.headers.get('location'), message).toBeNull();
      expect(await res.text(), message).toContain(`<div class="error" role="alert" id="form-error">${message}</div>`);
    }
    expect((await silentAuthorization(browser)).callback.searchParams.get('code')).toMatch(/^[\w-]{43}$/);
  });

  it('issues no ID token for client credentials, and refuses the OpenID Connect scopes there', async () => {
    const machine = await h.registerApp(acme, { ...MACHINE_APP, requested_scopes: ['openid', 'webhooks:write'] });
    const machineRp = await client.discovery(new URL(server.url), machine.client_id, machine.client_secret, client.ClientSecretBasic(machine.client_secret!), insecure);
    const tokens = await client.clientCredentialsGrant(machineRp);
    expect(tokens.scope).toBe('webhooks:write');
    expect(tokens.id_token).toBeUndefined();
    expect(tokens.claims()).toBeUndefined();
    await expect(client.clientCredentialsGrant(machineRp, { scope: 'openid webhooks:write' })).rejects.toMatchObject({
      error: 'invalid_scope',
      error_description: 'scope openid is about a signed-in user, and client_credentials signs no user in: use the authorization code grant',
    });
    // Nor a service token: it stands for the app, not for a user.
    await h.request({ method: 'PATCH', url: `/v1/platform/apps/${machine.client_id}/governance`, headers: bearer(acme.adminToken), payload: { allow_service_tokens: true } });
    const minted = await h.request({ method: 'POST', url: `/v1/platform/apps/${machine.client_id}/service-token`, headers: bearer(acme.adminToken), payload: { scopes: ['openid'] } });
    expect(minted.statusCode).toBe(400);
    expect(minted.json()).toEqual({ error: 'invalid_scope', error_description: 'body.scopes names scopes about a signed-in user, which a service token has none of: openid' });
  });

  it('answers UserInfo only for a token that carries openid (403 insufficient_scope), and 401 without a valid one', async () => {
    const browser = new FetchBrowser(server.url);
    const { url, checks } = await authorization({ scope: 'incidents:read' });
    // A plain OAuth request (no openid): no ID token, even though a nonce was sent, so the client expects none.
    const tokens = await client.authorizationCodeGrant(rp, await signIn(browser, url), { pkceCodeVerifier: checks.pkceCodeVerifier, expectedState: checks.expectedState });
    expect(tokens.id_token).toBeUndefined();
    const refused = await client.fetchUserInfo(rp, tokens.access_token, client.skipSubjectCheck).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    const challenge = refused as client.WWWAuthenticateChallengeError;
    expect(challenge.status).toBe(403);
    expect(challenge.cause).toEqual([{ scheme: 'bearer', parameters: { error: 'insufficient_scope', scope: 'openid' } }]);
    expect(await challenge.response.json()).toEqual({ error: 'forbidden', error_description: 'this action needs the scope openid' });

    const anonymous = await fetch(`${server.url}/v1/oauth/userinfo`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect(anonymous.headers.get('cache-control')).toBe('no-store');
    const forged = await fetch(`${server.url}/v1/oauth/userinfo`, { headers: { authorization: 'Bearer a.b.c' } });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    const both = await fetch(`${server.url}/v1/oauth/userinfo`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: tokens.access_token }).toString(),
    });
    expect(both.status).toBe(401);
    expect(await both.json()).toEqual({ error: 'unauthorized', error_description: 'send the access token in the Authorization header or in the body, not both' });
  });
});

// ------------------------------------------------------------------------------------------------ prompt and max_age

describe('prompt and max_age (OIDC Core section 3.1.2.1), on a clock the test moves', () => {
  const HARNESS_REDIRECT = 'https://integrator.example/callback';
  let app: CodeApp;
  let jwks: ReturnType<typeof createLocalJWKSet>;

  beforeAll(async () => {
    app = await registerCodeApp(h, acme, { name: 'Prompted', requested_scopes: ['openid', 'email', 'incidents:read', 'webhooks:read'] });
    jwks = createLocalJWKSet((await h.request({ method: 'GET', url: '/.well-known/jwks.json' })).json());
  });

  const request = (params: Record<string, string> = {}) => {
    const { verifier, challenge } = pkce();
    const url = authorizeUrl({ response_type: 'code', client_id: app.client_id, redirect_uri: HARNESS_REDIRECT, scope: 'openid incidents:read', state: 'st', nonce: 'n-1', code_challenge: challenge, code_challenge_method: 'S256', ...params });
    return { url, verifier };
  };

  /** Signs in on the page `response` shows, consents if asked; the redirect's query. */
  async function completeSignIn(browser: Browser, page: { body: string }): Promise<URLSearchParams> {
    const login = await browser.post('/v1/oauth/login', { ...hiddenFields(page.body), email: EMAIL, password: PASSWORD });
    expect(login.statusCode).toBe(303);
    let location = login.headers.location!;
    if (location.startsWith('/v1/oauth/consent')) {
      const consent = await browser.get(location);
      location = (await browser.post('/v1/oauth/consent', { ...hiddenFields(consent.body), decision: 'approve' })).headers.location!;
    }
    return new URL(location).searchParams;
  }

  /** The ID token's claims, verified against the JWKS at the harness's time. */
  async function idTokenOf(code: string, verifier: string) {
    const res = await tokenRequest(h, { grant_type: 'authorization_code', code, redirect_uri: HARNESS_REDIRECT, code_verifier: verifier }, { id: app.client_id, secret: app.client_secret! });
    expect(res.statusCode, res.body).toBe(200);
    const { payload } = await jwtVerify(res.json().id_token, jwks, { issuer: TEST_ISSUER, audience: app.client_id, currentDate: new Date(h.clock.now()), typ: 'JWT' });
    return payload;
  }

  const nowSeconds = () => Math.floor(h.clock.now() / 1000);

  const redirectQuery = (res: { statusCode: number; headers: Record<string, unknown> }) => {
    expect(res.statusCode).toBe(302);
    return Object.fromEntries(new URL(res.headers.location as string).searchParams);
  };

  it('prompt=none answers login_required without a session, consent_required without a remembered consent, and a code otherwise', async () => {
    const browser = new Browser(h);
    expect(redirectQuery(await browser.get(request({ prompt: 'none' }).url))).toEqual({ error: 'login_required', error_description: 'the user is not signed in', state: 'st', iss: TEST_ISSUER });

    const first = request();
    const params = await completeSignIn(browser, await browser.get(first.url));
    expect(params.get('code')).toBeTruthy();

    // Another scope set was never allowed: consent would be asked.
    expect(redirectQuery(await browser.get(request({ prompt: 'none', scope: 'openid incidents:read webhooks:read' }).url))).toEqual({
      error: 'consent_required',
      error_description: 'the user has not allowed this application these scopes',
      state: 'st',
      iss: TEST_ISSUER,
    });
    const silent = request({ prompt: 'none' });
    const answer = redirectQuery(await browser.get(silent.url));
    expect(Object.keys(answer).sort()).toEqual(['code', 'iss', 'state']);
    expect(await idTokenOf(answer.code!, silent.verifier)).toMatchObject({ nonce: 'n-1', amr: ['pwd'], acr: 'urn:tessera:acr:pwd' });
  });

  it('prompt=consent shows the consent page even when the consent is remembered', async () => {
    const browser = new Browser(h);
    await completeSignIn(browser, await browser.get(request().url));
    const page = await browser.get(request({ prompt: 'consent' }).url);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h1>Allow Prompted to access your account?</h1>');
    expect(page.body).toContain('<code>openid</code>: Sign you in with your Tessera account and know who you are');
    const approved = await browser.post('/v1/oauth/consent', { ...hiddenFields(page.body), decision: 'approve' });
    expect(new URL(approved.headers.location!).searchParams.get('code')).toBeTruthy();
  });

  it('prompt=login signs the user in again: a new session, whose time is the new auth_time', async () => {
    const browser = new Browser(h);
    const first = request();
    const firstAnswer = await completeSignIn(browser, await browser.get(first.url));
    const firstToken = await idTokenOf(firstAnswer.get('code')!, first.verifier);
    const firstSession = browser.cookies.get('tessera_session');
    await h.clock.advance(120_000);

    const again = request({ prompt: 'login' });
    const page = await browser.get(again.url);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h1>Sign in to continue to Prompted</h1>');
    // The consent form cannot skip the sign-in asked for.
    const skipped = await browser.post('/v1/oauth/consent', { ...hiddenFields(page.body), decision: 'approve' });
    expect(skipped.statusCode).toBe(200);
    expect(skipped.body).toContain('<h1>Sign in to continue to Prompted</h1>');

    const signingIn = nowSeconds();
    const answer = await completeSignIn(browser, page);
    expect(browser.cookies.get('tessera_session')).not.toBe(firstSession);
    const token = await idTokenOf(answer.get('code')!, again.verifier);
    expect(token.auth_time).toBeGreaterThanOrEqual(signingIn);
    expect(token.auth_time).toBeLessThanOrEqual(nowSeconds());
    expect((token.auth_time as number) - (firstToken.auth_time as number)).toBeGreaterThanOrEqual(120);
    expect(token.sid).not.toBe(firstToken.sid);
  });

  it('max_age older than the sign-in asks for it again; a recent enough one goes straight to the code, with auth_time', async () => {
    const browser = new Browser(h);
    const first = request();
    const firstAnswer = await completeSignIn(browser, await browser.get(first.url));
    const signedInAt = (await idTokenOf(firstAnswer.get('code')!, first.verifier)).auth_time;
    await h.clock.advance(60_000);

    const recent = request({ max_age: '300' });
    const straight = redirectQuery(await browser.get(recent.url));
    expect((await idTokenOf(straight.code!, recent.verifier)).auth_time).toBe(signedInAt);

    expect(redirectQuery(await browser.get(request({ max_age: '30', prompt: 'none' }).url))).toMatchObject({ error: 'login_required', error_description: 'the user must sign in again (max_age)' });
    const stale = request({ max_age: '30' });
    const page = await browser.get(stale.url);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h1>Sign in to continue to Prompted</h1>');
    const signingIn = nowSeconds();
    const answer = await completeSignIn(browser, page);
    const authTime = (await idTokenOf(answer.get('code')!, stale.verifier)).auth_time as number;
    expect(authTime).toBeGreaterThanOrEqual(signingIn);
    expect(authTime).toBeGreaterThanOrEqual((signedInAt as number) + 60);
  });

  it('refuses prompt and max_age values it does not know, at the redirect URI', async () => {
    const browser = new Browser(h);
    for (const [params, description] of [
      [{ prompt: 'sometimes' }, 'prompt value sometimes is not supported: use none, login, consent, select_account'],
      [{ prompt: 'none login' }, 'prompt=none must not be combined with other prompt values'],
      [{ max_age: '-1' }, 'max_age must be a whole number of seconds, 0 or more'],
      [{ max_age: 'soon' }, 'max_age must be a whole number of seconds, 0 or more'],
      [{ nonce: 'n'.repeat(513) }, 'nonce must be at most 512 characters'],
      [{ response_mode: 'form_post' }, 'response_mode must be query, the only response mode supported'],
    ] as const) {
      expect(redirectQuery(await browser.get(request(params).url)), description).toEqual({ error: 'invalid_request', error_description: description, state: 'st', iss: TEST_ISSUER });
    }
    expect(redirectQuery(await browser.get(request({ request: 'eyJ.x.y' }).url))).toMatchObject({ error: 'request_not_supported' });
    expect(redirectQuery(await browser.get(request({ request_uri: 'urn:x' }).url))).toMatchObject({ error: 'request_uri_not_supported' });
  });

  it('accepts an expired id_token_hint at logout (RP-Initiated Logout 1.0 section 2)', async () => {
    const browser = new Browser(h);
    const first = request();
    const answer = await completeSignIn(browser, await browser.get(first.url));
    const res = await tokenRequest(h, { grant_type: 'authorization_code', code: answer.get('code')!, redirect_uri: HARNESS_REDIRECT, code_verifier: first.verifier }, { id: app.client_id, secret: app.client_secret! });
    const idToken = res.json().id_token as string;
    expect(decodeJwt(idToken).exp! - decodeJwt(idToken).iat!).toBe(3600);
    await h.clock.advance(2 * 3600_000);
    const logout = await browser.get(`/v1/oauth/logout?${new URLSearchParams({ id_token_hint: idToken })}`);
    expect(logout.statusCode).toBe(200);
    expect(logout.body).toContain('<h1>You are signed out</h1>');
    expect(redirectQuery(await browser.get(request({ prompt: 'none' }).url))).toMatchObject({ error: 'login_required' });
  });
});

// ------------------------------------------------------------------------------------------------ scopes per tenant

describe('the OpenID Connect scopes in the catalog', () => {
  it('are published scopes like any other: an operator may withhold them from a tenant, whose apps then cannot get them', async () => {
    const globex = await h.tenant('globex');
    const app = await registerCodeApp(h, globex, { name: 'Globex portal', requested_scopes: ['openid', 'email', 'incidents:read'] });
    const narrowed = await h.request({ method: 'PUT', url: `/api/v1/platform/tenants/${globex.tenantId}/scopes`, headers: bearer(await h.operatorToken()), payload: { scopes: ['incidents:read'] } });
    expect(narrowed.statusCode).toBe(200);
    const { challenge } = pkce();
    const res = await new Browser(h).get(
      authorizeUrl({ response_type: 'code', client_id: app.client_id, redirect_uri: 'https://integrator.example/callback', scope: 'openid incidents:read', state: 'g', code_challenge: challenge, code_challenge_method: 'S256' }),
    );
    expect(res.statusCode).toBe(302);
    expect(Object.fromEntries(new URL(res.headers.location!).searchParams)).toEqual({ error: 'invalid_scope', error_description: 'scope not approved for this client: openid', state: 'g', iss: TEST_ISSUER });
  });
});

// ------------------------------------------------------------------------------------------------ registration

describe('post_logout_redirect_uris', () => {
  it('is set at registration and by PATCH, checked like redirect URIs, and shown in the app view', async () => {
    const admin = bearer(acme.adminToken);
    expect(rpApp.post_logout_redirect_uris).toEqual([POST_LOGOUT]);
    const app = await registerCodeApp(h, acme, { name: 'Patched' });
    expect(app.post_logout_redirect_uris).toEqual([]);
    const patch = (payload: object) => h.request({ method: 'PATCH', url: `/v1/platform/apps/${app.client_id}`, headers: admin, payload });
    for (const [value, description] of [
      [['https://integrator.example/bye#top'], 'body.post_logout_redirect_uris[0] must not contain a fragment'],
      [['http://integrator.example/bye'], 'body.post_logout_redirect_uris[0] must use https (http is allowed only for loopback hosts)'],
      [['https://integrator.example/bye', 'https://*.example/bye'], 'body.post_logout_redirect_uris[1] must not contain *: a redirect URI is compared exactly, never as a pattern'],
      [['/relative'], 'body.post_logout_redirect_uris[0] must be an absolute URI'],
      ['https://integrator.example/bye', 'body.post_logout_redirect_uris must be array'],
    ] as const) {
      const res = await patch({ post_logout_redirect_uris: value });
      expect(res.statusCode, description).toBe(400);
      expect(res.json(), description).toEqual({ error: 'invalid_request', error_description: description });
    }
    const changed = await patch({ post_logout_redirect_uris: ['https://integrator.example/bye'] });
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toMatchObject({ client_id: app.client_id, post_logout_redirect_uris: ['https://integrator.example/bye'] });
    const shown = await h.request({ method: 'GET', url: `/v1/platform/apps/${app.client_id}`, headers: admin });
    expect(shown.json().post_logout_redirect_uris).toEqual(['https://integrator.example/bye']);
    const audit = await h.request({ method: 'GET', url: `/v1/platform/audit-events?action=app.updated&target_id=${app.client_id}`, headers: admin });
    expect(audit.json().events[0].details).toEqual({ post_logout_redirect_uris: { before: [], after: ['https://integrator.example/bye'] } });

    const machine = await h.request({ method: 'POST', url: '/v1/platform/apps', headers: admin, payload: { ...MACHINE_APP, post_logout_redirect_uris: ['https://integrator.example/bye'] } });
    expect(machine.statusCode).toBe(400);
    expect(machine.json()).toEqual({ error: 'invalid_request', error_description: 'body.post_logout_redirect_uris is only used by apps that sign users in (the authorization_code grant)' });
  });
});
