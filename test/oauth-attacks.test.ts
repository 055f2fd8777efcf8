// The attacks of RFC 9700 (OAuth 2.0 Security Best Current Practice) that apply to Tessera, one test each,
// every one asserting the exact refusal: the token endpoint's status and `{error, error_description}` body
// (never cached), and at the authorization endpoint either an error page without any redirect (the client or
// redirect URI cannot be trusted, RFC 6749 section 4.1.2.1, RFC 9700 section 4.11.2) or a 302 to the
// registered redirect URI carrying exactly `error`, `error_description`, `state` and `iss` (RFC 9207).
import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, TEST_ISSUER, type Harness, type TenantFixture } from './helpers/harness.js';
import { authorizeUrl, Browser, createUser, hiddenFields, pkce, registerCodeApp, tokenRequest, type CodeApp } from './helpers/oauth.js';

const REDIRECT = 'https://integrator.example/callback';
const OTHER_REDIRECT = 'https://integrator.example/other-callback';
const PASSWORD = 'a long enough password';
const BASIC_CHALLENGE = 'Basic realm="tessera", charset="UTF-8"';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;
/** Confidential, authorization_code + refresh_token, approved for incidents:read and webhooks:read. */
let app: CodeApp;
/** Another confidential app of the same tenant, same grants. */
let sibling: CodeApp;
/** A confidential app of another tenant. */
let foreign: CodeApp;
/** A public client (token_endpoint_auth_method none). */
let publicApp: CodeApp;
/** A confidential client_credentials app approved for incidents:read only. */
let machine: CodeApp;

interface Session {
  browser: Browser;
  email: string;
}
let ada: Session;

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  app = await registerCodeApp(h, acme);
  sibling = await registerCodeApp(h, acme, { name: 'Sibling app' });
  foreign = await registerCodeApp(h, globex, { name: 'Globex app' });
  publicApp = await registerCodeApp(h, acme, { name: 'Mobile app', token_endpoint_auth_method: 'none' });
  machine = await registerApp(acme, { name: 'Case sync', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] });
  await createUser(h, acme, 'ada@acme.test', PASSWORD);
  ada = { browser: new Browser(h), email: 'ada@acme.test' };
});
afterAll(() => h?.close());

// ------------------------------------------------------------------------------------------------ helpers

const registerApp = (tenant: TenantFixture, payload: object): Promise<CodeApp> => h.registerApp(tenant, payload);

const basicOf = (client: CodeApp) => ({ id: client.client_id, secret: client.client_secret! });

function authorizeParams(clientId: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'incidents:read', state: 'st-123', ...extra };
}

/** GET /v1/oauth/authorize without any cookie: enough for every refusal, which comes before login. */
function authorize(params: Record<string, string | undefined>): Promise<LightMyRequestResponse> {
  return h.request({ method: 'GET', url: authorizeUrl(params) });
}

/** Drives login and consent as needed and returns the final redirect to the client. */
async function authorizeAs(session: Session, params: Record<string, string | undefined>): Promise<URL> {
  let res = await session.browser.get(authorizeUrl(params));
  if (res.statusCode === 200 && res.body.includes('action="/v1/oauth/login"')) {
    res = await session.browser.post('/v1/oauth/login', { ...hiddenFields(res.body), email: session.email, password: PASSWORD });
    // RFC 9700 section 4.12: after the credentials form, a 303, never a 307 that would re-post the password.
    expect(res.statusCode, res.body).toBe(303);
    if (res.headers.location!.startsWith('/v1/oauth/consent')) res = await session.browser.get(res.headers.location!);
  }
  if (res.statusCode === 200 && res.body.includes('action="/v1/oauth/consent"')) {
    res = await session.browser.post('/v1/oauth/consent', { ...hiddenFields(res.body), decision: 'approve' });
    expect(res.statusCode, res.body).toBe(303);
  }
  expect([302, 303], res.body).toContain(res.statusCode);
  return new URL(res.headers.location!);
}

