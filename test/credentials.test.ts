// Client secrets (write-once, rotation with a grace period), service tokens (mint, list, revoke at once)
// and the audit log that records each of these actions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { startRuntime } from '../src/runtime.js';
import { bearer, MACHINE_APP, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
});
afterAll(() => h?.close());

const newApp = (tenant: TenantFixture, overrides: object = {}) =>
  h.registerApp(tenant, { ...MACHINE_APP, name: 'Connector', requested_scopes: ['webhooks:write', 'incidents:read'], ...overrides });

async function allowServiceTokens(tenant: TenantFixture, clientId: string, allow = true) {
  const res = await h.request({
    method: 'PATCH',
    url: `/v1/platform/apps/${clientId}/governance`,
    headers: bearer(tenant.adminToken),
    payload: { allow_service_tokens: allow },
  });
  expect(res.statusCode).toBe(200);
}

const rotate = (tenant: TenantFixture, clientId: string, payload?: object) =>
  h.request({ method: 'POST', url: `/v1/platform/apps/${clientId}/rotate-secret`, headers: bearer(tenant.adminToken), ...(payload ? { payload } : {}) });

const secretWorks = async (clientId: string, secret: string) => (await h.runtime.services.clients.verifySecret(clientId, secret)) !== null;

describe('POST /v1/platform/apps/{client_id}/rotate-secret', () => {
  it('returns a new write-once secret; the previous one works for 24 h by default', async () => {
    const app = await newApp(acme);
    const before = Date.now();
    const res = await rotate(acme, app.client_id); // no body at all, as in the contract's curl
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['client_id', 'client_secret', 'previous_secret_expires_at']);
    expect(body.client_id).toBe(app.client_id);
    expect(body.client_secret).not.toBe(app.client_secret);
    const until = new Date(body.previous_secret_expires_at).getTime();
    expect(until).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 86_400_000 - 1000);
    expect(until).toBeLessThanOrEqual(Date.now() + 86_400_000);

    expect(await secretWorks(app.client_id, app.client_secret!)).toBe(true);
    expect(await secretWorks(app.client_id, body.client_secret)).toBe(true);
    expect(await secretWorks(app.client_id, 'tsec_wrong')).toBe(false);

    // Stored only as a SHA-256 digest.
    const rows = await h.runtime.orm.em.fork().getConnection().execute('select secret_hash from client_secrets where app_id = ?', [app.client_id]);
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.secret_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(row.secret_hash).not.toContain(body.client_secret);
    }
  });

  it('ends the previous secret at once with grace_period_seconds 0', async () => {
    const app = await newApp(acme);
    const res = await rotate(acme, app.client_id, { grace_period_seconds: 0 });
    expect(res.statusCode).toBe(200);
    expect(await secretWorks(app.client_id, app.client_secret!)).toBe(false);
    expect(await secretWorks(app.client_id, res.json().client_secret)).toBe(true);
  });

  it('shortens, never lengthens, the grace of older secrets on a second rotation', async () => {
    const app = await newApp(acme);
    const first = (await rotate(acme, app.client_id, { grace_period_seconds: 3600 })).json();
    const second = (await rotate(acme, app.client_id, { grace_period_seconds: 0 })).json();
    expect(await secretWorks(app.client_id, app.client_secret!)).toBe(false);
    expect(await secretWorks(app.client_id, first.client_secret)).toBe(false);
    expect(await secretWorks(app.client_id, second.client_secret)).toBe(true);
  });

  it('refuses bad input and public clients', async () => {
    const app = await newApp(acme);
    const negative = await rotate(acme, app.client_id, { grace_period_seconds: -1 });
    expect(negative.statusCode).toBe(400);
    expect(negative.json().error).toBe('invalid_request');
    const tooLong = await rotate(acme, app.client_id, { grace_period_seconds: 90 * 86_400 });
    expect(tooLong.json()).toEqual({ error: 'invalid_request', error_description: 'body.grace_period_seconds must be between 0 and 2592000' });
    const unknown = await rotate(acme, app.client_id, { grace: 5 });
    expect(unknown.json()).toEqual({ error: 'invalid_request', error_description: "body has unknown field 'grace'" });
    expect(await secretWorks(app.client_id, app.client_secret!)).toBe(true);

    const publicApp = await newApp(acme, {
      grant_types: ['authorization_code'],
      redirect_uris: ['https://integrator.example/cb'],
      token_endpoint_auth_method: 'none',
    });
    const res = await rotate(acme, publicApp.client_id);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_request', error_description: `app ${publicApp.client_id} is a public client and has no secret` });
  });
});

