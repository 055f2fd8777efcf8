import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
});
afterAll(() => h?.close());

const CONTRACT_APP = {
  name: 'Case sync connector',
  grant_types: ['client_credentials'],
  redirect_uris: [],
  requested_scopes: ['webhooks:write'],
};

async function createApp(token: string, body: object = CONTRACT_APP) {
  return h.request({ method: 'POST', url: '/v1/platform/apps', headers: bearer(token), payload: body });
}

describe('GET /v1/platform/scopes', () => {
  it('lists the published scopes only, as {scopes: [{name, description}]}', async () => {
    const res = await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(acme.adminToken) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      scopes: [
        { name: 'email', description: 'Read your email address' },
        { name: 'incidents:read', description: 'Read incidents and their notes' },
        { name: 'incidents:write', description: 'Create, update and close incidents and add notes' },
        { name: 'openid', description: 'Sign you in with your Tessera account and know who you are' },
        { name: 'profile', description: 'Read your username and your roles in your organisation' },
        { name: 'webhooks:read', description: 'List webhook subscriptions and their delivery history' },
        { name: 'webhooks:write', description: 'Create and update outbound webhook subscriptions' },
      ],
    });
    expect(JSON.stringify(res.json())).not.toContain('incidents:export');
  });

  it('needs a bearer token', async () => {
    const res = await h.request({ method: 'GET', url: '/v1/platform/scopes' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.json()).toEqual({ error: 'unauthorized', error_description: 'an Authorization: Bearer token is required' });
  });
});

