// Integration requests (README "Integration requests"): a tenant admin, or an app for itself, asks for a curated
// bundle, scopes, federation, a sandbox or platform access; an operator approves (which does the work) or denies, over
// REST and from the CLI. Every decision is audited and reaches the tenant admin's subscription to
// `integration_request.decided`, whose body is checked against its published schema and signature.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant } from '../src/db/tenant.js';
import { gql, operationId, publishShippedBundles } from './helpers/graphql.js';
import { bearer, startHarness, tokenRequest, type AppWithToken, type Harness, type TenantFixture } from './helpers/harness.js';
import { until } from './helpers/poll.js';
import { Receiver } from './helpers/receiver.js';
import { EventCatalog, expectValidDelivery, type DeliveryBody } from './helpers/webhook-events.js';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;
let operator: string;
/** An app of acme, with a token of its own (no admin scope). */
let sync: AppWithToken;
let receiver: Receiver;
let catalog: EventCatalog;
/** acme's admin subscription to the decisions, and its secret. */
let decisions: { id: string; secret: string };

const LIST = `sha256:${operationId('incident-read', 'ListIncidents')}`;
const GET = `sha256:${operationId('incident-read', 'GetIncident')}`;
// Sorted by name, as the catalog lists them; openid, profile and email are OpenID Connect's (README "OpenID Connect").
const PUBLISHED = ['email', 'incidents:read', 'incidents:write', 'openid', 'profile', 'webhooks:read', 'webhooks:write'];

beforeAll(async () => {
  h = await startHarness({ WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WEBHOOK_HTTP_HOSTS: '127.0.0.1', WORKER_POLL_INTERVAL: '100' }, { worker: true });
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  operator = await h.operatorToken();
  await publishShippedBundles(h);
  sync = await h.appWithToken(acme, { scopes: ['incidents:read'] });
  receiver = await new Receiver(h.clock).start();
  catalog = await EventCatalog.fetch(h, acme.adminToken);
  const created = await h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(acme.adminToken), payload: { url: `${receiver.url}/decisions`, events: ['integration_request.decided'] } });
  expect(created.statusCode, created.body).toBe(201);
  decisions = { id: created.json().id, secret: created.json().secret };
});
afterAll(async () => {
  await receiver?.stop();
  await h?.close();
});

const file = (token: string, payload: object) => h.request({ method: 'POST', url: '/v1/platform/integration-requests', headers: bearer(token), payload });
const list = (token: string, query = '') => h.request({ method: 'GET', url: `/v1/platform/integration-requests${query}`, headers: bearer(token) });
const show = (token: string, id: string) => h.request({ method: 'GET', url: `/v1/platform/integration-requests/${id}`, headers: bearer(token) });
const approve = (id: string, payload?: object) => h.request({ method: 'POST', url: `/api/v1/platform/integration-requests/${id}/approve`, headers: bearer(operator), ...(payload ? { payload } : {}) });
const deny = (id: string, payload: object) => h.request({ method: 'POST', url: `/api/v1/platform/integration-requests/${id}/deny`, headers: bearer(operator), payload });

/** Files a request and expects 201; answers its id. */
async function filed(token: string, payload: object): Promise<string> {
  const res = await file(token, payload);
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

/** The decision event about `requestId` acme's admin subscription received, checked against its schema and signature. */
async function decisionEvent(requestId: string): Promise<DeliveryBody> {
  const found = await until(
    () => receiver.received.filter((r) => r.path === '/decisions').map((r) => expectValidDelivery(r, catalog, decisions.secret, r.at)).find((b) => b.data.request_id === requestId),
    Boolean,
    { timeoutMs: 10_000, intervalMs: 20 },
  );
  expect(found, `the decision of ${requestId}`).toBeDefined();
  return found!;
}

async function auditActions(tenant: TenantFixture, targetId: string): Promise<string[]> {
  const res = await h.request({ method: 'GET', url: `/v1/platform/audit-events?target_id=${targetId}&limit=100`, headers: bearer(tenant.adminToken) });
  return res.json().events.map((e: { action: string }) => e.action);
}

const PENDING = { status: 'pending', decision_note: null, decided_by: null, decided_at: null, result: null, created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) };

