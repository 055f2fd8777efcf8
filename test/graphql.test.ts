// The GraphQL transport: persisted operations only, per app bundles, tenant scoping, scopes, limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { gql, operationId, partner, publishShippedBundles, type Partner } from './helpers/graphql.js';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;
let sync: Partner;

const LIST = operationId('incident-read', 'ListIncidents');
const GET = operationId('incident-read', 'GetIncident');
const CREATE = operationId('incident-sync', 'CreateIncident');
const UPDATE = operationId('incident-sync', 'UpdateIncident');
const CLOSE = operationId('incident-sync', 'CloseIncident');
const NOTE = operationId('incident-sync', 'AddIncidentNote');

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  await publishShippedBundles(h);
  sync = await partner(h, acme, ['incident-read', 'incident-sync']);
});
afterAll(() => h?.close());

const create = (who: Partner, tenantId: string, input: Record<string, unknown>) =>
  gql(h, who, tenantId, { documentId: `sha256:${CREATE}`, variables: { input } });

describe('persisted operations', () => {
  it('creates, updates, notes, closes, lists and reads incidents through documentId', async () => {
    const created = await create(sync, acme.tenantId, { title: 'Checkout is down', severity: 'SEV1', labels: ['payments'] });
    expect(created.statusCode).toBe(200);
    const incident = created.json().data.createIncident.incident;
    expect(created.json().data.createIncident.userErrors).toEqual([]);
    expect(incident).toMatchObject({ number: 1, title: 'Checkout is down', status: 'OPEN', severity: 'SEV1', labels: ['payments'], __typename: 'Incident' });
    expect(incident.id).toMatch(/^inc_/);

    const updated = await gql(h, sync, acme.tenantId, { documentId: `sha256:${UPDATE}`, variables: { id: incident.id, input: { status: 'INVESTIGATING', summary: 'Card payments fail' } } });
    expect(updated.json().data.updateIncident.incident).toMatchObject({ status: 'INVESTIGATING', summary: 'Card payments fail' });
    const noted = await gql(h, sync, acme.tenantId, { documentId: `sha256:${NOTE}`, variables: { incidentId: incident.id, body: 'Rolled back the deploy' } });
    expect(noted.json().data.addIncidentNote.incident.notes).toEqual([expect.objectContaining({ author: sync.clientId, body: 'Rolled back the deploy' })]);
    const closed = await gql(h, sync, acme.tenantId, { documentId: `sha256:${CLOSE}`, variables: { id: incident.id } });
    expect(closed.json().data.closeIncident.incident).toMatchObject({ status: 'CLOSED', closedAt: expect.stringMatching(/Z$/) });

    const read = await gql(h, sync, acme.tenantId, { documentId: `sha256:${GET}`, variables: { id: incident.id } });
    expect(read.json().data.incident).toMatchObject({ id: incident.id, status: 'CLOSED', notes: [expect.objectContaining({ body: 'Rolled back the deploy' })] });

    // Each change wrote its event to the outbox in the same transaction.
    const events = await h.runtime.orm.em.fork().getConnection().execute("select type, data->'incident'->>'id' as id from domain_events where tenant_id = ? order by created_at", [acme.tenantId]);
    expect(events.map((e) => e.type)).toEqual(['incident.created', 'incident.updated', 'incident.updated', 'incident.closed']);
  });

  it('answers typed user errors for invalid input, and writes nothing', async () => {
    const res = await create(sync, acme.tenantId, { title: '  ', severity: 'SEV3', labels: ['Not Valid'] });
    expect(res.statusCode).toBe(200);
    expect(res.json().data.createIncident).toEqual({
      incident: null,
      userErrors: [
        { field: 'title', code: 'INVALID_LENGTH', message: 'title must be 1 to 200 characters', __typename: 'UserError' },
        { field: 'labels', code: 'INVALID_FORMAT', message: 'labels must be lowercase words (a-z 0-9 : . _ -): Not Valid', __typename: 'UserError' },
      ],
      __typename: 'IncidentPayload',
    });
    // A variable that does not fit the schema is a request error (GraphQL over HTTP: 400).
    const bad = await create(sync, acme.tenantId, { title: 'x', severity: 'SEV9' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].message).toContain('SEV9');
    const [{ n }] = await h.runtime.orm.em.fork().getConnection().execute("select count(*)::int as n from incidents where title in ('x', '  ')");
    expect(n).toBe(0);
  });

  it('paginates incidents as a Relay connection with filters, via GET too', async () => {
    const tenant = await h.tenant();
    const p = await partner(h, tenant, ['incident-read', 'incident-sync']);
    for (let i = 1; i <= 5; i++) await create(p, tenant.tenantId, { title: `Incident ${i}`, severity: i % 2 ? 'SEV2' : 'SEV4' });
    const page = await gql(h, p, tenant.tenantId, { documentId: `sha256:${LIST}`, variables: { first: 2 } });
    const first = page.json().data.incidents;
    expect(first.edges.map((e: { node: { number: number } }) => e.node.number)).toEqual([5, 4]);
    expect(first.pageInfo.hasNextPage).toBe(true);

    const variables = encodeURIComponent(JSON.stringify({ first: 2, after: first.pageInfo.endCursor, filter: { severity: 'SEV2' } }));
    const viaGet = await h.request({
      method: 'GET',
      url: `/graphql?documentId=sha256:${LIST}&variables=${variables}`,
      headers: { ...bearer(p.token), 'x-tenant-id': tenant.tenantId },
    });
    expect(viaGet.statusCode).toBe(200);
    expect(viaGet.json().data.incidents.edges.map((e: { node: { number: number } }) => e.node.number)).toEqual([3, 1]);
  });

  it('accepts Apollo persisted-query extensions', async () => {
    const res = await gql(h, sync, acme.tenantId, { extensions: { persistedQuery: { version: 1, sha256Hash: LIST } }, variables: { first: 1 } });
    expect(res.statusCode).toBe(200);
    expect(res.json().data.incidents.edges).toHaveLength(1);
  });

  it('honours the application/graphql-response+json media type', async () => {
    const res = await gql(h, sync, acme.tenantId, { documentId: `sha256:${LIST}` }, { accept: 'application/graphql-response+json' });
    expect(res.headers['content-type']).toMatch(/^application\/graphql-response\+json/);
  });
});

