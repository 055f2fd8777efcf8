// The precompiled path (src/graphql/precompiled.ts) against Yoga: the same requests, sent to this app and to an
// app of the same runtime that serves everything through Yoga, must get the same status, headers and body. The
// common calls must be taken by the precompiled path, and everything it does not take must reach Yoga untouched.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../src/app.js';
import { PrecompiledOperations, regularMediaType } from '../src/graphql/precompiled.js';
import { operationId, partner, publishShippedBundles, type Partner } from './helpers/graphql.js';
import { startHarness, type Harness, type TenantFixture } from './helpers/harness.js';

let h: Harness;
let yogaOnly: FastifyInstance;
let acme: TenantFixture;
let globex: TenantFixture;
let sync: Partner;
let reader: Partner;
let readOnlySync: Partner;
let incidentId: string;

const LIST = operationId('incident-read', 'ListIncidents');
const GET = operationId('incident-read', 'GetIncident');
const CREATE = operationId('incident-sync', 'CreateIncident');
const UPDATE = operationId('incident-sync', 'UpdateIncident');
const APOLLO_ACCEPT = 'application/graphql-response+json,application/json;q=0.9';

const served = vi.spyOn(PrecompiledOperations.prototype, 'serve');
const prepared = vi.spyOn(PrecompiledOperations.prototype, 'prepare');

beforeAll(async () => {
  h = await startHarness();
  yogaOnly = await buildApp(h.config, h.runtime, { graphql: { precompiled: false } });
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  await publishShippedBundles(h);
  sync = await partner(h, acme, ['incident-read', 'incident-sync']);
  reader = await partner(h, acme, ['incident-read'], ['incidents:read']);
  readOnlySync = await partner(h, acme, ['incident-read', 'incident-sync'], ['incidents:read']);
  for (let i = 1; i <= 3; i++) {
    const res = await post(h.app, sync, { documentId: `sha256:${CREATE}`, variables: { input: { title: `Parity ${i}`, severity: 'SEV2', labels: ['parity'] } } });
    expect(res.statusCode).toBe(200);
    incidentId = res.json().data.createIncident.incident.id;
  }
});
afterAll(async () => {
  await yogaOnly?.close();
  await h?.close();
});