describe('POST /v1/platform/apps', () => {
  it('registers a confidential app and returns the contract fields with a write-once secret', async () => {
    const res = await createApp(acme.adminToken);
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      client_id: expect.stringMatching(/^app_[A-Za-z0-9_-]{20}$/),
      client_secret: expect.stringMatching(/^tsec_[A-Za-z0-9_-]{43}$/),
      name: 'Case sync connector',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      requested_scopes: ['webhooks:write'],
      tenant_id: acme.tenantId,
      token_endpoint_auth_method: 'client_secret_basic',
      governance: { allow_service_tokens: false, enforce_pkce: false, access_token_ttl: 3600, service_token_max_ttl: 2_592_000 },
    });
    expect(body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const again = await h.request({ method: 'GET', url: `/v1/platform/apps/${body.client_id}`, headers: bearer(acme.adminToken) });
    expect(again.statusCode).toBe(200);
    expect(again.json()).not.toHaveProperty('client_secret');
    expect(again.body).not.toContain(body.client_secret);
    const list = await h.request({ method: 'GET', url: '/v1/platform/apps', headers: bearer(acme.adminToken) });
    expect(list.body).not.toContain(body.client_secret);
  });

  it('registers a public authorization-code client without a secret and with PKCE enforced', async () => {
    const res = await createApp(acme.adminToken, {
      name: 'Mobile app',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['https://integrator.example/callback', 'http://127.0.0.1:8765/cb'],
      requested_scopes: ['incidents:read'],
      token_endpoint_auth_method: 'none',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).not.toHaveProperty('client_secret');
    expect(res.json()).toMatchObject({ token_endpoint_auth_method: 'none', governance: { enforce_pkce: true } });
  });

  it.each([
    [{ ...CONTRACT_APP, grant_types: ['password'] }, 'body.grant_types[0] must be one of authorization_code, client_credentials, refresh_token'],
    [{ ...CONTRACT_APP, grant_types: [] }, 'body.grant_types must NOT have fewer than 1 items'],
    [{ ...CONTRACT_APP, requested_scopes: ['incidents:export'] }, 'body.requested_scopes names scopes that are not published: incidents:export'],
    [{ ...CONTRACT_APP, requested_scopes: ['platform:admin'] }, 'body.requested_scopes names scopes that are not published: platform:admin'],
    [{ ...CONTRACT_APP, requested_scopes: [] }, 'body.requested_scopes must NOT have fewer than 1 items'],
    [{ ...CONTRACT_APP, name: '' }, 'body.name must NOT have fewer than 1 characters'],
    [{ grant_types: ['client_credentials'], requested_scopes: ['webhooks:write'] }, 'body.name is required'],
    [{ ...CONTRACT_APP, colour: 'blue' }, "body has unknown field 'colour'"],
    [
      { ...CONTRACT_APP, grant_types: ['authorization_code'] },
      'body.redirect_uris needs at least one URI for the authorization_code grant',
    ],
    [
      { ...CONTRACT_APP, grant_types: ['authorization_code'], redirect_uris: ['http://integrator.example/cb'] },
      'body.redirect_uris[0] must use https (http is allowed only for loopback hosts)',
    ],
    [
      { ...CONTRACT_APP, grant_types: ['authorization_code'], redirect_uris: ['https://integrator.example/cb#frag'] },
      'body.redirect_uris[0] must not contain a fragment',
    ],
    [
      { ...CONTRACT_APP, grant_types: ['authorization_code'], redirect_uris: ['/relative/callback'] },
      'body.redirect_uris[0] must be an absolute URI',
    ],
    [
      { ...CONTRACT_APP, grant_types: ['authorization_code'], redirect_uris: ['https://user:pw@integrator.example/cb'] },
      'body.redirect_uris[0] must not contain credentials',
    ],
    [
      { ...CONTRACT_APP, grant_types: ['authorization_code'], redirect_uris: ['javascript://integrator.example/cb'] },
      'body.redirect_uris[0] must use https',
    ],
    [{ ...CONTRACT_APP, redirect_uris: ['https://integrator.example/cb'] }, 'body.redirect_uris is only used by the authorization_code grant'],
    [
      { ...CONTRACT_APP, grant_types: ['client_credentials', 'refresh_token'] },
      'body.grant_types: refresh_token is only issued with authorization_code',
    ],
    [
      { ...CONTRACT_APP, token_endpoint_auth_method: 'none' },
      'body.grant_types: client_credentials needs a confidential client (token_endpoint_auth_method none is public)',
    ],
  ])('refuses %j with 400 naming the field', async (body, description) => {
    const res = await createApp(acme.adminToken, body);
    expect(res.statusCode).toBe(400);
    const code = description.includes('not published') ? 'invalid_scope' : 'invalid_request';
    expect(res.json()).toEqual({ error: code, error_description: description });
  });

  it('refuses a body that is not JSON', async () => {
    const res = await h.request({
      method: 'POST',
      url: '/v1/platform/apps',
      headers: { ...bearer(acme.adminToken), 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('invalid_request');
    expect(res.body).not.toMatch(/at .*\.js/);
  });

  it('writes nothing when validation fails', async () => {
    const before = await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from apps');
    await createApp(acme.adminToken, { ...CONTRACT_APP, requested_scopes: ['nope:nope'] });
    const after = await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from apps');
    expect(after[0].n).toBe(before[0].n);
  });

  it('is for tenant admins only', async () => {
    const created = (await createApp(acme.adminToken)).json();
    await h.request({
      method: 'PATCH',
      url: `/v1/platform/apps/${created.client_id}/governance`,
      headers: bearer(acme.adminToken),
      payload: { allow_service_tokens: true },
    });
    const minted = await h.request({
      method: 'POST',
      url: `/v1/platform/apps/${created.client_id}/service-token`,
      headers: bearer(acme.adminToken),
      payload: { scopes: ['webhooks:write'] },
    });
    const appToken = minted.json().token;
    const res = await createApp(appToken);
    expect(res.statusCode).toBe(403);
    expect(res.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="platform:admin"');
    expect(res.json()).toEqual({ error: 'forbidden', error_description: 'this action needs the scope platform:admin' });

    // The app may read its own record, and nothing else.
    const own = await h.request({ method: 'GET', url: `/v1/platform/apps/${created.client_id}`, headers: bearer(appToken) });
    expect(own.statusCode).toBe(200);
    const other = (await createApp(acme.adminToken)).json();
    const foreign = await h.request({ method: 'GET', url: `/v1/platform/apps/${other.client_id}`, headers: bearer(appToken) });
    expect(foreign.statusCode).toBe(404);
  });

  it('refuses an operator token, which belongs to no tenant', async () => {
    const res = await createApp(await h.operatorToken());
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toBe('forbidden');
  });
});

describe('GET /v1/platform/apps', () => {
  it('lists only the caller tenant\'s apps, paginated with an opaque cursor', async () => {
    const tenant = await h.tenant();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createApp(tenant.adminToken, { ...CONTRACT_APP, name: `App ${i}` })).json().client_id);

    const first = await h.request({ method: 'GET', url: '/v1/platform/apps?limit=2', headers: bearer(tenant.adminToken) });
    expect(first.statusCode).toBe(200);
    expect(first.json().apps.map((a: { client_id: string }) => a.client_id)).toEqual(ids.slice(0, 2));
    const cursor = first.json().next_cursor;
    expect(typeof cursor).toBe('string');
    const second = await h.request({ method: 'GET', url: `/v1/platform/apps?limit=2&cursor=${cursor}`, headers: bearer(tenant.adminToken) });
    expect(second.json().apps.map((a: { client_id: string }) => a.client_id)).toEqual(ids.slice(2, 4));
    const third = await h.request({ method: 'GET', url: `/v1/platform/apps?limit=2&cursor=${second.json().next_cursor}`, headers: bearer(tenant.adminToken) });
    expect(third.json()).toMatchObject({ apps: [{ client_id: ids[4] }], next_cursor: null });
  });

  it('refuses a bad limit or cursor with 400', async () => {
    const badLimit = await h.request({ method: 'GET', url: '/v1/platform/apps?limit=1000', headers: bearer(acme.adminToken) });
    expect(badLimit.statusCode).toBe(400);
    expect(badLimit.json()).toEqual({ error: 'invalid_request', error_description: 'querystring.limit must be <= 100' });
    const badCursor = await h.request({ method: 'GET', url: '/v1/platform/apps?cursor=zzz', headers: bearer(acme.adminToken) });
    expect(badCursor.statusCode).toBe(400);
    expect(badCursor.json()).toEqual({ error: 'invalid_request', error_description: 'query.cursor is not a cursor this API returned' });
  });
});

describe('tenant isolation', () => {
  it('answers 404, never 403, for another tenant\'s app, on every route', async () => {
    const theirs = (await createApp(globex.adminToken)).json().client_id;
    const attempts = [
      { method: 'GET' as const, url: `/v1/platform/apps/${theirs}` },
      { method: 'PATCH' as const, url: `/v1/platform/apps/${theirs}/governance`, payload: { enforce_pkce: true } },
      { method: 'POST' as const, url: `/v1/platform/apps/${theirs}/rotate-secret` },
      { method: 'POST' as const, url: `/v1/platform/apps/${theirs}/service-token`, payload: { scopes: ['webhooks:write'] } },
      { method: 'GET' as const, url: `/v1/platform/apps/${theirs}/service-tokens` },
    ];
    for (const attempt of attempts) {
      const res = await h.request({ ...attempt, headers: bearer(acme.adminToken) });
      expect(res.statusCode, `${attempt.method} ${attempt.url}`).toBe(404);
      expect(res.json()).toEqual({ error: 'not_found', error_description: `no app with client_id ${theirs}` });
    }
    const acmeList = await h.request({ method: 'GET', url: '/v1/platform/apps?limit=100', headers: bearer(acme.adminToken) });
    expect(acmeList.body).not.toContain(theirs);
    // Nothing changed on their side.
    const mine = await h.request({ method: 'GET', url: `/v1/platform/apps/${theirs}`, headers: bearer(globex.adminToken) });
    expect(mine.json().governance.enforce_pkce).toBe(false);
  });
});

describe('PATCH /v1/platform/apps/{client_id}/governance', () => {
  it('changes only the flags named and answers {client_id, governance}', async () => {
    const app = (await createApp(acme.adminToken)).json();
    const res = await h.request({
      method: 'PATCH',
      url: `/v1/platform/apps/${app.client_id}/governance`,
      headers: bearer(acme.adminToken),
      payload: { allow_service_tokens: true, enforce_pkce: true },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      client_id: app.client_id,
      governance: { allow_service_tokens: true, enforce_pkce: true, access_token_ttl: 3600, service_token_max_ttl: 2_592_000 },
    });
    const second = await h.request({
      method: 'PATCH',
      url: `/v1/platform/apps/${app.client_id}/governance`,
      headers: bearer(acme.adminToken),
      payload: { access_token_ttl: 900 },
    });
    expect(second.json().governance).toEqual({ allow_service_tokens: true, enforce_pkce: true, access_token_ttl: 900, service_token_max_ttl: 2_592_000 });
  });

  it.each([
    [{ allow_service_tokens: true, redirect_anywhere: true }, "body has unknown field 'redirect_anywhere'"],
    [{}, 'body must NOT have fewer than 1 properties'],
    [{ enforce_pkce: 'yes' }, 'body.enforce_pkce must be boolean'],
    [{ access_token_ttl: 10 }, 'body.access_token_ttl must be >= 60'],
    [{ access_token_ttl: 999_999 }, 'body.access_token_ttl must be at most 86400'],
  ])('refuses %j with 400', async (payload, description) => {
    const app = (await createApp(acme.adminToken)).json();
    const res = await h.request({ method: 'PATCH', url: `/v1/platform/apps/${app.client_id}/governance`, headers: bearer(acme.adminToken), payload });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_request', error_description: description });
    const after = await h.request({ method: 'GET', url: `/v1/platform/apps/${app.client_id}`, headers: bearer(acme.adminToken) });
    expect(after.json().governance).toEqual(app.governance);
  });
});

describe('GET /api/docs', () => {
  it('serves an OpenAPI 3 document of the public routes only', async () => {
    const res = await h.request({ method: 'GET', url: '/api/docs' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/platform/scopes',
        '/v1/platform/apps',
        '/v1/platform/apps/{client_id}',
        '/v1/platform/apps/{client_id}/governance',
        '/v1/platform/apps/{client_id}/rotate-secret',
        '/v1/platform/apps/{client_id}/service-token',
        '/.well-known/jwks.json',
        '/v1/auth/jwks.json',
        '/v1/oauth/authorize',
        '/v1/oauth/token',
        '/v1/oauth/revoke',
        '/v1/oauth/introspect',
        '/.well-known/oauth-authorization-server',
      ]),
    );
    // Internal pages and admin-only plumbing stay out of the public document.
    for (const hidden of ['/healthz', '/readyz', '/api/docs', '/v1/oauth/login', '/v1/oauth/consent', '/v1/platform/users']) {
      expect(doc.paths).not.toHaveProperty(hidden);
    }
    expect(doc.paths['/v1/platform/apps'].post.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['name', 'grant_types', 'requested_scopes']),
    );
  });
});