/** A fresh authorization code for `clientId`, with PKCE S256 unless `withPkce` is false. */
async function issueCode(
  clientId: string,
  options: { scope?: string; redirectUri?: string; withPkce?: boolean } = {},
): Promise<{ code: string; verifier?: string }> {
  const { verifier, challenge } = pkce();
  const withPkce = options.withPkce ?? true;
  const callback = await authorizeAs(
    ada,
    authorizeParams(clientId, {
      scope: options.scope ?? 'incidents:read',
      redirect_uri: options.redirectUri ?? REDIRECT,
      ...(withPkce ? { code_challenge: challenge, code_challenge_method: 'S256' } : {}),
    }),
  );
  expect(`${callback.origin}${callback.pathname}`).toBe(options.redirectUri ?? REDIRECT);
  const code = callback.searchParams.get('code');
  expect(code, callback.toString()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return { code: code!, verifier: withPkce ? verifier : undefined };
}

function post(fields: Record<string, string | undefined>, client?: CodeApp) {
  const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return tokenRequest(h, defined, client ? basicOf(client) : undefined);
}

/** The authorization_code grant with HTTP Basic client authentication. */
function redeem(code: string, client: CodeApp, fields: Record<string, string | undefined> = {}) {
  return post({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, ...fields }, client);
}

function refresh(refreshToken: string, client: CodeApp, fields: Record<string, string | undefined> = {}) {
  return post({ grant_type: 'refresh_token', refresh_token: refreshToken, ...fields }, client);
}

async function tokensFor(clientId = app.client_id, client = app): Promise<{ access_token: string; refresh_token: string; scope: string }> {
  const { code, verifier } = await issueCode(clientId);
  const res = await redeem(code, client, { code_verifier: verifier });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

function scopesWith(token: string) {
  return h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(token) });
}

/** A token endpoint refusal: exact status and body, and never cached (RFC 6749 section 5.1). */
function expectTokenError(res: LightMyRequestResponse, status: number, error: string, description: string) {
  expect({ status: res.statusCode, body: res.json() }).toEqual({ status, body: { error, error_description: description } });
  expect(res.headers['cache-control']).toBe('no-store');
}

function expectInvalidClient(res: LightMyRequestResponse, description = 'client authentication failed') {
  expectTokenError(res, 401, 'invalid_client', description);
  expect(res.headers['www-authenticate']).toBe(BASIC_CHALLENGE);
}

/** The redirect URI cannot be trusted: a page for the user, never a redirect (RFC 9700 section 4.11.2). */
function expectErrorPage(res: LightMyRequestResponse, message: string) {
  expect(res.statusCode, res.headers.location).toBe(400);
  expect(res.headers.location).toBeUndefined();
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.body).toContain(`<div class="error" role="alert" id="form-error">${message}</div>`);
}

/** An error sent back to the registered redirect URI with exactly error, error_description, state and iss. */
function expectRedirectError(res: LightMyRequestResponse, error: string, description: string, state = 'st-123') {
  expect(res.statusCode, res.body).toBe(302);
  const location = new URL(res.headers.location!);
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
  expect([...location.searchParams].sort()).toEqual(
    [
      ['error', error],
      ['error_description', description],
      ['iss', TEST_ISSUER],
      ['state', state],
    ].sort(),
  );
}

function expectRevokedAccessToken(res: LightMyRequestResponse) {
  expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 401, body: { error: 'unauthorized', error_description: 'token has been revoked' } });
  expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="token has been revoked"');
}

// ------------------------------------------------------------------------------------------------ the attacks

