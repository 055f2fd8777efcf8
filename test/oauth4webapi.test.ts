// An independent, certified OAuth client (oauth4webapi) against the running server, with its default
// validation: discovery (RFC 8414), client credentials with both secret methods, authorization code
// with PKCE through the hosted pages over real HTTP (iss per RFC 9207, state), refresh, and RFC 9068
// JWT access token validation against the published JWKS.
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MACHINE_APP, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { FetchBrowser, startListeningTessera, type ListeningTessera } from './helpers/listening.js';
import { createUser, hiddenFields, registerCodeApp, type CodeApp } from './helpers/oauth.js';

// The only relaxation of oauth4webapi's defaults: the test server is plain http on loopback, and the
// library refuses non-https endpoints unless told otherwise. Every other check stays on.
const insecure = { [oauth.allowInsecureRequests]: true } as const;

// Never contacted: the client reads the redirect's Location instead of following it.
const REDIRECT = 'http://127.0.0.1/oauth4webapi/callback';
const EMAIL = 'grace@acme.test';
const PASSWORD = 'a long enough password';

let h: Harness;
let server: ListeningTessera;
let acme: TenantFixture;
let issuer: URL;
let as: oauth.AuthorizationServer;
let codeApp: CodeApp;
let machine: { client_id: string; client_secret: string };

beforeAll(async () => {
  h = await startHarness();
  server = await startListeningTessera(h);
  issuer = new URL(server.url);
  acme = await h.tenant('acme');
  // Through the REST API (the harness app shares the database with the listening one).
  codeApp = await registerCodeApp(h, acme, { redirect_uris: [REDIRECT] });
  await createUser(h, acme, EMAIL, PASSWORD);
  machine = (await h.registerApp(acme, { ...MACHINE_APP, requested_scopes: ['webhooks:write', 'incidents:read'] })) as typeof machine;
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
});
afterAll(async () => {
  await server?.close();
  await h?.close();
});

/** What a resource server does with a bearer token: oauth4webapi's RFC 9068 validation, keys from as.jwks_uri. */
async function validateAccessToken(accessToken: string) {
  const request = new Request(`${server.url}/v1/platform/scopes`, { headers: { authorization: `Bearer ${accessToken}` } });
  return oauth.validateJwtAccessToken(as, request, server.config.audience, insecure);
}

describe('discovery', () => {
  it('processes the RFC 8414 metadata with the oauth2 algorithm', () => {
    expect(as.issuer).toBe(server.url);
    expect(as).toMatchObject({
      authorization_endpoint: `${server.url}/v1/oauth/authorize`,
      token_endpoint: `${server.url}/v1/oauth/token`,
      revocation_endpoint: `${server.url}/v1/oauth/revoke`,
      introspection_endpoint: `${server.url}/v1/oauth/introspect`,
      jwks_uri: `${server.url}/.well-known/jwks.json`,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
  });
});

describe('client credentials', () => {
  it('issues tokens with ClientSecretBasic and ClientSecretPost that validate as RFC 9068 JWTs', async () => {
    // One client per method: a client authenticates only by the method it registered.
    const poster = (await h.registerApp(acme, { ...MACHINE_APP, requested_scopes: ['webhooks:write', 'incidents:read'], token_endpoint_auth_method: 'client_secret_post' })) as typeof machine;
    for (const [method, app, auth] of [
      ['client_secret_basic', machine, oauth.ClientSecretBasic(machine.client_secret)],
      ['client_secret_post', poster, oauth.ClientSecretPost(poster.client_secret)],
    ] as const) {
      const client: oauth.Client = { client_id: app.client_id };
      const response = await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'webhooks:write' }, insecure);
      const tokens = await oauth.processClientCredentialsResponse(as, client, response);
      expect(tokens, method).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: 'webhooks:write' });
      expect(tokens.refresh_token, method).toBeUndefined();

      const claims = await validateAccessToken(tokens.access_token);
      expect(claims, method).toMatchObject({
        iss: server.url,
        aud: server.config.audience,
        sub: app.client_id,
        client_id: app.client_id,
        scope: 'webhooks:write',
        tenant_id: acme.tenantId,
      });
    }
  });

  it('surfaces a wrong secret as a 401 Basic challenge with an invalid_client body (RFC 6749 section 5.2)', async () => {
    const client: oauth.Client = { client_id: machine.client_id };
    // A 401 carries WWW-Authenticate (RFC 9110 section 15.5.2), whichever method the client used;
    // oauth4webapi reports such a response as the challenge, with the response body left unread.
    for (const auth of [oauth.ClientSecretBasic('wrong'), oauth.ClientSecretPost('wrong')]) {
      const response = await oauth.clientCredentialsGrantRequest(as, client, auth, {}, insecure);
      const error = await oauth.processClientCredentialsResponse(as, client, response).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
      const challenge = error as oauth.WWWAuthenticateChallengeError;
      expect(challenge.status).toBe(401);
      expect(challenge.cause).toEqual([{ scheme: 'basic', parameters: { realm: 'tessera', charset: 'UTF-8' } }]);
      expect(await challenge.response.json()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
    }
  });
});

