// Sandbox tenants (README "Sandbox tenants"): made by an operator (REST and CLI) with a first admin and sample
// incidents; marked sandbox in every token, introspection and the scope catalog; held to their own lower limit at the
// token endpoint; never able to reach another tenant; refused once past their term; removed, with every row of the
// tenant, after the grace period, the platform's audit log keeping the record. The clock moves instead of sleeping and
// the test runs the sweep itself.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_CLIENT_ID } from './helpers/harness.js';
import { gql, operationId, publishShippedBundles } from './helpers/graphql.js';
import { bearer, startHarness, tokenRequest, type Harness, type TenantFixture } from './helpers/harness.js';

let h: Harness;
let acme: TenantFixture;
let operator: string;

const DAY = 86_400_000;
const LIST = `sha256:${operationId('incident-read', 'ListIncidents')}`;
const SANDBOX_LIMIT = 3;

beforeAll(async () => {
  h = await startHarness({ SANDBOX_RATE_LIMIT_TOKEN_PER_CLIENT: String(SANDBOX_LIMIT), SANDBOX_REMOVE_AFTER_DAYS: '7' });
  acme = await h.tenant('acme');
  operator = await h.operatorToken();
  await publishShippedBundles(h);
});
afterAll(() => h?.close());

const create = (payload: object, token = operator) => h.request({ method: 'POST', url: '/api/v1/platform/sandboxes', headers: bearer(token), payload });
const sandboxList = async () => (await h.request({ method: 'GET', url: '/api/v1/platform/sandboxes?limit=100', headers: bearer(operator) })).json().sandboxes;

/** A client_credentials app of the sandbox holding incident-read, registered by its admin. */
async function sandboxApp(adminToken: string) {
  const res = await h.request({
    method: 'POST',
    url: '/v1/platform/apps',
    headers: bearer(adminToken),
    payload: { name: 'Try-out connector', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read', 'webhooks:read'] },
  });
  expect(res.statusCode, res.body).toBe(201);
  const assigned = await h.request({ method: 'POST', url: `/api/v1/platform/apps/${res.json().client_id}/bundles`, headers: bearer(operator), payload: { bundle: 'incident-read' } });
  expect(assigned.statusCode).toBe(201);
  return { clientId: res.json().client_id as string, secret: res.json().client_secret as string };
}

const clientToken = (app: { clientId: string; secret: string }) => tokenRequest(h, { grant_type: 'client_credentials' }, { id: app.clientId, secret: app.secret });

describe('POST /api/v1/platform/sandboxes', () => {
  it('makes a sandbox tenant with its admin (password shown once) and sample incidents', async () => {
    const res = await create({ name: 'Acme try-out', admin_email: 'Dev@Acme.test', ttl_days: 10 });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body).toEqual({
      tenant_id: expect.stringMatching(/^ten_/),
      tenant_slug: expect.stringMatching(/^acme-try-out-[0-9a-f]{8}$/),
      name: 'Acme try-out',
      sandbox: true,
      status: 'active',
      parent_tenant_id: null,
      created_at: expect.any(String),
      expires_at: expect.any(String),
      disabled_at: null,
      admin_user_id: expect.stringMatching(/^usr_/),
      admin_email: 'dev@acme.test',
      admin_password: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/),
      admin_access_token: expect.any(String),
      sample_incidents: 5,
    });
    expect(Date.parse(body.expires_at) - Date.parse(body.created_at)).toBe(10 * DAY);
    expect(decodeJwt(body.admin_access_token)).toMatchObject({ tenant_id: body.tenant_id, sandbox: true, scope: 'platform:admin', sub: body.admin_user_id });
    expect(await sandboxList()).toContainEqual({ ...body, admin_user_id: undefined, admin_email: undefined, admin_password: undefined, admin_access_token: undefined, sample_incidents: undefined });
    const [{ n }] = await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from platform_audit_events where action = ? and target_id = ?', ['sandbox.created', body.tenant_id]);
    expect(n).toBe(1);
  });

  it('refuses bad input naming the field, a taken slug, and anyone but an operator', async () => {
    const cases: Array<[object, number, string]> = [
      [{ name: 'x' }, 400, 'body.admin_email is required'],
      [{ name: 'x', admin_email: 'nobody' }, 400, 'body.admin_email must be an email address'],
      [{ name: 'x', admin_email: 'a@b.test', ttl_days: 0 }, 400, 'body.ttl_days must be >= 1'],
      [{ name: 'x', admin_email: 'a@b.test', ttl_days: 400 }, 400, 'body.ttl_days must be <= 365'],
      [{ name: 'x', admin_email: 'a@b.test', slug: 'Bad Slug' }, 400, 'body.slug must match pattern "^[a-z0-9][a-z0-9-]{1,62}$"'],
      [{ name: 'x', admin_email: 'a@b.test', slug: 'acme' }, 409, 'a tenant with slug acme already exists'],
      [{ name: '   ', admin_email: 'a@b.test' }, 400, 'body.name must match pattern "\\S"'],
    ];
    for (const [payload, status, description] of cases) {
      const res = await create(payload);
      expect({ payload, status: res.statusCode, description: res.json().error_description }).toEqual({ payload, status, description });
    }
    expect((await create({ name: 'x', admin_email: 'a@b.test' }, acme.adminToken)).json()).toEqual({ error: 'forbidden', error_description: 'this action needs the scope platform:operator' });
  });
});

