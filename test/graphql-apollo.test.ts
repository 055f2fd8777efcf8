// A real GraphQL client against the listening server: Apollo Client 4 with its persisted-query link
// (Automatic Persisted Queries wire format: `extensions.persistedQuery.sha256Hash`). The shipped
// operations select `__typename` everywhere, so Apollo's document transforms leave them as they are and
// the hash Apollo computes (SHA-256 of graphql's `print`) is the id the bundle published.
import { ApolloClient, CombinedGraphQLErrors, HttpLink, InMemoryCache, type DocumentNode } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationId, partner, publishShippedBundles, type Partner } from './helpers/graphql.js';
import { startHarness, type Harness, type TenantFixture } from './helpers/harness.js';

const ROOT = join(import.meta.dirname, '..');
const shipped = (bundle: string, name: string): DocumentNode => parse(readFileSync(join(ROOT, 'operations', bundle, `${name}.graphql`), 'utf8'));

const LIST_DOC = shipped('incident-read', 'ListIncidents');
const CREATE_DOC = shipped('incident-sync', 'CreateIncident');
const LIST = operationId('incident-read', 'ListIncidents');
const CREATE = operationId('incident-sync', 'CreateIncident');

/** A valid query that no bundle holds. */
const UNLISTED_DOC = parse(`query IncidentTitles {
  incidents(first: 5) {
    edges {
      node {
        id
        title
        __typename
      }
      __typename
    }
    __typename
  }
}`);

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Sent {
  method: string;
  url: URL;
  body: Record<string, unknown> | null;
  status: number;
  contentType: string | null;
}

let h: Harness;
let base: string;
let acme: TenantFixture;
let sync: Partner;
let reader: Partner;

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  await publishShippedBundles(h);
  sync = await partner(h, acme, ['incident-read', 'incident-sync']);
  reader = await partner(h, acme, ['incident-read']);
  // Only loopback: the server listens on 127.0.0.1, on a port the OS picks.
  base = await h.app.listen({ port: 0, host: '127.0.0.1' });
  expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
});
afterAll(() => h?.close());

/** An Apollo client for one partner; every request it makes is recorded with the server's status. */
function apolloFor(who: Partner, options: { retry?: PersistedQueryLink.Options['retry'] } = {}) {
  const sent: Sent[] = [];
  const recordingFetch: typeof fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const response = await fetch(input, init);
    sent.push({
      method: init?.method ?? 'GET',
      url,
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : null,
      status: response.status,
      contentType: response.headers.get('content-type'),
    });
    return response;
  };
  const persisted = new PersistedQueryLink({ sha256, useGETForHashedQueries: true, ...(options.retry ? { retry: options.retry } : {}) });
  const http = new HttpLink({
    uri: `${base}/graphql`,
    headers: { authorization: `Bearer ${who.token}`, 'x-tenant-id': acme.tenantId },
    fetch: recordingFetch,
  });
  const client = new ApolloClient({ link: persisted.concat(http), cache: new InMemoryCache() });
  return { client, sent };
}

