// Scopes per tenant (README "Scopes per tenant"): an operator chooses which published scopes a tenant may use; the
// catalog, registration, PATCH, tokens and service tokens follow at once, and tokens already issued lose a withheld
// scope. Operator REST under /api/v1/platform/tenants/{tenant_id}/scopes, and the CLI's tenant-scopes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, tokenRequest, type Harness, type TenantFixture } from './helpers/harness.js';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;
let operator: string;

// Sorted by name, as the catalog lists them; openid, profile and email are OpenID Connect's (README "OpenID Connect").
const PUBLISHED = ['email', 'incidents:read', 'incidents:write', 'openid', 'profile', 'webhooks:read', 'webhooks:write'];

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  operator = await h.operatorToken();
});
afterAll(() => h?.close());

const scopesOf = (tenantId: string, token = operator) => h.request({ method: 'GET', url: `/api/v1/platform/tenants/${tenantId}/scopes`, headers: bearer(token) });
const choose = (tenantId: string, scopes: unknown, token = operator) => h.request({ method: 'PUT', url: `/api/v1/platform/tenants/${tenantId}/scopes`, headers: bearer(token), payload: { scopes } });
const reset = (tenantId: string) => h.request({ method: 'DELETE', url: `/api/v1/platform/tenants/${tenantId}/scopes`, headers: bearer(operator) });
const catalog = async (tenant: TenantFixture) => (await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(tenant.adminToken) })).json().scopes.map((s: { name: string }) => s.name);

describe('an operator choosing a tenant\'s scopes', () => {
  it('lets a tenant use every published scope by default, and narrows it to those chosen, on its own', async () => {
    expect((await scopesOf(acme.tenantId)).json()).toEqual({ tenant_id: acme.tenantId, scopes: PUBLISHED, restricted: false });
    const chosen = await choose(acme.tenantId, ['webhooks:write', 'incidents:read']);
    expect(chosen.statusCode, chosen.body).toBe(200);
    expect(chosen.json()).toEqual({ tenant_id: acme.tenantId, scopes: ['incidents:read', 'webhooks:write'], restricted: true });
    expect(await catalog(acme)).toEqual(['incidents:read', 'webhooks:write']);
    expect(await catalog(globex)).toEqual(PUBLISHED);

    const audit = await h.request({ method: 'GET', url: '/v1/platform/audit-events?action=tenant.scopes_changed', headers: bearer(acme.adminToken) });
    expect(audit.json().events[0]).toMatchObject({ actor: 'operator', target_id: acme.tenantId, details: { before: null, after: ['incidents:read', 'webhooks:write'] } });

    const back = await reset(acme.tenantId);
    expect(back.json()).toEqual({ tenant_id: acme.tenantId, scopes: PUBLISHED, restricted: false });
    expect(await catalog(acme)).toEqual(PUBLISHED);
  });

  it('refuses unknown and unpublished scopes, other callers, and unknown tenants', async () => {
    expect((await choose(acme.tenantId, ['incidents:export'])).json()).toEqual({ error: 'invalid_scope', error_description: 'body.scopes names scopes that are not published: incidents:export' });
    expect((await choose(acme.tenantId, ['no:such'])).statusCode).toBe(400);
    expect((await choose(acme.tenantId, 'incidents:read')).json()).toEqual({ error: 'invalid_request', error_description: 'body.scopes must be array' });
    expect((await choose(acme.tenantId, ['incidents:read'], acme.adminToken)).json()).toEqual({ error: 'forbidden', error_description: 'this action needs the scope platform:operator' });
    expect((await scopesOf('ten_nope')).json()).toEqual({ error: 'not_found', error_description: 'no tenant ten_nope' });
    expect((await scopesOf(acme.tenantId)).json().restricted).toBe(false);
  });
});