describe('a sandbox in use', () => {
  let sandbox: { tenantId: string; adminToken: string };
  let app: { clientId: string; secret: string };

  beforeAll(async () => {
    const body = (await create({ name: 'Integration lab', admin_email: 'lab@acme.test' })).json();
    sandbox = { tenantId: body.tenant_id, adminToken: body.admin_access_token };
    app = await sandboxApp(sandbox.adminToken);
  });

  it('says sandbox in its tokens, their introspection and the scope catalog; production tenants do not', async () => {
    const issued = await clientToken(app);
    expect(issued.statusCode, issued.body).toBe(200);
    const token = issued.json().access_token;
    expect(decodeJwt(token)).toMatchObject({ client_id: app.clientId, tenant_id: sandbox.tenantId, sandbox: true });
    const introspected = await h.request({
      method: 'POST',
      url: '/v1/oauth/introspect',
      headers: { authorization: `Basic ${Buffer.from(`${app.clientId}:${app.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token }).toString(),
    });
    expect(introspected.json()).toMatchObject({ active: true, tenant_id: sandbox.tenantId, sandbox: true });
    const catalog = await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(token) });
    expect(catalog.json()).toEqual({ scopes: expect.any(Array), sandbox: true });
    // And the app's operation list, whose manifests its clients are built from.
    const operations = await h.request({ method: 'GET', url: `/v1/platform/apps/${app.clientId}/operations`, headers: bearer(token) });
    expect(operations.json()).toMatchObject({ client_id: app.clientId, sandbox: true, bundles: [{ bundle: 'incident-read' }] });

    // Service tokens minted in the sandbox say so too.
    await h.request({ method: 'PATCH', url: `/v1/platform/apps/${app.clientId}/governance`, headers: bearer(sandbox.adminToken), payload: { allow_service_tokens: true } });
    const minted = await h.request({ method: 'POST', url: `/v1/platform/apps/${app.clientId}/service-token`, headers: bearer(sandbox.adminToken), payload: { scopes: ['incidents:read'] } });
    expect(decodeJwt(minted.json().token)).toMatchObject({ sandbox: true });

    const production = await h.appWithToken(acme, { scopes: ['incidents:read'] });
    expect(decodeJwt(production.token)).not.toHaveProperty('sandbox');
    expect(Object.keys((await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(production.token) })).json())).toEqual(['scopes']);
  });

  it("reads its own sample incidents, and never a production tenant's data", async () => {
    const token = (await clientToken(app)).json().access_token;
    const own = await gql(h, { token }, sandbox.tenantId, { documentId: LIST, variables: { first: 10 } });
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json().data.incidents.edges).toHaveLength(5);

    // acme has an incident and an app; the sandbox's tokens reach neither.
    const partner = await h.appWithToken(acme, { bundles: ['incident-read', 'incident-sync'], scopes: ['incidents:read', 'incidents:write'] });
    const created = await gql(h, partner, acme.tenantId, { documentId: `sha256:${operationId('incident-sync', 'CreateIncident')}`, variables: { input: { title: 'Production only', severity: 'SEV2' } } });
    expect(created.statusCode, created.body).toBe(200);
    const acmeIncident = created.json().data.createIncident.incident.id;
    const crossed = await gql(h, { token }, acme.tenantId, { documentId: LIST, variables: { first: 10 } });
    expect(crossed.statusCode).toBe(403);
    expect(crossed.json().errors[0].extensions.code).toBe('FORBIDDEN');
    const byId = await gql(h, { token }, sandbox.tenantId, { documentId: `sha256:${operationId('incident-read', 'GetIncident')}`, variables: { id: acmeIncident } });
    expect(byId.json().data.incident).toBeNull();
    for (const [token_, url] of [
      [sandbox.adminToken, `/v1/platform/apps/${partner.clientId}`],
      [sandbox.adminToken, `/api/v1/platform/apps/${partner.clientId}/bundles`],
      [sandbox.adminToken, `/api/v1/platform/tenants/${acme.tenantId}/scopes`],
    ] as const) {
      expect([403, 404], url).toContain((await h.request({ method: 'GET', url, headers: bearer(token_) })).statusCode);
    }
    const apps = await h.request({ method: 'GET', url: '/v1/platform/apps?limit=100', headers: bearer(sandbox.adminToken) });
    expect(apps.json().apps.map((a: { client_id: string }) => a.client_id)).toEqual([app.clientId]);
    const audit = await h.request({ method: 'GET', url: '/v1/platform/audit-events?limit=100', headers: bearer(sandbox.adminToken) });
    expect(new Set(audit.json().events.map((e: { target_id: string }) => e.target_id))).not.toContain(partner.clientId);
  });

  it('is held to its own lower limit at the token endpoint (SANDBOX_RATE_LIMIT_TOKEN_PER_CLIENT)', async () => {
    const limited = await sandboxApp(sandbox.adminToken);
    const production = await h.registerApp(acme);
    for (let i = 0; i < SANDBOX_LIMIT; i++) expect((await clientToken(limited)).statusCode).toBe(200);
    const refused = await clientToken(limited);
    expect({ status: refused.statusCode, body: refused.json() }).toEqual({ status: 429, body: { error: 'rate_limited', error_description: 'too many requests for this sandbox client; retry later' } });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // A production client has the ordinary limit.
    for (let i = 0; i <= SANDBOX_LIMIT; i++) expect((await tokenRequest(h, { grant_type: 'client_credentials' }, { id: production.client_id, secret: production.client_secret! })).statusCode).toBe(200);
    await h.clock.advance(61_000);
    expect((await clientToken(limited)).statusCode).toBe(200);
  });
});

