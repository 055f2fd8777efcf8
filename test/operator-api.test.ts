// The operator's REST routes the console reads (README "Console", "Signing keys", "Operation bundles"): every tenant
// and one tenant with its counts (GET /api/v1/platform/tenants[/{tenant_id}]), the signing keys and their rotation
// (GET /api/v1/platform/keys, POST /api/v1/platform/keys/rotate), and who holds a bundle
// (GET /api/v1/platform/bundles/{bundle}/assignments). Operator only: a tenant admin's token is 403, an app's too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishShippedBundles } from './helpers/graphql.js';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;
let operator: string;

const DAY = 86_400_000;
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
const FORBIDDEN = { error: 'forbidden', error_description: 'this action needs the scope platform:operator' };

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  operator = await h.operatorToken();
  await publishShippedBundles(h);
});
afterAll(() => h?.close());

const get = (url: string, token = operator) => h.request({ method: 'GET', url, headers: bearer(token) });
const answer = (res: { statusCode: number; json(): unknown }) => ({ status: res.statusCode, body: res.json() });

describe('GET /api/v1/platform/tenants', () => {
  it('lists every tenant oldest first, sandboxes with their term, paginated, and filters by sandbox', async () => {
    const sandbox = await h.request({ method: 'POST', url: '/api/v1/platform/sandboxes', headers: bearer(operator), payload: { name: 'Lab', slug: 'lab', admin_email: 'dev@lab.test', ttl_days: 3 } });
    expect(sandbox.statusCode, sandbox.body).toBe(201);
    const { tenant } = await h.runtime.services.tenancy.createOperator(h.runtime.orm.em.fork(), { email: 'ops@tessera.test', password: 'an operator password' }, 'test');

    const all = await get('/api/v1/platform/tenants');
    expect(all.statusCode, all.body).toBe(200);
    expect(all.json()).toEqual({
      tenants: [
        { id: acme.tenantId, slug: 'acme', name: 'Tenant acme', sandbox: false, operators: false, status: 'active', parent_tenant_id: null, created_at: ISO, expires_at: null, disabled_at: null },
        { id: globex.tenantId, slug: 'globex', name: 'Tenant globex', sandbox: false, operators: false, status: 'active', parent_tenant_id: null, created_at: ISO, expires_at: null, disabled_at: null },
        { id: sandbox.json().tenant_id, slug: 'lab', name: 'Lab', sandbox: true, operators: false, status: 'active', parent_tenant_id: null, created_at: ISO, expires_at: sandbox.json().expires_at, disabled_at: null },
        { id: tenant.id, slug: 'operators', name: 'Tessera operators', sandbox: false, operators: true, status: 'active', parent_tenant_id: null, created_at: ISO, expires_at: null, disabled_at: null },
      ],
      next_cursor: null,
    });

    const first = await get('/api/v1/platform/tenants?limit=2');
    expect(first.json().tenants.map((t: { slug: string }) => t.slug)).toEqual(['acme', 'globex']);
    const second = await get(`/api/v1/platform/tenants?limit=2&cursor=${first.json().next_cursor}`);
    expect(second.json()).toEqual({ tenants: all.json().tenants.slice(2), next_cursor: null });

    expect((await get('/api/v1/platform/tenants?sandbox=true')).json().tenants.map((t: { slug: string }) => t.slug)).toEqual(['lab']);
    expect((await get('/api/v1/platform/tenants?sandbox=false')).json().tenants.map((t: { slug: string }) => t.slug)).toEqual(['acme', 'globex', 'operators']);

    // Past its term a sandbox is expired at once, before any sweep has run.
    await h.clock.advance(3 * DAY + 1000);
    const expired = await get(`/api/v1/platform/tenants/${sandbox.json().tenant_id}`);
    expect(expired.json()).toMatchObject({ status: 'expired', disabled_at: null });
  });

  it('refuses a bad cursor, a bad filter and unknown parameters with 400 naming them', async () => {
    expect(answer(await get('/api/v1/platform/tenants?cursor=bm90IGEgY3Vyc29y'))).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'query.cursor is not a cursor this API returned' } });
    expect(answer(await get('/api/v1/platform/tenants?sandbox=maybe'))).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'querystring.sandbox must be boolean' } });
    expect((await get('/api/v1/platform/tenants?limit=0')).statusCode).toBe(400);
    expect((await get('/api/v1/platform/tenants?tenant=acme')).statusCode).toBe(400);
  });
});