function post(app: FastifyInstance, who: Partner, body: unknown, headers: Record<string, string> = {}, tenantId: string | null = acme.tenantId) {
  return app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { authorization: `Bearer ${who.token}`, 'content-type': 'application/json', ...(tenantId ? { 'x-tenant-id': tenantId } : {}), ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function get(app: FastifyInstance, who: Partner, query: Record<string, unknown>, headers: Record<string, string> = {}) {
  const search = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  return app.inject({ method: 'GET', url: `/graphql?${search}`, headers: { authorization: `Bearer ${who.token}`, 'x-tenant-id': acme.tenantId, ...headers } });
}

/** Everything a client sees but the per-request id and the date. */
function observed(res: LightMyRequestResponse) {
  const { 'x-request-id': _id, date: _date, ...headers } = res.headers;
  return { status: res.statusCode, headers, body: res.body };
}

/** Sends the request to both apps; they must answer alike. Returns whether the precompiled path answered it. */
async function sameAnswer(send: (app: FastifyInstance) => Promise<LightMyRequestResponse>): Promise<{ direct: boolean; res: LightMyRequestResponse }> {
  served.mockClear();
  const res = await send(h.app);
  const direct = (await served.mock.results[0]!.value) as boolean;
  const viaYoga = await send(yogaOnly);
  expect(observed(res)).toEqual(observed(viaYoga));
  return { direct, res };
}

describe('compiled ahead', () => {
  it('prepares the operations when the registry loads them, before any request names them', async () => {
    const ids = prepared.mock.calls.flatMap(([operations]) => operations.map((o) => o.id));
    for (const id of [LIST, GET, CREATE, UPDATE]) expect(ids).toContain(id);
  });
});

describe('served by the precompiled path, exactly as Yoga answers', () => {
  it.each([
    ['no Accept', {}],
    ['Accept: application/json', { accept: 'application/json' }],
    ['Accept: application/graphql-response+json', { accept: 'application/graphql-response+json' }],
    ["Apollo's Accept", { accept: APOLLO_ACCEPT }],
    ['Accept: */*', { accept: '*/*' }],
    ['Accept: application/*', { accept: 'application/*' }],
    ['Accept: text/html first', { accept: 'text/html, application/graphql-response+json' }],
  ])('lists incidents by documentId (%s)', async (_name, headers) => {
    const { direct, res } = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${LIST}`, variables: { first: 2 } }, headers));
    expect(direct).toBe(true);
    expect(res.statusCode).toBe(200);
    expect(res.json().data.incidents.edges).toHaveLength(2);
  });

  it('runs Apollo persisted queries, with operationName, over POST and GET', async () => {
    const extensions = { persistedQuery: { version: 1, sha256Hash: LIST } };
    const viaPost = await sameAnswer((app) => post(app, sync, { operationName: 'ListIncidents', variables: { first: 1 }, extensions }, { accept: APOLLO_ACCEPT }));
    expect(viaPost.direct).toBe(true);
    const viaGet = await sameAnswer((app) => get(app, sync, { operationName: 'ListIncidents', variables: { first: 1 }, extensions }, { accept: APOLLO_ACCEPT }));
    expect(viaGet.direct).toBe(true);
    expect(viaGet.res.json().data.incidents.edges).toHaveLength(1);
  });

  it('runs queries by documentId over GET, with filters and cursors', async () => {
    const first = await sameAnswer((app) => get(app, sync, { documentId: `sha256:${LIST}`, variables: { first: 1, filter: { severity: 'SEV2' } } }));
    expect(first.direct).toBe(true);
    const after = first.res.json().data.incidents.pageInfo.endCursor;
    const next = await sameAnswer((app) => get(app, sync, { documentId: `sha256:${LIST}`, variables: { first: 1, after } }));
    expect(next.direct).toBe(true);
    expect(next.res.json().data.incidents.edges).toHaveLength(1);
  });

  it('takes null variables and operationName, and a DateTime variable, as Yoga does', async () => {
    const nulls = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${LIST}`, variables: null, operationName: null }));
    expect(nulls.direct).toBe(true);
    expect(nulls.res.json().data.incidents.edges.length).toBeGreaterThan(0);
    for (const updatedSince of ['2000-01-01T00:00:00Z', '2999-01-01T00:00:00.000Z']) {
      const { direct } = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${LIST}`, variables: { filter: { updatedSince, status: 'OPEN' } } }));
      expect(direct).toBe(true);
    }
    const badDate = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${LIST}`, variables: { filter: { updatedSince: 'yesterday' } } }));
    expect(badDate.res.statusCode).toBe(400);
  });

  it('reads one incident with its nested notes, and a missing one as null', async () => {
    const one = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${GET}`, variables: { id: incidentId } }));
    expect(one.direct).toBe(true);
    expect(one.res.json().data.incident).toMatchObject({ id: incidentId, notes: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } } });
    const none = await sameAnswer((app) => post(app, reader, { documentId: `sha256:${GET}`, variables: { id: 'inc_missing' } }));
    expect(none.direct).toBe(true);
    expect(none.res.json()).toEqual({ data: { incident: null } });
  });

  it.each([
    ['application/json', undefined],
    ['application/graphql-response+json', 'application/graphql-response+json'],
  ])('answers variables that do not fit the operation as a request error, 400 (%s)', async (_name, accept) => {
    const headers: Record<string, string> = accept ? { accept } : {};
    for (const variables of [{ first: 'ten' }, { first: 1, filter: { severity: 'SEV9' } }, { after: 5 }]) {
      const { direct, res } = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${LIST}`, variables }, headers));
      expect(direct).toBe(true);
      expect(res.statusCode).toBe(400);
      expect(res.json().data).toBeUndefined();
    }
    const missing = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${GET}` }, headers));
    expect(missing.res.statusCode).toBe(400);
    const badInput = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${CREATE}`, variables: { input: { title: 'x', severity: 'SEV9' } } }, headers));
    expect(badInput.res.statusCode).toBe(400);
    expect(badInput.res.json().errors[0].message).toContain('SEV9');
  });

  it.each([
    ['application/json', undefined],
    ['application/graphql-response+json', 'application/graphql-response+json'],
  ])('answers resolver errors with their code and no internals (%s)', async (_name, accept) => {
    const headers: Record<string, string> = accept ? { accept } : {};
    const tooMany = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${LIST}`, variables: { first: 500 } }, headers));
    expect(tooMany.direct).toBe(true);
    expect(tooMany.res.json().errors[0]).toMatchObject({ message: 'first must be between 1 and 100', extensions: { code: 'BAD_USER_INPUT' } });
    const badCursor = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${LIST}`, variables: { after: 'not-a-cursor' } }, headers));
    expect(badCursor.res.json().errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT' });
    // A fault of ours (the notes table is gone for a moment): an unexpected error, masked, its cause never shown.
    const db = h.runtime.orm.em.fork().getConnection();
    await db.execute('alter table incident_notes rename to incident_notes_away');
    let internal;
    try {
      internal = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${GET}`, variables: { id: incidentId } }, headers));
    } finally {
      await db.execute('alter table incident_notes_away rename to incident_notes');
    }
    expect(internal.direct).toBe(true);
    expect(internal.res.json().errors).toEqual([expect.objectContaining({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } })]);
    expect(internal.res.body).not.toMatch(/incident_notes|relation|select|postgres/i);
    // A NUL byte, which PostgreSQL cannot store, never reaches it: Yoga refuses the variables (src/http/input.ts).
    const nul = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${GET}`, variables: { id: 'inc_\u0000' } }, headers));
    expect(nul.direct).toBe(false);
    expect(nul.res.statusCode).toBe(400);
    expect(nul.res.json().errors).toEqual([{ message: 'variables.id must not contain a NUL character or an unpaired surrogate', extensions: { code: 'BAD_USER_INPUT' } }]);
  });

  it('answers typed user errors of a mutation, and writes nothing', async () => {
    const { direct, res } = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${UPDATE}`, variables: { id: incidentId, input: { title: '  ', labels: ['Not Valid'] } } }));
    expect(direct).toBe(true);
    expect(res.json().data.updateIncident.userErrors.map((e: { code: string }) => e.code)).toEqual(['INVALID_LENGTH', 'INVALID_FORMAT']);
  });

  it('takes parameters it does not know, as Yoga does once the persisted operation is found', async () => {
    const { direct, res } = await sameAnswer((app) => post(app, sync, { documentId: `sha256:${LIST}`, variables: { first: 1 }, extra: 1 }));
    expect(direct).toBe(true);
    expect(res.statusCode).toBe(200);
  });

  it('runs mutations over POST, counted per app and operation like any call', async () => {
    await h.runtime.services.operationStats.flush();
    const before = (await h.runtime.services.operationStats.list(sync.clientId)).find((s) => s.operation_id === CREATE)?.calls ?? 0;
    served.mockClear();
    const res = await post(h.app, sync, { documentId: `sha256:${CREATE}`, variables: { input: { title: 'Direct write', severity: 'SEV4' } } });
    expect(await served.mock.results[0]!.value).toBe(true);
    expect(res.statusCode).toBe(200);
    expect(res.json().data.createIncident).toMatchObject({ incident: { title: 'Direct write', number: 4 }, userErrors: [] });
    const after = (await h.runtime.services.operationStats.list(sync.clientId)).find((s) => s.operation_id === CREATE)!;
    expect(after.calls).toBe(before + 1);
  });

  it('sees only the X-Tenant-ID tenant\'s rows', async () => {
    const other = await partner(h, globex, ['incident-read']);
    const res = await sameAnswer((app) => post(app, other, { documentId: `sha256:${LIST}`, variables: { first: 100 } }, {}, globex.tenantId));
    expect(res.direct).toBe(true);
    expect(res.res.json().data.incidents.edges).toEqual([]);
    const get = await sameAnswer((app) => post(app, other, { documentId: `sha256:${GET}`, variables: { id: incidentId } }, {}, globex.tenantId));
    expect(get.res.json().data.incident).toBeNull();
  });
});

describe('left to Yoga, which answers as before', () => {
  const cases: Array<[string, (app: FastifyInstance) => Promise<LightMyRequestResponse>, number]> = [
    ['raw query text', (app) => post(app, sync, { query: '{ incidents { edges { node { id } } } }' }), 400],
    ['raw query text beside a documentId', (app) => post(app, sync, { query: '{ __typename }', documentId: `sha256:${LIST}` }), 400],
    ['no operation id', (app) => post(app, sync, { variables: { first: 1 } }), 400],
    ['an unknown id', (app) => post(app, sync, { documentId: `sha256:${'0'.repeat(64)}` }), 404],
    ['an id outside the app\'s bundles', (app) => post(app, reader, { documentId: `sha256:${CREATE}`, variables: { input: { title: 'x', severity: 'SEV1' } } }), 404],
    ['no token', (app) => app.inject({ method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json', 'x-tenant-id': acme.tenantId }, payload: { documentId: `sha256:${LIST}` } }), 401],
    ['a bad token', (app) => post(app, { ...sync, token: 'not.a.token' }, { documentId: `sha256:${LIST}` }), 401],
    ['no X-Tenant-ID', (app) => post(app, sync, { documentId: `sha256:${LIST}` }, {}, null), 403],
    ['another tenant', (app) => post(app, sync, { documentId: `sha256:${LIST}` }, {}, globex.tenantId), 403],
    ['a scope the token lacks', (app) => post(app, readOnlySync, { documentId: `sha256:${CREATE}`, variables: { input: { title: 'No scope', severity: 'SEV1' } } }), 403],
    ['a mutation over GET', (app) => get(app, sync, { documentId: `sha256:${UPDATE}`, variables: { id: incidentId, input: { title: 'GET write' } } }), 405],
    ['an operationName the document lacks', (app) => post(app, sync, { documentId: `sha256:${LIST}`, operationName: 'Other' }), 400],
    ['variables that are not an object', (app) => post(app, sync, { documentId: `sha256:${LIST}`, variables: [1] }), 400],
    ['a batch', (app) => post(app, sync, [{ documentId: `sha256:${LIST}` }]), 400],
    ['GET variables that are not JSON (GraphQL over HTTP: 400)', (app) => get(app, sync, { documentId: `sha256:${LIST}`, variables: '{first' }), 400],
    ['an Accept without a JSON type', (app) => post(app, sync, { documentId: `sha256:${LIST}` }, { accept: 'text/html' }), 406],
    ['an event stream', (app) => post(app, sync, { documentId: `sha256:${LIST}`, variables: { first: 1 } }, { accept: 'text/event-stream' }), 200],
    ['a browser\'s Origin', (app) => post(app, sync, { documentId: `sha256:${LIST}`, variables: { first: 1 } }, { origin: 'https://partner.example' }), 200],
  ];
  it.each(cases)('%s', async (_name, send, status) => {
    const { direct, res } = await sameAnswer(send);
    expect(direct).toBe(false);
    expect(res.statusCode).toBe(status);
  });

  it('counts what Yoga executes, and nothing it refuses', async () => {
    const stats = await h.runtime.services.operationStats.list(reader.clientId);
    expect(stats.find((s) => s.operation_id === CREATE)).toBeUndefined();
  });
});

describe('regularMediaType (Yoga\'s choice among its result processors)', () => {
  it.each([
    [undefined, 'application/json'],
    ['', 'application/json'],
    ['*/*', 'application/json'],
    ['application/json', 'application/json'],
    ['application/graphql-response+json', 'application/graphql-response+json'],
    [APOLLO_ACCEPT, 'application/graphql-response+json'],
    ['application/json, application/graphql-response+json', 'application/json'],
    ['application/graphql-response+json; charset=utf-8', 'application/graphql-response+json'],
    ['application/graphql-response+json; charset=latin1, application/json', 'application/json'],
    ['text/event-stream, application/graphql-response+json', 'application/graphql-response+json'],
    ['text/event-stream', null],
    ['multipart/mixed', null],
    ['text/html', null],
  ])('%s -> %s', (accept, expected) => {
    expect(regularMediaType(accept as string | undefined)).toBe(expected);
  });
});