describe('service tokens', () => {
  it('are refused while governance allow_service_tokens is false', async () => {
    const app = await newApp(acme);
    const res = await h.request({
      method: 'POST',
      url: `/v1/platform/apps/${app.client_id}/service-token`,
      headers: bearer(acme.adminToken),
      payload: { scopes: ['webhooks:write'] },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({
      error: 'forbidden',
      error_description: `service tokens are not allowed for app ${app.client_id}; a tenant admin can enable governance.allow_service_tokens`,
    });
  });

  it('are minted as {token, expires_at} with scopes from the approved set, and work at once', async () => {
    const app = await newApp(acme);
    await allowServiceTokens(acme, app.client_id);
    const res = await h.request({
      method: 'POST',
      url: `/v1/platform/apps/${app.client_id}/service-token`,
      headers: bearer(acme.adminToken),
      payload: { scopes: ['webhooks:write'], expires_in: 7200 },
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body).toEqual({
      id: expect.stringMatching(/^stk_/),
      token: expect.any(String),
      token_type: 'Bearer',
      scopes: ['webhooks:write'],
      expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    const lifetime = new Date(body.expires_at).getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(7100_000);
    expect(lifetime).toBeLessThanOrEqual(7200_000);

    const claims = JSON.parse(Buffer.from(body.token.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({ sub: app.client_id, client_id: app.client_id, tenant_id: acme.tenantId, scope: 'webhooks:write', jti: body.id });
    const use = await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(body.token) });
    expect(use.statusCode).toBe(200);
  });

  it.each([
    [{ scopes: ['incidents:write'] }, 400, 'invalid_scope', 'body.scopes are not approved for this app: incidents:write'],
    [{ scopes: [] }, 400, 'invalid_request', 'body.scopes must NOT have fewer than 1 items'],
    [{ scopes: ['webhooks:write'], expires_in: 400 * 86_400 }, 400, 'invalid_request', 'body.expires_in must be at most 2592000 (governance.service_token_max_ttl)'],
    [{ scopes: ['webhooks:write'], expires_in: 5 }, 400, 'invalid_request', 'body.expires_in must be >= 60'],
    [{ scopes: ['webhooks:write'], audience: 'x' }, 400, 'invalid_request', "body has unknown field 'audience'"],
  ])('refuses %j', async (payload, status, error, description) => {
    const app = await newApp(acme);
    await allowServiceTokens(acme, app.client_id);
    const res = await h.request({ method: 'POST', url: `/v1/platform/apps/${app.client_id}/service-token`, headers: bearer(acme.adminToken), payload });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ error, error_description: description });
    const [{ n }] = await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from service_tokens where app_id = ?', [app.client_id]);
    expect(n).toBe(0);
  });

  it('are listed and revoked; a revoked token stops working at once, on every process', async () => {
    const app = await newApp(acme);
    await allowServiceTokens(acme, app.client_id);
    const mint = async () =>
      (await h.request({ method: 'POST', url: `/v1/platform/apps/${app.client_id}/service-token`, headers: bearer(acme.adminToken), payload: { scopes: ['incidents:read'] } })).json();
    const first = await mint();
    const second = await mint();

    // A second Tessera process on the same database, as behind a load balancer.
    const other = await startRuntime(h.config, { embeddedMode: 'own', background: true });
    const otherApp = await buildApp(h.config, other);
    try {
      const onOther = () => otherApp.inject({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(first.token) });
      expect((await onOther()).statusCode).toBe(200); // now cached as verified there

      const list = await h.request({ method: 'GET', url: `/v1/platform/apps/${app.client_id}/service-tokens`, headers: bearer(acme.adminToken) });
      expect(list.statusCode).toBe(200);
      expect(list.json()).toEqual({
        service_tokens: [
          expect.objectContaining({ id: first.id, client_id: app.client_id, scopes: ['incidents:read'], status: 'active', created_by: acme.userId, revoked_at: null }),
          expect.objectContaining({ id: second.id, status: 'active' }),
        ],
        next_cursor: null,
      });
      expect(list.body).not.toContain(first.token);

      const revoke = await h.request({ method: 'DELETE', url: `/v1/platform/apps/${app.client_id}/service-tokens/${first.id}`, headers: bearer(acme.adminToken) });
      expect(revoke.statusCode).toBe(204);
      expect(revoke.body).toBe('');

      const here = await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(first.token) });
      expect(here.statusCode).toBe(401);
      expect(here.json()).toEqual({ error: 'unauthorized', error_description: 'token has been revoked' });
      await expect.poll(async () => (await onOther()).statusCode, { timeout: 2000, interval: 20 }).toBe(401);
      expect((await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(second.token) })).statusCode).toBe(200);

      const after = await h.request({ method: 'GET', url: `/v1/platform/apps/${app.client_id}/service-tokens?limit=1`, headers: bearer(acme.adminToken) });
      expect(after.json().service_tokens[0]).toMatchObject({ id: first.id, status: 'revoked', revoked_at: expect.any(String) });
      expect(after.json().next_cursor).toEqual(expect.any(String));

      // Revoking again is harmless; an unknown token id is a 404.
      expect((await h.request({ method: 'DELETE', url: `/v1/platform/apps/${app.client_id}/service-tokens/${first.id}`, headers: bearer(acme.adminToken) })).statusCode).toBe(204);
      const unknown = await h.request({ method: 'DELETE', url: `/v1/platform/apps/${app.client_id}/service-tokens/stk_nope`, headers: bearer(acme.adminToken) });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json()).toEqual({ error: 'not_found', error_description: `no service token stk_nope for app ${app.client_id}` });
    } finally {
      await otherApp.close();
      await other.close();
    }
  });

  it('revocation survives a restart: a new process loads the revocation list', async () => {
    const app = await newApp(acme);
    await allowServiceTokens(acme, app.client_id);
    const minted = (await h.request({ method: 'POST', url: `/v1/platform/apps/${app.client_id}/service-token`, headers: bearer(acme.adminToken), payload: { scopes: ['incidents:read'] } })).json();
    await h.request({ method: 'DELETE', url: `/v1/platform/apps/${app.client_id}/service-tokens/${minted.id}`, headers: bearer(acme.adminToken) });
    const fresh = await startRuntime(h.config, { embeddedMode: 'own', background: false });
    try {
      await expect(fresh.tokens.verify(minted.token)).rejects.toThrow('token has been revoked');
    } finally {
      await fresh.close();
    }
  });

  it('cannot be used to reach another tenant\'s service tokens', async () => {
    const theirs = await newApp(globex);
    await allowServiceTokens(globex, theirs.client_id);
    const minted = (await h.request({ method: 'POST', url: `/v1/platform/apps/${theirs.client_id}/service-token`, headers: bearer(globex.adminToken), payload: { scopes: ['incidents:read'] } })).json();
    const res = await h.request({ method: 'DELETE', url: `/v1/platform/apps/${theirs.client_id}/service-tokens/${minted.id}`, headers: bearer(acme.adminToken) });
    expect(res.statusCode).toBe(404);
    expect((await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(minted.token) })).statusCode).toBe(200);
  });
});