describe('POST /v1/platform/integration-requests', () => {
  it('takes a request of each kind from a tenant admin, and lists them newest first', async () => {
    const bodies = [
      { kind: 'bundle', justification: 'Case sync needs the incident list', bundle: 'incident-read', client_id: sync.clientId },
      { kind: 'scopes', justification: 'Our connector writes incidents', scopes: ['incidents:write'] },
      { kind: 'federation', justification: 'Staff sign in with Okta', protocol: 'saml', domain: 'Acme.Example' },
      { kind: 'sandbox', justification: 'Try the webhooks before go-live', name: 'Acme staging' },
      { kind: 'platform_access', justification: 'We ship release automations', capability: 'release operations' },
    ];
    // The scopes request needs a scope the tenant may not use yet: narrow acme first.
    await h.request({ method: 'PUT', url: `/api/v1/platform/tenants/${acme.tenantId}/scopes`, headers: bearer(operator), payload: { scopes: ['incidents:read', 'webhooks:read'] } });
    const created = [];
    for (const body of bodies) {
      const res = await file(acme.adminToken, body);
      expect(res.statusCode, res.body).toBe(201);
      created.push(res.json());
    }
    await h.request({ method: 'DELETE', url: `/api/v1/platform/tenants/${acme.tenantId}/scopes`, headers: bearer(operator) });
    expect(created.map((r) => [r.kind, r.details])).toEqual([
      ['bundle', { bundle: 'incident-read', client_id: sync.clientId }],
      ['scopes', { scopes: ['incidents:write'] }],
      ['federation', { protocol: 'saml', domain: 'acme.example' }],
      ['sandbox', { name: 'Acme staging' }],
      ['platform_access', { capability: 'release operations' }],
    ]);
    expect(created[0]).toEqual({
      id: expect.stringMatching(/^irq_[A-Za-z0-9_-]{20}$/),
      tenant_id: acme.tenantId,
      kind: 'bundle',
      details: { bundle: 'incident-read', client_id: sync.clientId },
      justification: 'Case sync needs the incident list',
      requested_by: acme.userId,
      requester_client_id: null,
      ...PENDING,
    });

    const listed = await list(acme.adminToken, '?status=pending&limit=3');
    expect(listed.statusCode).toBe(200);
    expect(listed.json().integration_requests.map((r: { kind: string }) => r.kind)).toEqual(['platform_access', 'sandbox', 'federation']);
    const next = await list(acme.adminToken, `?status=pending&limit=3&cursor=${listed.json().next_cursor}`);
    expect(next.json().integration_requests.map((r: { kind: string }) => r.kind)).toEqual(['scopes', 'bundle']);
    expect(next.json().next_cursor).toBeNull();
    expect((await show(acme.adminToken, created[2].id)).json()).toEqual(created[2]);
    expect(await auditActions(acme, created[0].id)).toEqual(['integration_request.created']);
    expect((await list(acme.adminToken, '?status=approved')).json().integration_requests).toEqual([]);
  });

  it('takes an app asking for itself, which sees only its own', async () => {
    const own = await file(sync.token, { kind: 'bundle', justification: 'We need incident-sync to write', bundle: 'incident-sync' });
    expect(own.statusCode, own.body).toBe(201);
    expect(own.json()).toMatchObject({ kind: 'bundle', details: { bundle: 'incident-sync', client_id: sync.clientId }, requested_by: sync.clientId, requester_client_id: sync.clientId, status: 'pending' });
    const other = await h.appWithToken(acme, { scopes: ['incidents:read'] });
    const forOther = await file(sync.token, { kind: 'bundle', justification: 'x', bundle: 'incident-read', client_id: other.clientId });
    expect(forOther.json()).toEqual({ error: 'invalid_request', error_description: "body.client_id must be the requesting app's own client_id: an app asks only for itself" });

    expect((await list(sync.token)).json().integration_requests.map((r: { id: string }) => r.id)).toEqual([own.json().id]);
    expect((await list(other.token)).json().integration_requests).toEqual([]);
    expect((await show(other.token, own.json().id)).json()).toEqual({ error: 'not_found', error_description: `no integration request ${own.json().id}` });
    const adminsOwn = (await list(acme.adminToken, '?limit=1&status=pending')).json().integration_requests[0];
    expect(adminsOwn.id).toBe(own.json().id);
    const notTheApps = (await list(acme.adminToken, '?limit=10')).json().integration_requests.find((r: { requester_client_id: string | null }) => r.requester_client_id === null);
    expect((await show(sync.token, notTheApps.id)).statusCode).toBe(404);
  });

  it("answers another tenant's request as not found, on every route", async () => {
    const id = await filed(acme.adminToken, { kind: 'platform_access', justification: 'Agents', capability: 'agents' });
    expect((await show(globex.adminToken, id)).json()).toEqual({ error: 'not_found', error_description: `no integration request ${id}` });
    expect((await list(globex.adminToken)).json().integration_requests).toEqual([]);
    const claim = await h.request({ method: 'POST', url: `/v1/platform/integration-requests/${id}/sandbox-credentials`, headers: bearer(globex.adminToken) });
    expect(claim.statusCode).toBe(404);
    // Operators see every tenant's, and filter by tenant.
    const all = await h.request({ method: 'GET', url: `/api/v1/platform/integration-requests?tenant_id=${acme.tenantId}&limit=100`, headers: bearer(operator) });
    expect(all.json().integration_requests.map((r: { id: string }) => r.id)).toContain(id);
    const none = await h.request({ method: 'GET', url: `/api/v1/platform/integration-requests?tenant_id=${globex.tenantId}`, headers: bearer(operator) });
    expect(none.json()).toEqual({ integration_requests: [], next_cursor: null });
    expect((await h.request({ method: 'GET', url: `/api/v1/platform/integration-requests/${id}`, headers: bearer(operator) })).json().id).toBe(id);
    expect((await h.request({ method: 'GET', url: '/api/v1/platform/integration-requests', headers: bearer(acme.adminToken) })).json()).toEqual({
      error: 'forbidden',
      error_description: 'this action needs the scope platform:operator',
    });
  });

  it('refuses bad input with a 400 naming the field, and writes nothing', async () => {
    const globexApp = await h.registerApp(globex);
    const before = (await list(acme.adminToken, '?limit=100')).json().integration_requests.length;
    const base = { justification: 'Because' };
    const cases: Array<[object, number, string, string]> = [
      [{ justification: 'x' }, 400, 'invalid_request', 'body.kind is required'],
      [{ kind: 'bundle' }, 400, 'invalid_request', 'body.justification is required'],
      [{ ...base, kind: 'everything' }, 400, 'invalid_request', 'body.kind must be one of bundle, scopes, federation, sandbox, platform_access'],
      [{ ...base, kind: 'bundle', bundle: 'incident-read', client_id: sync.clientId, colour: 'blue' }, 400, 'invalid_request', "body has unknown field 'colour'"],
      [{ ...base, kind: 'bundle', justification: '   ', bundle: 'incident-read', client_id: sync.clientId }, 400, 'invalid_request', 'body.justification must say why: it must not be blank'],
      [{ ...base, kind: 'bundle' }, 400, 'invalid_request', 'body.bundle is required for a bundle request'],
      [{ ...base, kind: 'bundle', bundle: 'incident-read' }, 400, 'invalid_request', 'body.client_id is required when a tenant admin asks: the app that is to hold the bundle'],
      [{ ...base, kind: 'bundle', bundle: 'never-published', client_id: sync.clientId }, 400, 'invalid_request', 'body.bundle names no published bundle: never-published'],
      [{ ...base, kind: 'bundle', bundle: 'incident-read', client_id: globexApp.client_id }, 400, 'invalid_request', `body.client_id names no app of this tenant: ${globexApp.client_id}`],
      [{ ...base, kind: 'bundle', bundle: 'incident-read', client_id: sync.clientId, domain: 'acme.example' }, 400, 'invalid_request', 'body.domain is not a field of a bundle request (it takes bundle, client_id)'],
      [{ ...base, kind: 'scopes' }, 400, 'invalid_request', 'body.scopes is required for a scopes request'],
      [{ ...base, kind: 'scopes', scopes: 'incidents:write' }, 400, 'invalid_request', 'body.scopes must be array'],
      [{ ...base, kind: 'scopes', scopes: ['incidents:export'] }, 400, 'invalid_scope', 'body.scopes names scopes that are not published: incidents:export'],
      [{ ...base, kind: 'scopes', scopes: ['incidents:read'] }, 409, 'conflict', 'the tenant may already use every scope body.scopes names'],
      [{ ...base, kind: 'federation', protocol: 'ldap', domain: 'acme.example' }, 400, 'invalid_request', 'body.protocol must be one of saml, oidc'],
      [{ ...base, kind: 'federation', protocol: 'oidc' }, 400, 'invalid_request', 'body.domain is required for a federation request'],
      [{ ...base, kind: 'federation', protocol: 'oidc', domain: 'https://acme.example/' }, 400, 'invalid_request', 'body.domain must be a domain name, e.g. acme.example'],
      [{ ...base, kind: 'sandbox', name: '  ' }, 400, 'invalid_request', 'body.name must not be empty'],
      [{ ...base, kind: 'sandbox', name: 'Try', slug: 'Bad Slug' }, 400, 'invalid_request', 'body.slug must be 2-63 lowercase letters, digits or dashes, starting with a letter or digit'],
      [{ ...base, kind: 'sandbox', name: 'Try', admin_email: 'not-an-email' }, 400, 'invalid_request', 'body.admin_email must be an email address'],
      [{ ...base, kind: 'platform_access' }, 400, 'invalid_request', 'body.capability is required for a platform_access request'],
      [{ ...base, kind: 'platform_access', capability: 'x', name: 'y' }, 400, 'invalid_request', 'body.name is not a field of a platform_access request (it takes capability)'],
    ];
    for (const [payload, status, error, description] of cases) {
      const res = await file(acme.adminToken, payload);
      expect({ payload, status: res.statusCode, body: res.json() }).toEqual({ payload, status, body: { error, error_description: description } });
    }
    expect((await list(acme.adminToken, '?limit=100')).json().integration_requests).toHaveLength(before);
    // Only a tenant's admin or app asks: the operator has no tenant.
    expect((await file(operator, { ...base, kind: 'platform_access', capability: 'x' })).json()).toEqual({ error: 'forbidden', error_description: 'this action needs a token issued for a tenant' });
    expect((await file('not-a-token', { ...base, kind: 'platform_access', capability: 'x' })).statusCode).toBe(401);
  });

  it('is in the public OpenAPI document, and the operator routes are not', async () => {
    const paths = Object.keys((await h.request({ method: 'GET', url: '/api/docs' })).json().paths);
    expect(paths.filter((p) => p.includes('integration-requests'))).toEqual([
      '/v1/platform/integration-requests',
      '/v1/platform/integration-requests/{id}',
      '/v1/platform/integration-requests/{id}/sandbox-credentials',
    ]);
  });
});