describe('authorization code with PKCE', () => {
  it('logs in and consents over HTTP, validates the response, exchanges the code, refreshes and validates the JWT', async () => {
    const client: oauth.Client = { client_id: codeApp.client_id };
    const clientAuth = oauth.ClientSecretBasic(codeApp.client_secret!);
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();

    const authorize = new URL(as.authorization_endpoint!);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      scope: 'incidents:read',
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }).toString();

    // The hosted pages, as a browser without JavaScript would use them.
    const browser = new FetchBrowser(server.url);
    const loginPage = await browser.get(authorize.href);
    expect(loginPage.status).toBe(200);
    const loginHtml = await loginPage.text();
    expect(loginHtml).toContain('<form method="post" action="/v1/oauth/login"');
    const loginFields = hiddenFields(loginHtml);
    expect(Object.keys(loginFields).sort()).toEqual(['csrf_token', 'request_id']);
    expect(browser.cookies.has('tessera_browser')).toBe(true);

    const login = await browser.post('/v1/oauth/login', { ...loginFields, email: EMAIL, password: PASSWORD });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe(`/v1/oauth/consent?request_id=${encodeURIComponent(loginFields.request_id!)}`);
    expect(browser.cookies.has('tessera_session')).toBe(true);
    // A loopback http issuer: the cookies are not Secure (a browser would drop them), everything else is.
    expect(browser.setCookies.map((c) => c.split('=')[0]).sort()).toEqual(['tessera_browser', 'tessera_session']);
    for (const header of browser.setCookies) {
      expect(header).toMatch(/; Path=\/v1\/oauth(;|$)/);
      expect(header).toMatch(/; HttpOnly(;|$)/);
      expect(header).toMatch(/; SameSite=Lax(;|$)/);
      expect(header).not.toMatch(/; Secure(;|$)/i);
    }

    const consentPage = await browser.get(login.headers.get('location')!);
    expect(consentPage.status).toBe(200);
    const consentHtml = await consentPage.text();
    expect(consentHtml).toContain('<code>incidents:read</code>: Read incidents and their notes');
    const approved = await browser.post('/v1/oauth/consent', { ...hiddenFields(consentHtml), decision: 'approve' });
    expect(approved.status).toBe(303);
    const callback = new URL(approved.headers.get('location')!);
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT);

    // RFC 9207 iss and state are checked by the client.
    const params = oauth.validateAuthResponse(as, client, callback, state);
    expect(params.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(() => oauth.validateAuthResponse(as, client, callback, 'another-state')).toThrow(oauth.OperationProcessingError);
    const mixedUp = new URL(callback);
    mixedUp.searchParams.set('iss', 'https://attacker.example');
    expect(() => oauth.validateAuthResponse(as, client, mixedUp, state)).toThrow(/unexpected "iss"/);

    const exchanged = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, REDIRECT, verifier, insecure);
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, exchanged);
    expect(tokens).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: 'incidents:read' });
    expect(tokens.refresh_token).toEqual(expect.any(String));

    const userId = (await h.runtime.orm.em.fork().getConnection().execute('select id from users where email = ?', [EMAIL]))[0]?.id;
    expect(userId).toMatch(/^usr_/);
    const claims = await validateAccessToken(tokens.access_token);
    expect(claims).toMatchObject({ iss: server.url, aud: server.config.audience, sub: userId, client_id: codeApp.client_id, scope: 'incidents:read', tenant_id: acme.tenantId });

    // The token works at the resource server it was issued for.
    const resource = await fetch(`${server.url}/v1/platform/scopes`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(resource.status).toBe(200);

    // Refresh rotates the refresh token; the new access token validates.
    const refreshedResponse = await oauth.refreshTokenGrantRequest(as, client, oauth.ClientSecretBasic(codeApp.client_secret!), tokens.refresh_token!, insecure);
    const refreshed = await oauth.processRefreshTokenResponse(as, client, refreshedResponse);
    expect(refreshed).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: 'incidents:read' });
    expect(refreshed.refresh_token).toEqual(expect.any(String));
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(await validateAccessToken(refreshed.access_token)).toMatchObject({ sub: userId, client_id: codeApp.client_id, scope: 'incidents:read' });

    // Replaying the code is refused, and ends the grant: the rotated refresh token stops working too.
    const replay = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, REDIRECT, verifier, insecure);
    await expect(oauth.processAuthorizationCodeResponse(as, client, replay)).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
    const afterReplay = await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshed.refresh_token!, insecure);
    await expect(oauth.processRefreshTokenResponse(as, client, afterReplay)).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
  });
});