describe('GET /v1/platform/audit-events', () => {
  it('records every admin action with actor, tenant, target and time, and shows a tenant only its own', async () => {
    const tenant = await h.tenant();
    const app = await newApp(tenant);
    await allowServiceTokens(tenant, app.client_id);
    await rotate(tenant, app.client_id, { grace_period_seconds: 60 });
    const minted = (await h.request({ method: 'POST', url: `/v1/platform/apps/${app.client_id}/service-token`, headers: bearer(tenant.adminToken), payload: { scopes: ['incidents:read'] } })).json();
    await h.request({ method: 'DELETE', url: `/v1/platform/apps/${app.client_id}/service-tokens/${minted.id}`, headers: bearer(tenant.adminToken) });

    const res = await h.request({ method: 'GET', url: '/v1/platform/audit-events', headers: bearer(tenant.adminToken) });
    expect(res.statusCode).toBe(200);
    const events = res.json().events as Array<Record<string, unknown>>;
    expect(events.map((e) => [e.action, e.target_id, e.actor])).toEqual([
      ['service_token.revoked', minted.id, tenant.userId],
      ['service_token.minted', minted.id, tenant.userId],
      ['app.secret_rotated', app.client_id, tenant.userId],
      ['app.governance_changed', app.client_id, tenant.userId],
      ['app.created', app.client_id, tenant.userId],
      ['tenant.bootstrapped', tenant.tenantId, 'operator'],
    ]);
    expect(events[3]).toMatchObject({
      target_type: 'app',
      details: { before: { allow_service_tokens: false }, after: { allow_service_tokens: true } },
      created_at: expect.stringMatching(/Z$/),
    });
    expect(res.body).not.toContain(minted.token);

    const paged = await h.request({ method: 'GET', url: '/v1/platform/audit-events?limit=4', headers: bearer(tenant.adminToken) });
    const rest = await h.request({ method: 'GET', url: `/v1/platform/audit-events?limit=4&cursor=${paged.json().next_cursor}`, headers: bearer(tenant.adminToken) });
    expect(rest.json().events.map((e: { action: string }) => e.action)).toEqual(['app.created', 'tenant.bootstrapped']);

    const filtered = await h.request({ method: 'GET', url: '/v1/platform/audit-events?action=app.created', headers: bearer(tenant.adminToken) });
    expect(filtered.json().events).toHaveLength(1);

    const foreign = await h.request({ method: 'GET', url: '/v1/platform/audit-events?limit=100', headers: bearer(acme.adminToken) });
    expect(foreign.body).not.toContain(app.client_id);
  });
});