/** The error a rejected Apollo call ends with. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('the Apollo call succeeded');
}

async function incidentCount(): Promise<number> {
  const [{ n }] = await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from incidents where tenant_id = ?', [acme.tenantId]);
  return n;
}

describe('Apollo Client with persisted queries', () => {
  it('runs a mutation by hash over POST, without the query text', async () => {
    const { client, sent } = apolloFor(sync);
    const result = await client.mutate({
      mutation: CREATE_DOC,
      variables: { input: { title: 'Checkout is down', severity: 'SEV1', labels: ['payments'] } },
    });
    expect(result.error).toBeUndefined();
    const payload = (result.data as { createIncident: { incident: Record<string, unknown>; userErrors: unknown[] } }).createIncident;
    expect(payload.userErrors).toEqual([]);
    expect(payload.incident).toMatchObject({ title: 'Checkout is down', severity: 'SEV1', status: 'OPEN', labels: ['payments'], __typename: 'Incident' });
    expect(payload.incident.id).toMatch(/^inc_/);

    expect(sent).toHaveLength(1);
    const [request] = sent;
    expect(request.method).toBe('POST');
    expect(request.status).toBe(200);
    // The hash Apollo computed is the id the bundle published, and the text itself never travelled.
    // (Apollo 4 also reports itself in extensions.clientLibrary, which the server ignores.)
    expect(request.body).toEqual({
      operationName: 'CreateIncident',
      variables: { input: { title: 'Checkout is down', severity: 'SEV1', labels: ['payments'] } },
      extensions: { persistedQuery: { version: 1, sha256Hash: CREATE }, clientLibrary: { name: '@apollo/client', version: expect.any(String) } },
    });
    expect(request.body).not.toHaveProperty('query');
  });

  it('runs a query by hash over GET (useGETForHashedQueries)', async () => {
    await h.runtime.services.operationStats.flush();
    const { client, sent } = apolloFor(sync);
    const result = await client.query({ query: LIST_DOC, variables: { first: 10 }, fetchPolicy: 'network-only' });
    expect(result.error).toBeUndefined();
    const incidents = (result.data as { incidents: { edges: Array<{ node: { title: string; __typename: string } }>; pageInfo: { hasNextPage: boolean } } }).incidents;
    expect(incidents.edges.map((e) => e.node.title)).toContain('Checkout is down');
    expect(incidents.edges[0].node.__typename).toBe('Incident');
    expect(incidents.pageInfo.hasNextPage).toBe(false);

    expect(sent).toHaveLength(1);
    const [request] = sent;
    expect(request.method).toBe('GET');
    expect(request.status).toBe(200);
    expect(request.url.pathname).toBe('/graphql');
    expect(request.url.searchParams.has('query')).toBe(false);
    expect(request.url.searchParams.get('operationName')).toBe('ListIncidents');
    expect(JSON.parse(request.url.searchParams.get('extensions')!)).toMatchObject({ persistedQuery: { version: 1, sha256Hash: LIST } });
    expect(JSON.parse(request.url.searchParams.get('variables')!)).toEqual({ first: 10 });

    // The call went through the persisted operation: it is counted for the app.
    const stats = await h.runtime.services.operationStats.list(sync.clientId);
    expect(stats.find((s) => s.operation_id === LIST)).toMatchObject({ operation_name: 'ListIncidents', calls: 1, errors: 0 });
  });

  it('gets PERSISTED_QUERY_NOT_IN_LIST for an unknown operation and does not retry with the query text', async () => {
    const { client, sent } = apolloFor(sync);
    const error = await failure(client.query({ query: UNLISTED_DOC, fetchPolicy: 'network-only' }));
    expect(CombinedGraphQLErrors.is(error)).toBe(true);
    const { errors, data } = error as CombinedGraphQLErrors;
    expect(data).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      message: 'the operation is not in the persisted operation list of this app',
      extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' },
    });
    // One GET with the hash only: the code is not Apollo's PERSISTED_QUERY_NOT_FOUND, so no retry.
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ method: 'GET', status: 404 });
    expect(sent[0].contentType).toMatch(/^application\/graphql-response\+json/);
    expect(sent[0].url.searchParams.has('query')).toBe(false);
    expect(JSON.parse(sent[0].url.searchParams.get('extensions')!).persistedQuery.sha256Hash).toBe(sha256(print(UNLISTED_DOC)));
  });

  it('gets the same answer for an operation that exists in a bundle the app does not hold, and writes nothing', async () => {
    const before = await incidentCount();
    const { client, sent } = apolloFor(reader);
    const error = await failure(client.mutate({ mutation: CREATE_DOC, variables: { input: { title: 'Not for readers', severity: 'SEV4' } } }));
    expect(CombinedGraphQLErrors.is(error)).toBe(true);
    expect((error as CombinedGraphQLErrors).errors.map((e) => e.extensions?.code)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ method: 'POST', status: 404 });
    expect(sent[0].body).not.toHaveProperty('query');
    expect(await incidentCount()).toBe(before);
  });

  it('refuses the full query text with PERSISTED_QUERY_ONLY when a client retries with it anyway', async () => {
    // A client told to always fall back to the text (what Apollo does after PERSISTED_QUERY_NOT_FOUND from
    // an APQ server) still gets nothing: raw text is never executed, even for a valid query.
    const { client, sent } = apolloFor(sync, { retry: () => true });
    const error = await failure(client.query({ query: UNLISTED_DOC, fetchPolicy: 'network-only' }));
    expect(CombinedGraphQLErrors.is(error)).toBe(true);
    const { errors, data } = error as CombinedGraphQLErrors;
    expect(data).toBeUndefined();
    expect(errors).toEqual([
      expect.objectContaining({
        message: 'only persisted operations are accepted: send documentId (sha256:<hex>) or extensions.persistedQuery',
        extensions: { code: 'PERSISTED_QUERY_ONLY' },
      }),
    ]);
    expect(sent.map((s) => [s.method, s.status])).toEqual([
      ['GET', 404],
      ['POST', 400],
    ]);
    expect(sent[1].body).toMatchObject({ operationName: 'IncidentTitles', query: expect.stringContaining('query IncidentTitles') });
    // Nothing ran: the refused text never reached execution, so nothing is counted for the app.
    const stats = await h.runtime.services.operationStats.list(sync.clientId);
    expect(stats.map((s) => s.operation_name)).not.toContain('IncidentTitles');
  });
});