describe('a tenant narrowed by an operator', () => {
  it('cannot register, edit, issue or mint a withheld scope, and its tokens lose it at once', async () => {
    const app = await h.registerApp(globex, { name: 'Sync', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read', 'webhooks:read'] });
    const basic = { id: app.client_id, secret: app.client_secret! };
    const token = (await tokenRequest(h, { grant_type: 'client_credentials' }, basic)).json().access_token;
    await h.request({ method: 'PATCH', url: `/v1/platform/apps/${app.client_id}/governance`, headers: bearer(globex.adminToken), payload: { allow_service_tokens: true } });
    const readWebhooks = async () => (await h.request({ method: 'GET', url: '/v1/webhooks', headers: bearer(token) })).statusCode;
    expect(await readWebhooks()).toBe(200);

    expect((await choose(globex.tenantId, ['incidents:read', 'incidents:write'])).statusCode).toBe(200);

    const WITHHELD = (field: string) => ({ error: 'invalid_scope', error_description: `${field} names scopes that are not available to this tenant: webhooks:read` });
    const registered = await h.request({ method: 'POST', url: '/v1/platform/apps', headers: bearer(globex.adminToken), payload: { name: 'Other', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['webhooks:read'] } });
    expect({ status: registered.statusCode, body: registered.json() }).toEqual({ status: 400, body: WITHHELD('body.requested_scopes') });
    const patched = await h.request({ method: 'PATCH', url: `/v1/platform/apps/${app.client_id}`, headers: bearer(globex.adminToken), payload: { requested_scopes: ['incidents:read', 'webhooks:read'] } });
    expect(patched.json()).toEqual(WITHHELD('body.requested_scopes'));
    const minted = await h.request({ method: 'POST', url: `/v1/platform/apps/${app.client_id}/service-token`, headers: bearer(globex.adminToken), payload: { scopes: ['webhooks:read'] } });
    expect(minted.json()).toEqual(WITHHELD('body.scopes'));
    const asked = await tokenRequest(h, { grant_type: 'client_credentials', scope: 'webhooks:read' }, basic);
    expect(asked.json()).toEqual({ error: 'invalid_scope', error_description: 'scope not allowed for this client: webhooks:read' });
    const issued = await tokenRequest(h, { grant_type: 'client_credentials' }, basic);
    expect(issued.json().scope).toBe('incidents:read');

    // The token issued before keeps incidents:read and loses webhooks:read (README "Scopes per tenant").
    const refused = await h.request({ method: 'GET', url: '/v1/webhooks', headers: bearer(token) });
    expect({ status: refused.statusCode, body: refused.json() }).toEqual({ status: 403, body: { error: 'forbidden', error_description: 'this action needs the scope webhooks:read' } });

    // The app keeps what it was approved for: given back to the tenant, the scope works again.
    expect((await reset(globex.tenantId)).statusCode).toBe(200);
    expect(await readWebhooks()).toBe(200);
  });

  it('is chosen from the CLI too, by the tenant\'s slug', async () => {
    const shown = await h.cli(['tenant-scopes', '--tenant', 'acme', '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual({ tenant_id: acme.tenantId, tenant_slug: 'acme', scopes: PUBLISHED, restricted: false });
    const set = await h.cli(['tenant-scopes', '--tenant', 'acme', '--set', 'incidents:read,webhooks:read', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ scopes: ['incidents:read', 'webhooks:read'], restricted: true });
    // The server (this process) follows the CLI's change at once, through NOTIFY.
    await expect.poll(() => catalog(acme)).toEqual(['incidents:read', 'webhooks:read']);
    const all = await h.cli(['tenant-scopes', '--tenant', 'acme', '--all', '--json']);
    expect(JSON.parse(all.stdout)).toMatchObject({ scopes: PUBLISHED, restricted: false });

    const cases: Array<[string[], string]> = [
      [['tenant-scopes'], '--tenant is required'],
      [['tenant-scopes', '--tenant', 'acme', '--set', 'a,b', '--all'], '--set and --all exclude each other'],
      [['tenant-scopes', '--tenant', 'acme', '--set', ','], '--set needs at least one scope'],
      [['tenant-scopes', '--tenant', 'acme', '--set', 'incidents:read,incidents:read'], '--set names a scope twice'],
      [['tenant-scopes', '--tenant', 'nope'], 'no tenant with slug nope'],
      [['tenant-scopes', '--tenant', 'acme', '--set', 'incidents:export'], 'body.scopes names scopes that are not published: incidents:export'],
    ];
    for (const [args, message] of cases) {
      const res = await h.cli(args);
      expect({ args, code: res.code }).toEqual({ args, code: 2 });
      expect(res.stderr).toContain(message);
    }
  });
});