describe('GET /api/v1/platform/tenants/{tenant_id}', () => {
  it('answers one tenant with its sign-in policy and how many apps and users it has', async () => {
    await h.registerApp(acme);
    const doomed = await h.registerApp(acme);
    expect((await h.request({ method: 'DELETE', url: `/v1/platform/apps/${doomed.client_id}`, headers: bearer(acme.adminToken) })).statusCode).toBe(204);
    await h.request({ method: 'POST', url: '/v1/platform/users', headers: bearer(acme.adminToken), payload: { email: 'member@acme.test', password: 'a long enough password', roles: ['member'] } });

    const res = await get(`/api/v1/platform/tenants/${acme.tenantId}`);
    expect(answer(res)).toEqual({
      status: 200,
      body: {
        id: acme.tenantId,
        slug: 'acme',
        name: 'Tenant acme',
        sandbox: false,
        operators: false,
        status: 'active',
        parent_tenant_id: null,
        created_at: ISO,
        expires_at: null,
        disabled_at: null,
        mfa_required: 'none',
        federation_required: false,
        // The deleted app is a tombstone, not counted.
        app_count: 1,
        user_count: 2,
      },
    });
    expect((await get(`/api/v1/platform/tenants/${globex.tenantId}`)).json()).toMatchObject({ slug: 'globex', app_count: 0, user_count: 1 });
    expect(answer(await get('/api/v1/platform/tenants/ten_nope'))).toEqual({ status: 404, body: { error: 'not_found', error_description: 'no tenant ten_nope' } });
  });
});