describe('RFC 9700 section 4.1: insufficient redirect URI validation', () => {
  // Exact string comparison (section 2.1): any variation of https://integrator.example/callback is refused.
  it.each([
    ['a trailing slash', 'https://integrator.example/callback/'],
    ['another case in the path', 'https://integrator.example/Callback'],
    ['another case in the host', 'https://Integrator.Example/callback'],
    ['an extra path segment', 'https://integrator.example/callback/evil'],
    ['an added query parameter', 'https://integrator.example/callback?next=https://attacker.example'],
    ['userinfo', 'https://attacker@integrator.example/callback'],
    ['another port', 'https://integrator.example:8443/callback'],
    ['the default port spelled out', 'https://integrator.example:443/callback'],
    ['http instead of https', 'http://integrator.example/callback'],
    ['a fragment', 'https://integrator.example/callback#attacker'],
    ['a percent-encoded path', 'https://integrator.example/%63allback'],
    ['a dot segment', 'https://integrator.example/x/../callback'],
    ['a longer path with the same prefix', 'https://integrator.example/callbackx'],
    ['a host under an attacker domain', 'https://integrator.example.attacker.example/callback'],
    ['an upper-case scheme', 'HTTPS://integrator.example/callback'],
    ['an attacker site', 'https://attacker.example/callback'],
  ])('refuses a redirect_uri with %s with an error page, never a redirect', async (_name, redirectUri) => {
    const res = await authorize(authorizeParams(app.client_id, { redirect_uri: redirectUri, code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    expectErrorPage(res, 'The redirect_uri is not registered for this application.');
  });

  it('shows the page, not a redirect, when an unregistered redirect_uri comes with other errors too', async () => {
    const res = await authorize(
      authorizeParams(app.client_id, { redirect_uri: 'https://attacker.example/cb', scope: 'incidents:export', response_type: 'token', code_challenge_method: 'plain' }),
    );
    expectErrorPage(res, 'The redirect_uri is not registered for this application.');
  });
});

describe('RFC 9700 section 4.11: open redirection through the authorization endpoint', () => {
  it('does not redirect for an unknown client_id, whatever the redirect_uri', async () => {
    const res = await authorize(authorizeParams('app_doesnotexist000000', { redirect_uri: 'https://attacker.example/phish', code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    expectErrorPage(res, 'The application that sent you here is not registered.');
  });

  it('does not redirect without a client_id', async () => {
    const res = await authorize(authorizeParams(app.client_id, { client_id: undefined, redirect_uri: 'https://attacker.example/phish' }));
    expectErrorPage(res, 'The request has no client_id.');
  });

  it('does not redirect without a redirect_uri', async () => {
    const res = await authorize(authorizeParams(app.client_id, { redirect_uri: undefined }));
    expectErrorPage(res, 'The request has no redirect_uri.');
  });

  it('does not redirect when client_id or redirect_uri is repeated', async () => {
    const base = authorizeUrl(authorizeParams(app.client_id));
    const twoRedirects = await h.request({ method: 'GET', url: `${base}&redirect_uri=${encodeURIComponent('https://attacker.example/cb')}` });
    expectErrorPage(twoRedirects, 'The request repeats client_id or redirect_uri.');
    const twoClients = await h.request({ method: 'GET', url: `${base}&client_id=${sibling.client_id}` });
    expectErrorPage(twoClients, 'The request repeats client_id or redirect_uri.');
  });
});

describe('RFC 9700 section 4.8: PKCE downgrade', () => {
  it('(a) refuses a code_verifier for an authorization request that had no code_challenge', async () => {
    const { code } = await issueCode(app.client_id, { withPkce: false });
    const res = await redeem(code, app, { code_verifier: pkce().verifier });
    expectTokenError(res, 400, 'invalid_grant', 'code_verifier was sent but the authorization request had no code_challenge');
  });

  it('(b) refuses code_challenge_method=plain with a redirect', async () => {
    const { verifier } = pkce();
    const res = await authorize(authorizeParams(app.client_id, { code_challenge: verifier, code_challenge_method: 'plain' }));
    expectRedirectError(res, 'invalid_request', 'code_challenge_method must be S256');
  });

  it('(c) refuses a code_challenge without a method (RFC 7636 section 4.3: that means plain)', async () => {
    const res = await authorize(authorizeParams(app.client_id, { code_challenge: pkce().challenge }));
    expectRedirectError(res, 'invalid_request', 'code_challenge_method must be S256');
  });

  it('refuses a code_challenge_method without a code_challenge, and a challenge that is not a SHA-256', async () => {
    expectRedirectError(
      await authorize(authorizeParams(app.client_id, { code_challenge_method: 'S256' })),
      'invalid_request',
      'code_challenge_method given without code_challenge',
    );
    expectRedirectError(
      await authorize(authorizeParams(app.client_id, { code_challenge: 'short', code_challenge_method: 'S256' })),
      'invalid_request',
      'code_challenge must be a base64url SHA-256 (43 characters)',
    );
  });

  it('(d) refuses a wrong code_verifier (code injection, section 4.5)', async () => {
    const { code } = await issueCode(app.client_id);
    const res = await redeem(code, app, { code_verifier: pkce().verifier });
    expectTokenError(res, 400, 'invalid_grant', 'code_verifier does not match the code_challenge');
  });

  it('(e) refuses a missing code_verifier when the authorization request had a code_challenge', async () => {
    const { code } = await issueCode(app.client_id);
    const res = await redeem(code, app);
    expectTokenError(res, 400, 'invalid_grant', 'code_verifier is required: the authorization request had a code_challenge');
  });

  it('(f) requires PKCE from a public client', async () => {
    const res = await authorize(authorizeParams(publicApp.client_id));
    expectRedirectError(res, 'invalid_request', 'PKCE is required: send code_challenge with code_challenge_method=S256');
  });

  it('(g) requires PKCE from a confidential client whose governance sets enforce_pkce', async () => {
    const strict = await registerCodeApp(h, acme, { name: 'Strict app' });
    const patched = await h.request({
      method: 'PATCH',
      url: `/v1/platform/apps/${strict.client_id}/governance`,
      headers: bearer(acme.adminToken),
      payload: { enforce_pkce: true },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    const res = await authorize(authorizeParams(strict.client_id));
    expectRedirectError(res, 'invalid_request', 'PKCE is required for this client: send code_challenge with code_challenge_method=S256');
  });
});

describe('RFC 9700 section 4.5 and RFC 6749 section 4.1.2: authorization code misuse', () => {
  it('refuses a replayed code and revokes the access and refresh tokens its first redemption issued', async () => {
    const { code, verifier } = await issueCode(app.client_id);
    const first = await redeem(code, app, { code_verifier: verifier });
    expect(first.statusCode, first.body).toBe(200);
    const tokens = first.json();
    expect((await scopesWith(tokens.access_token)).statusCode).toBe(200);

    const replay = await redeem(code, app, { code_verifier: verifier });
    expectTokenError(replay, 400, 'invalid_grant', 'authorization code has already been used');

    expectRevokedAccessToken(await scopesWith(tokens.access_token));
    expectTokenError(await refresh(tokens.refresh_token, app), 400, 'invalid_grant', 'refresh token has been revoked');
  });

  it('refuses a code redeemed by another confidential client of the same tenant', async () => {
    const { code, verifier } = await issueCode(app.client_id);
    const res = await redeem(code, sibling, { code_verifier: verifier });
    expectTokenError(res, 400, 'invalid_grant', 'authorization code was issued to another client');
  });

  it('refuses a code redeemed by a client of another tenant', async () => {
    const { code, verifier } = await issueCode(app.client_id);
    const res = await redeem(code, foreign, { code_verifier: verifier });
    expectTokenError(res, 400, 'invalid_grant', 'authorization code is not valid');
  });

  it('refuses a redirect_uri at the token endpoint other than the one of the authorization request', async () => {
    const multi = await registerCodeApp(h, acme, { name: 'Two callbacks', redirect_uris: [REDIRECT, OTHER_REDIRECT] });
    const { code, verifier } = await issueCode(multi.client_id);
    // Another URI registered for the same client is still not the one the code was sent to.
    expectTokenError(
      await redeem(code, multi, { code_verifier: verifier, redirect_uri: OTHER_REDIRECT }),
      400,
      'invalid_grant',
      'redirect_uri does not match the authorization request',
    );
    expectTokenError(
      await redeem(code, multi, { code_verifier: verifier, redirect_uri: 'https://attacker.example/callback' }),
      400,
      'invalid_grant',
      'redirect_uri does not match the authorization request',
    );
    expectTokenError(await redeem(code, multi, { code_verifier: verifier, redirect_uri: undefined }), 400, 'invalid_request', 'redirect_uri is required');
  });

  it('refuses an expired code (codes live 60 s)', async () => {
    const { code, verifier } = await issueCode(app.client_id);
    const connection = h.runtime.orm.em.fork().getConnection();
    const id = createHash('sha256').update(code).digest('hex');
    const [row] = await connection.execute('select extract(epoch from expires_at - created_at) as lifetime from oauth_authorization_codes where id = ?', [id]);
    expect(Number(row.lifetime)).toBeGreaterThan(55);
    expect(Number(row.lifetime)).toBeLessThanOrEqual(61);
    await connection.execute(`update oauth_authorization_codes set expires_at = now() - interval '1 second' where id = ?`, [id]);
    const res = await redeem(code, app, { code_verifier: verifier });
    expectTokenError(res, 400, 'invalid_grant', 'authorization code has expired');
  });

  it('refuses an unknown code', async () => {
    const res = await redeem(pkce().verifier, app, { code_verifier: pkce().verifier });
    expectTokenError(res, 400, 'invalid_grant', 'authorization code is not valid');
  });
});

describe('scope escalation (RFC 6749 sections 3.3 and 6)', () => {
  it('refuses at the authorization endpoint a scope not approved for the app', async () => {
    const res = await authorize(authorizeParams(app.client_id, { scope: 'incidents:read incidents:write', code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    expectRedirectError(res, 'invalid_scope', 'scope not approved for this client: incidents:write');
    const admin = await authorize(authorizeParams(app.client_id, { scope: 'platform:admin', code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    expectRedirectError(admin, 'invalid_scope', 'scope not approved for this client: platform:admin');
  });

  it('refuses client_credentials asking for a scope not approved for the app', async () => {
    expectTokenError(
      await post({ grant_type: 'client_credentials', scope: 'incidents:read incidents:write' }, machine),
      400,
      'invalid_scope',
      'scope not allowed for this client: incidents:write',
    );
    expectTokenError(await post({ grant_type: 'client_credentials', scope: 'platform:admin' }, machine), 400, 'invalid_scope', 'scope not allowed for this client: platform:admin');
  });

  it('refuses a refresh asking for a scope wider than the grant', async () => {
    const tokens = await tokensFor(); // granted incidents:read; the app is also approved for webhooks:read
    expect(tokens.scope).toBe('incidents:read');
    const res = await refresh(tokens.refresh_token, app, { scope: 'incidents:read webhooks:read' });
    expectTokenError(res, 400, 'invalid_scope', 'scope not allowed for this grant: webhooks:read');
  });

  it('refuses the unpublished scope incidents:export everywhere', async () => {
    const authorizeRes = await authorize(authorizeParams(app.client_id, { scope: 'incidents:export', code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    expectRedirectError(authorizeRes, 'invalid_scope', 'scope not approved for this client: incidents:export');
    expectTokenError(await post({ grant_type: 'client_credentials', scope: 'incidents:export' }, machine), 400, 'invalid_scope', 'scope not allowed for this client: incidents:export');
    const tokens = await tokensFor();
    expectTokenError(await refresh(tokens.refresh_token, app, { scope: 'incidents:export' }), 400, 'invalid_scope', 'scope not allowed for this grant: incidents:export');
    const register = await h.request({
      method: 'POST',
      url: '/v1/platform/apps',
      headers: bearer(acme.adminToken),
      payload: { name: 'Exporter', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read', 'incidents:export'] },
    });
    expect({ status: register.statusCode, body: register.json() }).toEqual({
      status: 400,
      body: { error: 'invalid_scope', error_description: 'body.requested_scopes names scopes that are not published: incidents:export' },
    });
  });
});

describe('RFC 9700 section 4.14: refresh token protection', () => {
  it('detects reuse of a rotated refresh token and revokes the whole family', async () => {
    const first = await tokensFor();
    const rotated = await refresh(first.refresh_token, app);
    expect(rotated.statusCode, rotated.body).toBe(200);
    const second = rotated.json();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await scopesWith(second.access_token)).statusCode).toBe(200);

    const reuse = await refresh(first.refresh_token, app);
    expectTokenError(reuse, 400, 'invalid_grant', 'refresh token has already been used; the grant has been revoked');
    expectTokenError(await refresh(second.refresh_token, app), 400, 'invalid_grant', 'refresh token has been revoked');
    expectRevokedAccessToken(await scopesWith(first.access_token));
    expectRevokedAccessToken(await scopesWith(second.access_token));
  });

  it('refuses a refresh token presented by another client', async () => {
    const tokens = await tokensFor();
    expectTokenError(await refresh(tokens.refresh_token, sibling), 400, 'invalid_grant', 'refresh token is not valid');
    expectTokenError(await refresh(tokens.refresh_token, foreign), 400, 'invalid_grant', 'refresh token is not valid');
    // The rightful client still can: the attempts neither burned nor revoked it.
    expect((await refresh(tokens.refresh_token, app)).statusCode).toBe(200);
  });
});

describe('token confusion at the resource server (RFC 6750)', () => {
  it('refuses a refresh token, an authorization code or a client secret presented as a bearer token', async () => {
    const tokens = await tokensFor();
    const { code } = await issueCode(app.client_id);
    for (const notAnAccessToken of [tokens.refresh_token, code, machine.client_secret!]) {
      const res = await scopesWith(notAnAccessToken);
      expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 401, body: { error: 'unauthorized', error_description: 'token is malformed' } });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    }
  });

  it('ignores an access token in the query string (RFC 9700 section 4.3.2)', async () => {
    const tokens = await tokensFor();
    const res = await h.request({ method: 'GET', url: `/v1/platform/scopes?access_token=${encodeURIComponent(tokens.access_token)}` });
    expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 401, body: { error: 'unauthorized', error_description: 'an Authorization: Bearer token is required' } });
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });
});

describe('client authentication at the token endpoint (RFC 6749 section 2.3, RFC 9700 section 2.5)', () => {
  it('refuses a wrong secret with 401 invalid_client and a Basic challenge, by either method', async () => {
    expectInvalidClient(await post({ grant_type: 'client_credentials' }, { client_id: machine.client_id, client_secret: 'tsec_wrong' }));
    expectInvalidClient(await post({ grant_type: 'client_credentials', client_id: machine.client_id, client_secret: 'tsec_wrong' }));
  });

  it('refuses a confidential client that names itself without a secret, an unknown client and no client at all', async () => {
    expectInvalidClient(await post({ grant_type: 'client_credentials', client_id: machine.client_id }));
    const { code, verifier } = await issueCode(app.client_id);
    expectInvalidClient(await post({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: app.client_id }));
    expectInvalidClient(await post({ grant_type: 'client_credentials' }, { client_id: 'app_doesnotexist000000', client_secret: 'tsec_x' }));
    expectInvalidClient(await post({ grant_type: 'client_credentials' }), 'client authentication is required');
  });

  it('refuses HTTP Basic and client_secret in the body together', async () => {
    const res = await post({ grant_type: 'client_credentials', client_secret: machine.client_secret }, machine);
    expectTokenError(res, 400, 'invalid_request', 'use one client authentication method: HTTP Basic or client_secret in the body, not both');
  });

  it('refuses a public client that sends a client_secret', async () => {
    const { verifier, challenge } = pkce();
    const callback = await authorizeAs(ada, authorizeParams(publicApp.client_id, { code_challenge: challenge, code_challenge_method: 'S256' }));
    const code = callback.searchParams.get('code')!;
    expect(code).toBeTruthy();
    const res = await post({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: publicApp.client_id, client_secret: 'tsec_made_up' });
    expectInvalidClient(res);
    const viaBasic = await post({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, { client_id: publicApp.client_id, client_secret: 'tsec_made_up' });
    expectInvalidClient(viaBasic);
  });

  it('refuses a secret rotated away with grace_period_seconds 0', async () => {
    const rotating = await registerApp(acme, { name: 'Rotating', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] });
    const rotated = await h.request({
      method: 'POST',
      url: `/v1/platform/apps/${rotating.client_id}/rotate-secret`,
      headers: bearer(acme.adminToken),
      payload: { grace_period_seconds: 0 },
    });
    expect(rotated.statusCode, rotated.body).toBe(200);
    expectInvalidClient(await post({ grant_type: 'client_credentials' }, rotating));
    expectInvalidClient(await post({ grant_type: 'client_credentials', client_id: rotating.client_id, client_secret: rotating.client_secret }));
    const current = await post({ grant_type: 'client_credentials' }, { client_id: rotating.client_id, client_secret: rotated.json().client_secret });
    expect(current.statusCode, current.body).toBe(200);
  });

  it('accepts both the previous and the new secret during a grace period', async () => {
    const rotating = await registerApp(acme, { name: 'Overlapping', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] });
    const rotated = await h.request({
      method: 'POST',
      url: `/v1/platform/apps/${rotating.client_id}/rotate-secret`,
      headers: bearer(acme.adminToken),
      payload: { grace_period_seconds: 3600 },
    });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const previous = await post({ grant_type: 'client_credentials' }, rotating);
    expect(previous.statusCode, previous.body).toBe(200);
    const next = await post({ grant_type: 'client_credentials' }, { client_id: rotating.client_id, client_secret: rotated.json().client_secret });
    expect(next.statusCode, next.body).toBe(200);
  });
});

describe('the registered token_endpoint_auth_method is the only one accepted (RFC 7591 section 2, as Hydra and node-oidc-provider)', () => {
  let poster: CodeApp;
  beforeAll(async () => {
    poster = await registerApp(acme, { name: 'Posting secrets', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'], token_endpoint_auth_method: 'client_secret_post' });
  });
  const inBody = (client: CodeApp) => ({ client_id: client.client_id, client_secret: client.client_secret! });

  it('refuses the right secret of a client_secret_basic client sent in the body, and tells a caller who proved it which method to use', async () => {
    const res = await post({ grant_type: 'client_credentials', ...inBody(machine) });
    expectInvalidClient(res, 'client authentication failed: this client is registered for client_secret_basic: send its id and secret with HTTP Basic');
  });

  it('refuses the right secret of a client_secret_post client sent with HTTP Basic', async () => {
    const res = await post({ grant_type: 'client_credentials' }, poster);
    expectInvalidClient(res, 'client authentication failed: this client is registered for client_secret_post: send client_id and client_secret in the form');
  });

  it('says nothing more to a caller with the wrong method and the wrong secret', async () => {
    expectInvalidClient(await post({ grant_type: 'client_credentials', client_id: machine.client_id, client_secret: 'tsec_wrong' }));
    expectInvalidClient(await post({ grant_type: 'client_credentials' }, { client_id: poster.client_id, client_secret: 'tsec_wrong' }));
  });

  it('accepts each client by its own method, at the token, revocation and introspection endpoints alike', async () => {
    const token = await post({ grant_type: 'client_credentials', ...inBody(poster) });
    expect(token.statusCode, token.body).toBe(200);
    const form = (fields: Record<string, string>) => ({ method: 'POST' as const, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString() });
    const introspected = await h.request({ url: '/v1/oauth/introspect', ...form({ token: token.json().access_token, ...inBody(poster) }) });
    expect(introspected.json()).toMatchObject({ active: true, client_id: poster.client_id });
    const wrongWay = await h.request({ url: '/v1/oauth/introspect', ...form({ token: token.json().access_token }), headers: { ...form({}).headers, authorization: `Basic ${Buffer.from(`${poster.client_id}:${poster.client_secret}`).toString('base64')}` } });
    expectInvalidClient(wrongWay, 'client authentication failed: this client is registered for client_secret_post: send client_id and client_secret in the form');
    const revoked = await h.request({ url: '/v1/oauth/revoke', ...form({ token: token.json().access_token, ...inBody(poster) }) });
    expect(revoked.statusCode).toBe(200);
  });
});

describe('loopback redirect URIs (RFC 8252 section 7.3) and patterns', () => {
  let native: CodeApp;
  beforeAll(async () => {
    native = await registerApp(acme, {
      name: 'Desktop app',
      grant_types: ['authorization_code'],
      redirect_uris: ['http://127.0.0.1:8765/callback', 'http://[::1]/callback', 'http://localhost:8765/callback'],
      requested_scopes: ['incidents:read'],
      token_endpoint_auth_method: 'none',
    });
  });
  const loginPage = (redirectUri: string) => h.request({ method: 'GET', url: authorizeUrl(authorizeParams(native.client_id, { redirect_uri: redirectUri, code_challenge: pkce().challenge, code_challenge_method: 'S256' })) });

  it('matches a loopback IP redirect URI on any port, the rest of it exactly', async () => {
    for (const uri of ['http://127.0.0.1:8765/callback', 'http://127.0.0.1:49152/callback', 'http://127.0.0.1/callback', 'http://[::1]:61000/callback']) {
      const res = await loginPage(uri);
      expect(res.statusCode, uri).toBe(200);
      expect(res.body, uri).toContain('action="/v1/oauth/login"');
    }
    for (const uri of ['http://127.0.0.1:49152/callback/evil', 'http://127.0.0.2:8765/callback', 'https://127.0.0.1:8765/callback', 'http://localhost:9999/callback']) {
      expectErrorPage(await loginPage(uri), 'The redirect_uri is not registered for this application.');
    }
  });

  it('redeems the code only for the redirect URI, port included, of its own request', async () => {
    const { verifier, challenge } = pkce();
    const redirectUri = 'http://127.0.0.1:50123/callback';
    const callback = await authorizeAs(ada, authorizeParams(native.client_id, { redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(`${callback.origin}${callback.pathname}`).toBe(redirectUri);
    const code = callback.searchParams.get('code')!;
    const otherPort = await post({ grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:8765/callback', code_verifier: verifier, client_id: native.client_id });
    expectTokenError(otherPort, 400, 'invalid_grant', 'redirect_uri does not match the authorization request');
  });

  it.each([
    ['https://*.integrator.example/callback', 'body.redirect_uris[0] must not contain *: a redirect URI is compared exactly, never as a pattern'],
    ['https://integrator.example/callback/*', 'body.redirect_uris[0] must not contain *: a redirect URI is compared exactly, never as a pattern'],
    ['https://integrator.example/{tenant}/callback', 'body.redirect_uris[0] must hold URI characters only (RFC 3986): percent-encode {'],
    ['https://integrator.example/call back', 'body.redirect_uris[0] must hold URI characters only (RFC 3986): percent-encode a space'],
  ])('refuses the pattern %s at registration, storing nothing', async (uri, description) => {
    const res = await h.request({
      method: 'POST',
      url: '/v1/platform/apps',
      headers: bearer(acme.adminToken),
      payload: { name: 'Wildcard', grant_types: ['authorization_code'], redirect_uris: [uri], requested_scopes: ['incidents:read'] },
    });
    expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: description } });
  });
});

describe('parameter pollution and request format (RFC 6749 sections 3.1 and 3.2)', () => {
  it('refuses a repeated parameter at the authorization endpoint with an invalid_request redirect', async () => {
    const base = authorizeUrl(authorizeParams(app.client_id, { code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    expectRedirectError(await h.request({ method: 'GET', url: `${base}&scope=webhooks%3Aread` }), 'invalid_request', 'scope must not be repeated');
    expectRedirectError(await h.request({ method: 'GET', url: `${base}&code_challenge=${pkce().challenge}` }), 'invalid_request', 'code_challenge must not be repeated');
  });

  it('refuses a repeated parameter at the token endpoint with 400 invalid_request', async () => {
    const { code, verifier } = await issueCode(app.client_id);
    const basic = `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64')}`;
    const body = new URLSearchParams([
      ['grant_type', 'authorization_code'],
      ['code', code],
      ['code', pkce().verifier],
      ['redirect_uri', REDIRECT],
      ['code_verifier', verifier!],
    ]);
    const res = await h.request({
      method: 'POST',
      url: '/v1/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      payload: body.toString(),
    });
    expectTokenError(res, 400, 'invalid_request', 'code must not be repeated');
  });

  it('refuses a JSON body at the token endpoint', async () => {
    const res = await h.request({
      method: 'POST',
      url: '/v1/oauth/token',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${machine.client_id}:${machine.client_secret}`).toString('base64')}` },
      payload: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    expectTokenError(res, 400, 'invalid_request', 'send the parameters as application/x-www-form-urlencoded');
  });
});

describe('RFC 9700 sections 2.1.2 and 2.4: grants that must not be offered', () => {
  it('refuses the implicit grant (response_type=token) with a redirect', async () => {
    const res = await authorize(authorizeParams(app.client_id, { response_type: 'token', code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    expectRedirectError(res, 'unsupported_response_type', 'only response_type=code is supported');
  });

  it('refuses the resource owner password credentials grant', async () => {
    const res = await post({ grant_type: 'password', username: 'ada@acme.test', password: PASSWORD }, app);
    expectTokenError(res, 400, 'unsupported_grant_type', 'grant_type password is not supported');
  });
});

describe('RFC 9700 sections 4.4, 4.7, 4.12, 4.15 and 4.16: mix-up, CSRF, 307, impersonation, clickjacking', () => {
  it('names the issuer (RFC 9207) and passes state through in every authorization response (mix-up, CSRF)', async () => {
    const { challenge } = pkce();
    const callback = await authorizeAs(ada, authorizeParams(app.client_id, { state: 'csrf-bound-state', code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(callback.searchParams.get('iss')).toBe(TEST_ISSUER);
    expect(callback.searchParams.get('state')).toBe('csrf-bound-state');
  });

  it('refuses a forged consent form (CSRF) and answers hosted pages with anti-framing headers', async () => {
    const page = await ada.browser.get(
      authorizeUrl(authorizeParams(app.client_id, { scope: 'incidents:read webhooks:read', code_challenge: pkce().challenge, code_challenge_method: 'S256' })),
    );
    expect(page.statusCode, page.body).toBe(200);
    expect(page.body).toContain('action="/v1/oauth/consent"');
    const errorPage = await authorize(authorizeParams(app.client_id, { redirect_uri: 'https://attacker.example/cb' }));
    for (const res of [page, errorPage]) {
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
    }
    const forged = await ada.browser.post('/v1/oauth/consent', { ...hiddenFields(page.body), csrf_token: 'forged', decision: 'approve' });
    expect(forged.statusCode).toBe(403);
    expect(forged.headers.location).toBeUndefined();
    expect(forged.body).toContain('The form could not be verified.');
  });

  it('answers the credentials form with 303, never 307', async () => {
    const browser = new Browser(h);
    const login = await browser.get(authorizeUrl(authorizeParams(app.client_id, { code_challenge: pkce().challenge, code_challenge_method: 'S256' })));
    expect(login.statusCode).toBe(200);
    const posted = await browser.post('/v1/oauth/login', { ...hiddenFields(login.body), email: 'ada@acme.test', password: PASSWORD });
    expect(posted.statusCode).toBe(303);
  });

  it('does not let a client choose its client_id, and client credentials tokens name the client as subject', async () => {
    const chosen = await h.request({
      method: 'POST',
      url: '/v1/platform/apps',
      headers: bearer(acme.adminToken),
      payload: { name: 'Impostor', client_id: 'usr_someone', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] },
    });
    expect({ status: chosen.statusCode, body: chosen.json() }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: "body has unknown field 'client_id'" } });
    const res = await post({ grant_type: 'client_credentials' }, machine);
    expect(res.statusCode, res.body).toBe(200);
    const claims = JSON.parse(Buffer.from(res.json().access_token.split('.')[1], 'base64url').toString());
    expect(claims.sub).toBe(machine.client_id);
    expect(claims.sub).toMatch(/^app_/);
  });
});