describe('an operator approving', () => {
  it('a bundle request: the app holds the bundle and runs its operations; audited, told by the event, decided once', async () => {
    const app = await h.appWithToken(acme, { scopes: ['incidents:read'] });
    expect((await gql(h, app, acme.tenantId, { documentId: LIST, variables: { first: 1 } })).statusCode).toBe(404);
    const id = await filed(app.token, { kind: 'bundle', justification: 'Dashboard reads incidents', bundle: 'incident-read' });

    const res = await approve(id, { note: 'Approved for the dashboard.' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      id,
      status: 'approved',
      decision_note: 'Approved for the dashboard.',
      decided_by: 'operator',
      decided_at: expect.any(String),
      result: { bundle: 'incident-read', client_id: app.clientId, assigned: true },
    });
    const held = await h.request({ method: 'GET', url: `/api/v1/platform/apps/${app.clientId}/bundles`, headers: bearer(acme.adminToken) });
    expect(held.json().bundles.map((b: { bundle: string }) => b.bundle)).toEqual(['incident-read']);
    const ran = await gql(h, app, acme.tenantId, { documentId: LIST, variables: { first: 1 } });
    expect(ran.statusCode, ran.body).toBe(200);

    const event = await decisionEvent(id);
    expect(event).toMatchObject({ type: 'integration_request.decided', tenant_id: acme.tenantId });
    expect(event.data).toEqual({
      request_id: id,
      kind: 'bundle',
      status: 'approved',
      note: 'Approved for the dashboard.',
      decided_at: expect.any(String),
      result: { bundle: 'incident-read', client_id: app.clientId, assigned: true },
    });
    expect(await auditActions(acme, id)).toEqual(['integration_request.approved', 'integration_request.created']);
    expect(await auditActions(acme, app.clientId)).toContain('bundle.assigned');
    expect((await show(app.token, id)).json()).toEqual(res.json());

    for (const again of [await approve(id), await deny(id, { note: 'too late' })]) {
      expect({ status: again.statusCode, body: again.json() }).toEqual({ status: 409, body: { error: 'conflict', error_description: `integration request ${id} was already approved` } });
    }
    expect(await auditActions(acme, id)).toHaveLength(2);
  });

  it("a scopes request: the tenant's scopes grow, at once; a tenant given back every scope keeps them all", async () => {
    await h.request({ method: 'PUT', url: `/api/v1/platform/tenants/${globex.tenantId}/scopes`, headers: bearer(operator), payload: { scopes: ['incidents:read'] } });
    const id = await filed(globex.adminToken, { kind: 'scopes', justification: 'Webhooks for our SIEM', scopes: ['webhooks:write', 'webhooks:read'] });
    const catalogOf = async () => (await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(globex.adminToken) })).json().scopes.map((s: { name: string }) => s.name);
    expect(await catalogOf()).toEqual(['incidents:read']);
    const res = await approve(id);
    expect(res.json()).toMatchObject({ status: 'approved', decision_note: null, result: { scopes: ['incidents:read', 'webhooks:read', 'webhooks:write'], added: ['webhooks:read', 'webhooks:write'], restricted: true } });
    expect(await catalogOf()).toEqual(['incidents:read', 'webhooks:read', 'webhooks:write']);
    const changed = await h.request({ method: 'GET', url: '/v1/platform/audit-events?action=tenant.scopes_changed&limit=1', headers: bearer(globex.adminToken) });
    expect(changed.json().events[0]).toMatchObject({ actor: 'operator', details: { before: ['incidents:read'], after: ['incidents:read', 'webhooks:read', 'webhooks:write'] } });

    // Given every published scope back meanwhile: approval keeps that, rather than narrowing it to a list.
    await h.request({ method: 'PUT', url: `/api/v1/platform/tenants/${globex.tenantId}/scopes`, headers: bearer(operator), payload: { scopes: ['incidents:read'] } });
    const second = await filed(globex.adminToken, { kind: 'scopes', justification: 'Write incidents', scopes: ['incidents:write'] });
    await h.request({ method: 'DELETE', url: `/api/v1/platform/tenants/${globex.tenantId}/scopes`, headers: bearer(operator) });
    expect((await approve(second)).json().result).toEqual({ scopes: PUBLISHED, added: [], restricted: false });
    const scopes = await h.request({ method: 'GET', url: `/api/v1/platform/tenants/${globex.tenantId}/scopes`, headers: bearer(operator) });
    expect(scopes.json()).toEqual({ tenant_id: globex.tenantId, scopes: PUBLISHED, restricted: false });
  });

  it('a sandbox request: the sandbox exists, linked to the tenant, seeded; the requester claims its admin once', async () => {
    const id = await filed(acme.adminToken, { kind: 'sandbox', justification: 'Integration tests of our connector', name: 'Acme connector tests', slug: 'acme-connector-tests' });
    const res = await approve(id, { note: 'Thirty days; ask again for more.' });
    expect(res.statusCode, res.body).toBe(200);
    const result = res.json().result;
    expect(result).toEqual({
      tenant_id: expect.stringMatching(/^ten_/),
      tenant_slug: 'acme-connector-tests',
      admin_user_id: expect.stringMatching(/^usr_/),
      admin_email: 'admin@acme.test',
      expires_at: expect.any(String),
    });
    // SANDBOX_TTL_DAYS (30) from the decision.
    expect(Math.abs(Date.parse(result.expires_at) - Date.parse(res.json().decided_at) - 30 * 86_400_000)).toBeLessThan(2000);
    expect((await decisionEvent(id)).data).toMatchObject({ kind: 'sandbox', status: 'approved', result });
    const sandboxes = await h.request({ method: 'GET', url: `/api/v1/platform/sandboxes?parent_tenant_id=${acme.tenantId}`, headers: bearer(operator) });
    expect(sandboxes.json().sandboxes).toEqual([
      expect.objectContaining({ tenant_id: result.tenant_id, tenant_slug: 'acme-connector-tests', name: 'Acme connector tests', sandbox: true, status: 'active', parent_tenant_id: acme.tenantId, disabled_at: null }),
    ]);

    const claim = () => h.request({ method: 'POST', url: `/v1/platform/integration-requests/${id}/sandbox-credentials`, headers: bearer(acme.adminToken) });
    const claimed = await claim();
    expect(claimed.statusCode, claimed.body).toBe(200);
    expect(claimed.headers['cache-control']).toBe('no-store');
    const credentials = claimed.json();
    expect(credentials).toEqual({ ...result, admin_password: expect.any(String), admin_access_token: expect.any(String) });
    expect((await claim()).json()).toEqual({ error: 'conflict', error_description: expect.stringMatching(/^the sandbox admin's password was already handed over, at /) });
    expect((await show(acme.adminToken, id)).json().result).toMatchObject({ credentials_claimed_at: expect.any(String), credentials_claimed_by: acme.userId });
    // The password signs the admin in to the sandbox (the hosted login checks it so), and nowhere else.
    const tenancy = h.runtime.services.tenancy;
    expect((await tenancy.checkCredentials(forTenant(h.runtime.orm.em, result.tenant_id), result.admin_email, credentials.admin_password))?.id).toBe(result.admin_user_id);
    expect(await tenancy.checkCredentials(forTenant(h.runtime.orm.em, acme.tenantId), result.admin_email, credentials.admin_password)).toBeNull();

    // The sandbox's own app reads the sample incidents through GraphQL; its token says sandbox.
    const sandboxAdmin = credentials.admin_access_token;
    expect((await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(sandboxAdmin) })).json()).toMatchObject({ sandbox: true });
    const registered = await h.request({ method: 'POST', url: '/v1/platform/apps', headers: bearer(sandboxAdmin), payload: { name: 'Connector', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] } });
    expect(registered.statusCode, registered.body).toBe(201);
    const assigned = await h.request({ method: 'POST', url: `/api/v1/platform/apps/${registered.json().client_id}/bundles`, headers: bearer(operator), payload: { bundle: 'incident-read' } });
    expect(assigned.statusCode).toBe(201);
    const token = (await tokenRequest(h, { grant_type: 'client_credentials' }, { id: registered.json().client_id, secret: registered.json().client_secret })).json().access_token;
    const incidents = await gql(h, { token }, result.tenant_id, { documentId: LIST, variables: { first: 10 } });
    expect(incidents.statusCode, incidents.body).toBe(200);
    const nodes = incidents.json().data.incidents.edges.map((e: { node: { title: string; status: string; labels: string[]; id: string } }) => e.node);
    expect(nodes.map((n: { title: string }) => n.title)).toEqual([
      'Search results stale in one region',
      'Payment provider webhooks retried in bulk',
      'Nightly export finished three hours late',
      'Single sign-on failing for some users',
      'Checkout latency above 2 s',
    ]);
    expect(nodes.map((n: { status: string }) => n.status)).toEqual(['CLOSED', 'RESOLVED', 'OPEN', 'MITIGATED', 'INVESTIGATING']);
    expect(nodes.every((n: { labels: string[] }) => n.labels.includes('sample'))).toBe(true);
    const one = await gql(h, { token }, result.tenant_id, { documentId: GET, variables: { id: nodes[4].id, notesFirst: 5 } });
    expect(one.json().data.incident.notes.edges.map((e: { node: { body: string } }) => e.node.body)).toEqual([
      'Latency started at 10:02, right after release 2026.03.24-1.',
      'Rolling back the release on half of the fleet to compare.',
    ]);
    // A sandbox does not grow sandboxes.
    expect((await file(sandboxAdmin, { kind: 'sandbox', justification: 'x', name: 'Nested' })).json()).toEqual({ error: 'forbidden', error_description: 'a sandbox tenant cannot request a sandbox' });
    expect(await auditActions(acme, id)).toEqual(['integration_request.credentials_claimed', 'integration_request.approved', 'integration_request.created']);
  });

  it('a federation or platform access request: recorded as approved with its note', async () => {
    const id = await filed(acme.adminToken, { kind: 'platform_access', justification: 'Marketplace listing', capability: 'marketplace flows' });
    const res = await approve(id, { note: 'Enabled for the marketplace pilot.' });
    expect(res.json()).toMatchObject({ status: 'approved', decision_note: 'Enabled for the marketplace pilot.', result: null });
    const event = await decisionEvent(id);
    expect(event.data).toEqual({ request_id: id, kind: 'platform_access', status: 'approved', note: 'Enabled for the marketplace pilot.', decided_at: expect.any(String) });
  });
});

