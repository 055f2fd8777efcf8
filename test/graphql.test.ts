// The GraphQL transport: persisted operations only, per app bundles, tenant scoping, scopes, limits.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { printExecutableGraphQLDocument } from '@graphql-tools/documents';
import { parse, print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../src/ids.js';
import { ROOT } from './helpers/cli.js';
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
    expect(noted.json().data.addIncidentNote).toMatchObject({ note: { author: sync.clientId, body: 'Rolled back the deploy' }, incident: { id: incident.id }, userErrors: [] });
    const closed = await gql(h, sync, acme.tenantId, { documentId: `sha256:${CLOSE}`, variables: { id: incident.id } });
    expect(closed.json().data.closeIncident.incident).toMatchObject({ status: 'CLOSED', closedAt: expect.stringMatching(/Z$/) });

    const read = await gql(h, sync, acme.tenantId, { documentId: `sha256:${GET}`, variables: { id: incident.id } });
    expect(read.json().data.incident).toMatchObject({ id: incident.id, status: 'CLOSED', notes: { edges: [{ node: expect.objectContaining({ body: 'Rolled back the deploy' }) }] } });

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

/** An operation's text as the operator wrote it in operations/. */
const operationText = (bundle: string, file: string) => readFileSync(join(ROOT, 'operations', bundle, `${file}.graphql`), 'utf8');

describe('the contract\'s request form: {"query": "<approved GraphQL document>", "variables": {}}', () => {
  let reader: Partner;
  let refused: string;
  beforeAll(async () => {
    reader = await partner(h, acme, ['incident-read'], ['incidents:read']);
    await create(sync, acme.tenantId, { title: 'Asked for by its text', severity: 'SEV2' });
    // The answer to raw text that is no operation at all: every other refusal must be the same, byte for byte.
    refused = (await gql(h, reader, acme.tenantId, { query: '{ __typename }', variables: {} })).body;
    expect(JSON.parse(refused).errors[0].extensions).toEqual({ code: 'PERSISTED_QUERY_ONLY' });
  });

  it('runs text that is one of the app\'s operations: as written in operations/, as printed, or spaced and commented otherwise', async () => {
    const written = operationText('incident-read', 'ListIncidents');
    const printed = print(parse(written));
    const respaced = `# the partner's copy\n${printed.replace(/\n\s*/g, ' ')}`;
    for (const query of [written, printed, respaced]) {
      const res = await gql(h, reader, acme.tenantId, { query, variables: { first: 1 } });
      expect(res.statusCode, query).toBe(200);
      expect(res.json().data.incidents.edges).toHaveLength(1);
    }
    const viaGet = await h.request({
      method: 'GET',
      url: `/graphql?query=${encodeURIComponent(written)}&variables=${encodeURIComponent('{"first":1}')}`,
      headers: { ...bearer(reader.token), 'x-tenant-id': acme.tenantId },
    });
    expect(viaGet.statusCode).toBe(200);
  });

  it('runs the registered document, never the text sent', async () => {
    // graphql-codegen's normalised print of ListIncidents (its fields sorted) is the same operation: what runs is
    // the registered document, whose field order the answer follows.
    const normalised = printExecutableGraphQLDocument(parse(operationText('incident-read', 'ListIncidents')));
    const res = await gql(h, reader, acme.tenantId, { query: normalised, variables: { first: 1 } });
    expect(res.statusCode).toBe(200);
    expect(Object.keys(res.json().data.incidents.edges[0].node)).toEqual(['id', 'number', 'title', 'status', 'severity', 'labels', 'createdAt', 'updatedAt', 'closedAt', '__typename']);
    await h.runtime.services.operationStats.flush();
    const stats = await h.runtime.services.operationStats.list(reader.clientId);
    expect(stats.find((s) => s.operation_id === LIST)?.calls).toBeGreaterThanOrEqual(2);
  });

  it('refuses any other text exactly as raw query text, whether it is an operation elsewhere or not', async () => {
    const written = operationText('incident-read', 'ListIncidents');
    const others = [
      written.replace('        labels\n', ''), // one field less: another document
      operationText('incident-sync', 'CreateIncident'), // an operation, but not in this app's bundles
      `query Huge { ${Array.from({ length: 2100 }, (_, i) => `a${i}: __typename`).join(' ')} }`, // past the token limit
    ];
    for (const query of others) {
      const res = await gql(h, reader, acme.tenantId, { query, variables: {} });
      expect(res.statusCode).toBe(400);
      expect(res.body).toBe(refused);
    }
    // Text beside an id is refused as before.
    const both = await gql(h, reader, acme.tenantId, { query: written, documentId: `sha256:${LIST}` });
    expect(both.statusCode).toBe(400);
  });

  it('checks the operation\'s scopes as for an id', async () => {
    const res = await gql(h, reader, acme.tenantId, { query: operationText('incident-sync', 'CreateIncident'), variables: { input: { title: 'x', severity: 'SEV1' } } });
    expect(res.body).toBe(refused); // not in its bundles
    const writerWithoutScope = await partner(h, acme, ['incident-sync'], ['incidents:read']);
    const forbidden = await gql(h, writerWithoutScope, acme.tenantId, { query: operationText('incident-sync', 'CreateIncident'), variables: { input: { title: 'x', severity: 'SEV1' } } });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().errors[0]).toMatchObject({ message: 'the token lacks the scopes this operation needs: incidents:write', extensions: { code: 'FORBIDDEN' } });
  });
});