describe('the signing keys', () => {
  it('lists the keys newest first with their states and horizons, never private material, paginated', async () => {
    const res = await get('/api/v1/platform/keys');
    expect(res.statusCode, res.body).toBe(200);
    const { keys, next_cursor: next } = res.json();
    expect(next).toBeNull();
    expect(keys.map((k: { state: string }) => k.state).sort()).toEqual(['active', 'next']);
    const active = keys.find((k: { state: string }) => k.state === 'active');
    expect(active).toEqual({ kid: expect.any(String), alg: 'RS256', state: 'active', created_at: ISO, activated_at: ISO, retired_at: null, published_until: null, token_horizon: ISO });
    expect(keys.find((k: { state: string }) => k.state === 'next')).toMatchObject({ activated_at: null, token_horizon: null });
    for (const secret of ['private', '"d"', 'sealed', 'BEGIN']) expect(res.body).not.toContain(secret);

    const page = await get('/api/v1/platform/keys?limit=1');
    expect(page.json().keys).toEqual([keys[0]]);
    expect((await get(`/api/v1/platform/keys?limit=1&cursor=${page.json().next_cursor}`)).json()).toEqual({ keys: [keys[1]], next_cursor: null });
  });

  it('rotates: the next key signs, the active one is retired and stays published, a new next key appears; audited', async () => {
    const before = (await get('/api/v1/platform/keys')).json().keys as Array<{ kid: string; state: string }>;
    const rotated = await h.request({ method: 'POST', url: '/api/v1/platform/keys/rotate', headers: bearer(operator) });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const body = rotated.json();
    expect(body).toEqual({ activated: before.find((k) => k.state === 'next')!.kid, retired: before.find((k) => k.state === 'active')!.kid, next: expect.any(String) });

    const after = (await get('/api/v1/platform/keys')).json().keys as Array<{ kid: string; state: string; retired_at: string | null; published_until: string | null }>;
    expect(Object.fromEntries(after.map((k) => [k.kid, k.state]))).toEqual({ [body.activated]: 'active', [body.retired]: 'retired', [body.next]: 'next' });
    expect(after.find((k) => k.kid === body.retired)).toMatchObject({ retired_at: ISO, published_until: ISO });
    const jwks = (await h.request({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys.map((k: { kid: string }) => k.kid);
    expect(jwks.sort()).toEqual([body.activated, body.retired, body.next].sort());

    const [audit] = await h.runtime.orm.em.fork().getConnection().execute("select actor, target_id, details from platform_audit_events where action = 'signing_key.rotated' order by created_at desc limit 1");
    expect(audit).toEqual({ actor: 'operator', target_id: body.activated, details: { retired: body.retired, next: body.next } });
  });
});

describe('GET /api/v1/platform/bundles/{bundle}/assignments', () => {
  it('names every app holding the bundle, its tenant, track and the version it resolves to, across tenants, paginated', async () => {
    const reader = await h.registerApp(acme, { name: 'Acme reader', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] });
    const other = await h.registerApp(globex, { name: 'Globex reader', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] });
    const assign = (clientId: string, payload: object) => h.request({ method: 'POST', url: `/api/v1/platform/apps/${clientId}/bundles`, headers: bearer(operator), payload });
    expect((await assign(reader.client_id, { bundle: 'incident-read' })).statusCode).toBe(201);
    await h.clock.advance(1000);
    expect((await assign(other.client_id, { bundle: 'incident-read', version: '2.0.0' })).statusCode).toBe(201);

    const res = await get('/api/v1/platform/bundles/incident-read/assignments');
    expect(answer(res)).toEqual({
      status: 200,
      body: {
        bundle: 'incident-read',
        assignments: [
          { client_id: reader.client_id, app_name: 'Acme reader', tenant_id: acme.tenantId, track: 'latest', version: '2.0.0', status: 'published', assigned_at: expect.any(String), assigned_by: 'operator' },
          { client_id: other.client_id, app_name: 'Globex reader', tenant_id: globex.tenantId, track: '2.0.0', version: '2.0.0', status: 'published', assigned_at: expect.any(String), assigned_by: 'operator' },
        ],
        next_cursor: null,
      },
    });
    const first = await get('/api/v1/platform/bundles/incident-read/assignments?limit=1');
    expect(first.json().assignments).toEqual([res.json().assignments[0]]);
    const second = await get(`/api/v1/platform/bundles/incident-read/assignments?limit=1&cursor=${first.json().next_cursor}`);
    expect(second.json()).toEqual({ bundle: 'incident-read', assignments: [res.json().assignments[1]], next_cursor: null });

    expect((await get('/api/v1/platform/bundles/incident-sync/assignments')).json()).toEqual({ bundle: 'incident-sync', assignments: [], next_cursor: null });
    expect(answer(await get('/api/v1/platform/bundles/no-such/assignments'))).toEqual({ status: 404, body: { error: 'not_found', error_description: 'no published bundle no-such' } });
    expect(answer(await get('/api/v1/platform/bundles/Bad_Name/assignments'))).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'bundle name must be lowercase letters, digits and dashes' },
    });
    expect(answer(await get('/api/v1/platform/bundles/incident-read/assignments?cursor=bm90IGEgY3Vyc29y'))).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'query.cursor is not a cursor this API returned' },
    });
  });
});

describe('operator only', () => {
  it('answers 401 without a token, and 403 to a tenant admin and to an app', async () => {
    const partner = await h.appWithToken(acme);
    const routes: Array<[string, string]> = [
      ['GET', '/api/v1/platform/tenants'],
      ['GET', `/api/v1/platform/tenants/${acme.tenantId}`],
      ['GET', '/api/v1/platform/keys'],
      ['POST', '/api/v1/platform/keys/rotate'],
      ['GET', '/api/v1/platform/bundles/incident-read/assignments'],
    ];
    const keysBefore = (await get('/api/v1/platform/keys')).json();
    for (const [method, url] of routes) {
      for (const token of [acme.adminToken, partner.token]) {
        const res = await h.request({ method: method as 'GET' | 'POST', url, headers: bearer(token) });
        expect(answer(res), `${method} ${url}`).toEqual({ status: 403, body: FORBIDDEN });
      }
      const anonymous = await h.request({ method: method as 'GET' | 'POST', url });
      expect(anonymous.statusCode, `${method} ${url}`).toBe(401);
    }
    // Nothing was rotated by the refused calls.
    expect((await get('/api/v1/platform/keys')).json()).toEqual(keysBefore);
  });

  it('stays out of the public OpenAPI document', async () => {
    const paths = Object.keys((await h.request({ method: 'GET', url: '/api/docs' })).json().paths);
    for (const path of paths) expect(path.startsWith('/api/v1/platform')).toBe(false);
  });
});