describe('refusals', () => {
  it('refuses raw query text with 400 PERSISTED_QUERY_ONLY', async () => {
    const res = await gql(h, sync, acme.tenantId, { query: '{ incidents { edges { node { id } } } }' });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].extensions).toEqual({ code: 'PERSISTED_QUERY_ONLY' });
  });

  it('answers an id outside the app\'s bundles exactly like an unknown id: 404 PERSISTED_QUERY_NOT_IN_LIST', async () => {
    const reader = await partner(h, acme, ['incident-read']);
    const unassigned = await gql(h, reader, acme.tenantId, { documentId: `sha256:${CREATE}`, variables: { input: { title: 'x', severity: 'SEV1' } } });
    const unknown = await gql(h, reader, acme.tenantId, { documentId: `sha256:${'0'.repeat(64)}` });
    expect(unassigned.statusCode).toBe(404);
    expect(unknown.statusCode).toBe(404);
    expect(unassigned.body).toBe(unknown.body);
    expect(unassigned.json().errors[0].extensions).toEqual({ code: 'PERSISTED_QUERY_NOT_IN_LIST' });
  });

  it('refuses mutations over GET with 405', async () => {
    const variables = encodeURIComponent(JSON.stringify({ id: 'inc_x' }));
    const res = await h.request({ method: 'GET', url: `/graphql?documentId=sha256:${CLOSE}&variables=${variables}`, headers: { ...bearer(sync.token), 'x-tenant-id': acme.tenantId } });
    expect(res.statusCode).toBe(405);
  });

  it('needs a valid token (401) and the token\'s own tenant in X-Tenant-ID (403)', async () => {
    const none = await h.request({ method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json', 'x-tenant-id': acme.tenantId }, payload: { documentId: `sha256:${LIST}` } });
    expect(none.statusCode).toBe(401);
    expect(none.json().errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED' });
    const forged = await gql(h, { token: 'not.a.token' }, acme.tenantId, { documentId: `sha256:${LIST}` });
    expect(forged.statusCode).toBe(401);
    const missing = await gql(h, sync, null, { documentId: `sha256:${LIST}` });
    expect(missing.statusCode).toBe(403);
    expect(missing.json().errors[0]).toMatchObject({ message: 'the X-Tenant-ID header is required', extensions: { code: 'FORBIDDEN' } });
    const wrong = await gql(h, sync, globex.tenantId, { documentId: `sha256:${LIST}` });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().errors[0].extensions).toEqual({ code: 'FORBIDDEN' });
  });

  it('never shows rows of tenant A to a token of tenant B', async () => {
    const secret = (await create(sync, acme.tenantId, { title: 'Acme secret incident', severity: 'SEV2' })).json().data.createIncident.incident;
    const globexPartner = await partner(h, globex, ['incident-read', 'incident-sync']);
    const get = await gql(h, globexPartner, globex.tenantId, { documentId: `sha256:${GET}`, variables: { id: secret.id } });
    expect(get.json().data.incident).toBeNull();
    const list = await gql(h, globexPartner, globex.tenantId, { documentId: `sha256:${LIST}`, variables: { first: 100 } });
    expect(list.body).not.toContain('Acme secret incident');
    const update = await gql(h, globexPartner, globex.tenantId, { documentId: `sha256:${UPDATE}`, variables: { id: secret.id, input: { title: 'pwned' } } });
    expect(update.json().data.updateIncident.userErrors[0]).toMatchObject({ code: 'NOT_FOUND' });
    const after = await gql(h, sync, acme.tenantId, { documentId: `sha256:${GET}`, variables: { id: secret.id } });
    expect(after.json().data.incident.title).toBe('Acme secret incident');
  });

  it('fails with FORBIDDEN before any write when the token lacks a scope the operation needs', async () => {
    const readOnly = await partner(h, acme, ['incident-read', 'incident-sync'], ['incidents:read']);
    const before = await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from incidents');
    const res = await create(readOnly, acme.tenantId, { title: 'Should not exist', severity: 'SEV4' });
    expect(res.statusCode).toBe(403);
    expect(res.json().errors[0]).toMatchObject({ message: 'the token lacks the scopes this operation needs: incidents:write', extensions: { code: 'FORBIDDEN' } });
    const after = await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from incidents');
    expect(after[0].n).toBe(before[0].n);
  });

  it('makes an assignment or unassignment effective at once', async () => {
    const p = await partner(h, acme, []);
    const operator = await h.operatorToken();
    expect((await gql(h, p, acme.tenantId, { documentId: `sha256:${LIST}` })).statusCode).toBe(404);
    await h.request({ method: 'POST', url: `/api/v1/platform/apps/${p.clientId}/bundles`, headers: bearer(operator), payload: { bundle: 'incident-read' } });
    expect((await gql(h, p, acme.tenantId, { documentId: `sha256:${LIST}` })).statusCode).toBe(200);
    const removed = await h.request({ method: 'DELETE', url: `/api/v1/platform/apps/${p.clientId}/bundles/incident-read`, headers: bearer(operator) });
    expect(removed.statusCode).toBe(204);
    expect((await gql(h, p, acme.tenantId, { documentId: `sha256:${LIST}` })).statusCode).toBe(404);
  });
});