describe('graphql-codegen\'s document ids', () => {
  it('are accepted as aliases of the same operations (documentId, with or without sha256:, and Apollo\'s extension)', async () => {
    const codegen = sha256(printExecutableGraphQLDocument(parse(operationText('incident-read', 'ListIncidents'))));
    expect(codegen).not.toBe(LIST);
    for (const body of [
      { documentId: `sha256:${codegen}`, variables: { first: 1 } },
      { documentId: codegen, variables: { first: 1 } },
      { extensions: { persistedQuery: { version: 1, sha256Hash: codegen } }, variables: { first: 1 } },
    ]) {
      const res = await gql(h, sync, acme.tenantId, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(200);
      expect(res.json().data.incidents.edges).toHaveLength(1);
    }
    // Outside the app's bundles an alias is as unknown as any id.
    const reader = await partner(h, acme, ['incident-read'], ['incidents:read']);
    const create = sha256(printExecutableGraphQLDocument(parse(operationText('incident-sync', 'CreateIncident'))));
    expect((await gql(h, reader, acme.tenantId, { documentId: `sha256:${create}` })).statusCode).toBe(404);
  });

  it('are in the manifest', async () => {
    const manifest = await h.runtime.services.bundles.manifest('incident-read');
    expect(manifest.codegenDocumentIds).toEqual({
      GetIncident: `sha256:${sha256(printExecutableGraphQLDocument(parse(operationText('incident-read', 'GetIncident'))))}`,
      ListIncidents: `sha256:${sha256(printExecutableGraphQLDocument(parse(operationText('incident-read', 'ListIncidents'))))}`,
    });
  });
});

describe('an incident\'s notes', () => {
  it('come a page at a time, oldest first: 20 unless first says otherwise, at most 100', async () => {
    const id = (await create(sync, acme.tenantId, { title: 'Talked about a lot', severity: 'SEV3' })).json().data.createIncident.incident.id;
    for (let i = 0; i < 23; i++) {
      const res = await gql(h, sync, acme.tenantId, { documentId: `sha256:${NOTE}`, variables: { incidentId: id, body: `note ${i}` } });
      expect(res.json().data.addIncidentNote.note.body).toBe(`note ${i}`);
    }
    const read = (variables: Record<string, unknown>) => gql(h, sync, acme.tenantId, { documentId: `sha256:${GET}`, variables: { id, ...variables } });
    const first = (await read({})).json().data.incident.notes;
    expect(first.edges.map((e: { node: { body: string } }) => e.node.body)).toEqual(Array.from({ length: 20 }, (_, i) => `note ${i}`));
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = (await read({ notesAfter: first.pageInfo.endCursor })).json().data.incident.notes;
    expect(rest.edges.map((e: { node: { body: string } }) => e.node.body)).toEqual(['note 20', 'note 21', 'note 22']);
    expect(rest.pageInfo.hasNextPage).toBe(false);
    const three = (await read({ notesFirst: 3 })).json().data.incident.notes;
    expect(three.edges).toHaveLength(3);
    const tooMany = await read({ notesFirst: 101 });
    expect(tooMany.json().errors[0]).toMatchObject({ message: 'first must be between 1 and 100', extensions: { code: 'BAD_USER_INPUT' } });
    const badCursor = await read({ notesAfter: 'bm90ZTp4' });
    expect(badCursor.json().errors[0]).toMatchObject({ message: 'after is not a cursor this API returned', extensions: { code: 'BAD_USER_INPUT' } });
  });
});