// Before the clock moves: the CLI runs on its own runtime, on the real clock.
describe('the CLI', () => {
  it('creates and lists sandboxes, and names what is wrong with its arguments', async () => {
    const created = await h.cli(['sandbox', 'create', '--name', 'CLI lab', '--slug', 'cli-lab', '--admin-email', 'ops@acme.test', '--ttl-days', '5', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const body = JSON.parse(created.stdout);
    expect(body).toMatchObject({ tenant_slug: 'cli-lab', sandbox: true, status: 'active', admin_email: 'ops@acme.test', admin_password: expect.any(String), sample_incidents: 5 });
    expect(decodeJwt(body.admin_access_token)).toMatchObject({ sandbox: true, tenant_id: body.tenant_id });
    // The server (this process) follows at once: the sandbox's admin token works here.
    expect((await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(body.admin_access_token) })).json()).toMatchObject({ sandbox: true });
    const token = await h.cli(['admin-token', '--tenant', 'cli-lab', '--email', 'ops@acme.test', '--json']);
    expect(decodeJwt(JSON.parse(token.stdout).access_token)).toMatchObject({ sandbox: true });

    const listed = await h.cli(['sandbox', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toContainEqual(expect.objectContaining({ tenant_id: body.tenant_id, tenant_slug: 'cli-lab', status: 'active' }));
    const plain = await h.cli(['sandbox', 'list']);
    expect(plain.stdout).toContain(`tenant_id=${body.tenant_id}  tenant_slug=cli-lab  name=CLI lab  sandbox=true  status=active`);

    const cases: Array<[string[], string]> = [
      [['sandbox', 'create', '--admin-email', 'a@b.test'], '--name is required'],
      [['sandbox', 'create', '--name', 'x'], '--admin-email is required'],
      [['sandbox', 'create', '--name', 'x', '--admin-email', 'nobody'], '--admin-email must be an email address'],
      [['sandbox', 'create', '--name', 'x', '--admin-email', 'a@b.test', '--ttl-days', '0'], '--ttl-days must be a whole number of days from 1 to 365'],
      [['sandbox', 'create', '--name', 'x', '--admin-email', 'a@b.test', '--slug', 'No Slug'], '--slug must be 2-63 lowercase letters, digits or dashes'],
      [['sandbox', 'create', '--name', 'x', '--admin-email', 'a@b.test', '--slug', 'cli-lab'], 'error: a tenant with slug cli-lab already exists'],
      [['sandbox', 'remove'], 'unknown command: sandbox remove'],
    ];
    for (const [args, message] of cases) {
      const res = await h.cli(args);
      expect({ args, code: res.code, stdout: res.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(res.stderr).toContain(message);
    }
  });
});

describe('a sandbox past its term', () => {
  it('refuses its tokens from the instant it expires, is disabled by the sweep, and is removed with every row after the grace period', async () => {
    const body = (await create({ name: 'Short lived', admin_email: 'short@acme.test', ttl_days: 2 })).json();
    const tenantId: string = body.tenant_id;
    const app = await sandboxApp(body.admin_access_token);
    await h.request({ method: 'PATCH', url: `/v1/platform/apps/${app.clientId}/governance`, headers: bearer(body.admin_access_token), payload: { allow_service_tokens: true } });
    // Tokens that outlive the sandbox: a service token (30 days) and an admin token minted for 30 days.
    const service = (await h.request({ method: 'POST', url: `/v1/platform/apps/${app.clientId}/service-token`, headers: bearer(body.admin_access_token), payload: { scopes: ['incidents:read'] } })).json().token;
    const admin = (await h.runtime.tokens.issue({ subject: body.admin_user_id, clientId: CLI_CLIENT_ID, scopes: ['platform:admin'], tenantId, ttlSeconds: 30 * 86_400, sandbox: true })).token;
    const keeper = (await create({ name: 'Long lived', admin_email: 'long@acme.test', ttl_days: 365 })).json();
    const scopes = (token: string) => h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(token) });
    expect((await scopes(service)).statusCode).toBe(200);
    expect(await h.runtime.services.sandboxes.sweep()).toEqual({ expired: [], removed: [] });
    const ids = (swept: { expired: Array<{ id: string }>; removed: Array<{ id: string }> }) => ({ expired: swept.expired.map((s) => s.id), removed: swept.removed.map((s) => s.id) });

    await h.clock.advance(2 * DAY + 60_000);
    const EXPIRED = { error: 'unauthorized', error_description: 'the sandbox tenant has expired' };
    for (const token of [service, admin]) {
      const res = await scopes(token);
      expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 401, body: EXPIRED });
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="the sandbox tenant has expired"');
    }
    const graphql = await gql(h, { token: service }, tenantId, { documentId: LIST, variables: { first: 1 } });
    expect(graphql.statusCode).toBe(401);
    const issued = await clientToken(app);
    expect(issued.json()).toEqual({ error: 'invalid_client', error_description: 'this client belongs to a sandbox tenant that has expired; no token is issued' });

    const swept = await h.runtime.services.sandboxes.sweep();
    expect(swept.expired).toContainEqual({ id: tenantId, slug: body.tenant_slug, parentTenantId: null, expiresAt: expect.any(Date) });
    expect(swept.removed).toEqual([]);
    // Once: a second sweep finds nothing more to do.
    expect(await h.runtime.services.sandboxes.sweep()).toEqual({ expired: [], removed: [] });
    const listed = (await sandboxList()).find((s: { tenant_id: string }) => s.tenant_id === tenantId);
    expect(listed).toMatchObject({ status: 'expired', disabled_at: expect.any(String) });
    const sandboxAudit = await h.runtime.orm.em.fork().getConnection().execute<Array<{ action: string }>>('select action from audit_events where tenant_id = ? and action like ?', [tenantId, 'sandbox.%']);
    expect(sandboxAudit.map((r: { action: string }) => r.action).sort()).toEqual(['sandbox.created', 'sandbox.expired']);

    // Rows of the tenant in every table that has a tenant_id: there are some now, none once it is removed.
    const db = h.runtime.orm.em.fork().getConnection();
    const tables: string[] = (await db.execute<Array<{ table_name: string }>>(`select table_name from information_schema.columns where table_schema = 'public' and column_name = 'tenant_id' order by 1`)).map((r: { table_name: string }) => r.table_name);
    const rowsOf = async (id: string) => {
      const counts: Record<string, number> = {};
      for (const table of tables) {
        const [{ n }] = await db.execute(`select count(*)::int as n from ${table} where tenant_id = ?`, [id]);
        if (n) counts[table] = n;
      }
      return counts;
    };
    expect(await rowsOf(tenantId)).toMatchObject({ users: 1, apps: 1, incidents: 5, incident_notes: 9, audit_events: expect.any(Number), service_tokens: 1, app_bundles: 1, domain_events: expect.any(Number) });

    await h.clock.advance(7 * DAY);
    const removed = ids(await h.runtime.services.sandboxes.sweep());
    expect(removed.removed).toContain(tenantId);
    expect(removed.removed).not.toContain(keeper.tenant_id);
    expect(await rowsOf(tenantId)).toEqual({});
    expect(await db.execute('select id from tenants where id = ?', [tenantId])).toEqual([]);
    const platformAudit = await db.execute<Array<{ action: string }>>('select action, actor, details from platform_audit_events where target_id = ? order by created_at', [tenantId]);
    expect(platformAudit.map((r: { action: string }) => r.action)).toEqual(['sandbox.created', 'sandbox.expired', 'sandbox.removed']);
    expect(platformAudit[2]).toMatchObject({ actor: 'system', details: { slug: body.tenant_slug, name: 'Short lived', parent_tenant_id: null, removed_after_days: 7 } });
    expect((await scopes(admin)).json()).toEqual({ error: 'unauthorized', error_description: 'the tenant this token was issued for no longer exists' });
    expect((await clientToken(app)).json()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });

    // The others are untouched: the long-lived sandbox and the production tenant.
    expect((await sandboxList()).find((s: { tenant_id: string }) => s.tenant_id === keeper.tenant_id)).toMatchObject({ status: 'active', disabled_at: null });
    expect((await h.request({ method: 'GET', url: '/v1/platform/apps', headers: bearer(acme.adminToken) })).statusCode).toBe(200);
  });
});