describe('updates', () => {
  it('updates labels and severity (stored, read back, described by the event), and an update that changes nothing writes no event', async () => {
    const created = await create(sync, acme.tenantId, { title: 'Search is slow', severity: 'SEV3', labels: ['search'] });
    const id = created.json().data.createIncident.incident.id;
    const update = (input: Record<string, unknown>) => gql(h, sync, acme.tenantId, { documentId: `sha256:${UPDATE}`, variables: { id, input } });

    const updated = await update({ labels: ['search', 'eu-west'], severity: 'SEV2' });
    expect(updated.json().data.updateIncident).toMatchObject({ incident: { labels: ['search', 'eu-west'], severity: 'SEV2' }, userErrors: [] });
    const read = await gql(h, sync, acme.tenantId, { documentId: `sha256:${GET}`, variables: { id } });
    expect(read.json().data.incident).toMatchObject({ labels: ['search', 'eu-west'], severity: 'SEV2', title: 'Search is slow' });
    expect(await update({ labels: ['search', 'eu-west'], severity: 'SEV2' })).toHaveProperty('statusCode', 200);

    const events = await h.runtime.orm.em.fork().getConnection().execute(
      "select type, data->'changes' as changes, data->'incident'->'labels' as labels from domain_events where data->'incident'->>'id' = ? order by created_at",
      [id],
    );
    expect(events).toEqual([
      { type: 'incident.created', changes: null, labels: ['search'] },
      { type: 'incident.updated', changes: ['severity', 'labels'], labels: ['search', 'eu-west'] },
    ]);
  });
});