describe('an operator denying', () => {
  it('records why, changes nothing, tells the tenant, and needs the note', async () => {
    const id = await filed(acme.adminToken, { kind: 'federation', justification: 'Entra ID for staff', protocol: 'oidc', domain: 'staff.acme.example' });
    expect((await deny(id, {})).json()).toEqual({ error: 'invalid_request', error_description: 'body.note is required' });
    expect((await deny(id, { note: '   ' })).json()).toEqual({ error: 'invalid_request', error_description: 'body.note is required to deny a request: say why' });
    expect((await h.request({ method: 'POST', url: `/api/v1/platform/integration-requests/${id}/deny`, headers: bearer(operator) })).statusCode).toBe(400);
    const res = await deny(id, { note: 'Federation needs a signed order form first.' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'denied', decision_note: 'Federation needs a signed order form first.', decided_by: 'operator', result: null });
    const event = await decisionEvent(id);
    expect(event.data).toEqual({ request_id: id, kind: 'federation', status: 'denied', note: 'Federation needs a signed order form first.', decided_at: expect.any(String) });
    expect(await auditActions(acme, id)).toEqual(['integration_request.denied', 'integration_request.created']);
    const audit = await h.request({ method: 'GET', url: `/v1/platform/audit-events?action=integration_request.denied&target_id=${id}`, headers: bearer(acme.adminToken) });
    expect(audit.json().events[0]).toMatchObject({ actor: 'operator', details: { kind: 'federation', note: 'Federation needs a signed order form first.' } });
    expect((await approve(id)).json()).toEqual({ error: 'conflict', error_description: `integration request ${id} was already denied` });

    const bundleDenied = await filed(sync.token, { kind: 'bundle', justification: 'Write access', bundle: 'incident-webhooks' });
    expect((await deny(bundleDenied, { note: 'Not for this app.' })).json().status).toBe('denied');
    const held = await h.request({ method: 'GET', url: `/api/v1/platform/apps/${sync.clientId}/bundles`, headers: bearer(operator) });
    expect(held.json().bundles).toEqual([]);
    const claim = await h.request({ method: 'POST', url: `/v1/platform/integration-requests/${id}/sandbox-credentials`, headers: bearer(acme.adminToken) });
    expect(claim.json()).toEqual({ error: 'conflict', error_description: `integration request ${id} is not an approved sandbox request` });
  });

  it('answers an unknown request 404, and refuses callers who are not operators', async () => {
    expect((await approve('irq_nope')).json()).toEqual({ error: 'not_found', error_description: 'no integration request irq_nope' });
    expect((await deny('irq_nope', { note: 'x' })).statusCode).toBe(404);
    const id = await filed(acme.adminToken, { kind: 'platform_access', justification: 'x', capability: 'agents' });
    const asAdmin = await h.request({ method: 'POST', url: `/api/v1/platform/integration-requests/${id}/approve`, headers: bearer(acme.adminToken) });
    expect(asAdmin.json()).toEqual({ error: 'forbidden', error_description: 'this action needs the scope platform:operator' });
    expect((await show(acme.adminToken, id)).json().status).toBe('pending');
  });
});

describe('the CLI', () => {
  it('lists, approves and denies, with exit codes and messages for bad arguments', async () => {
    const first = await filed(acme.adminToken, { kind: 'platform_access', justification: 'CLI approval', capability: 'automations' });
    const second = await filed(globex.adminToken, { kind: 'federation', justification: 'CLI denial', protocol: 'saml', domain: 'globex.example' });

    const listed = await h.cli(['requests', 'list', '--status', 'pending', '--tenant', 'globex', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([{ id: second, tenant_id: globex.tenantId, kind: 'federation', status: 'pending', requested_by: globex.userId, created_at: expect.any(String), decided_at: null }]);
    const plain = await h.cli(['requests', 'list', '--status', 'pending']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain(`id=${first}  tenant_id=${acme.tenantId}  kind=platform_access  status=pending`);

    const approved = await h.cli(['requests', 'approve', first, '--note', 'Go ahead', '--json']);
    expect(approved.code, approved.stderr).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({ id: first, status: 'approved', decision_note: 'Go ahead', decided_by: 'operator' });
    const denied = await h.cli(['requests', 'deny', second, '--note', 'No SAML on this plan']);
    expect(denied.code, denied.stderr).toBe(0);
    expect(denied.stdout).toContain('status: denied\n');
    expect((await decisionEvent(first)).data).toMatchObject({ status: 'approved', note: 'Go ahead' });
    expect((await show(globex.adminToken, second)).json()).toMatchObject({ status: 'denied', decision_note: 'No SAML on this plan' });

    const cases: Array<[string[], string]> = [
      [['requests', 'deny', second], '--note is required'],
      [['requests', 'list', '--status', 'open'], '--status must be one of pending, approved, denied'],
      [['requests', 'approve'], 'requests approve needs <id>'],
      [['requests', 'list', '--tenant', 'nope'], 'no tenant with slug nope'],
      [['requests', 'approve', 'irq_nope'], 'error: no integration request irq_nope'],
      [['requests', 'approve', first], `error: integration request ${first} was already approved`],
      [['requests', 'deny', second, '--note', 'again'], `error: integration request ${second} was already denied`],
      [['requests', 'shred'], 'unknown command: requests shred'],
    ];
    for (const [args, message] of cases) {
      const res = await h.cli(args);
      expect({ args, code: res.code, stdout: res.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(res.stderr).toContain(message);
    }
  });
});
