// Operation bundles: the operator's check and publish (CLI and registry), manifests, the operator REST
// routes under /api/v1/platform/, what a bundle can never make the transport do (introspection,
// graphql-armor limits) and per-app operation statistics.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kind, parse, print, type OperationDefinitionNode } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codegenId, loadBundles, requiredScopes, type CheckedBundle, type CheckedOperation } from '../src/bundles/files.js';
import { Conflict } from '../src/errors.js';
import { schema as getSchema } from '../src/modules.js';
import { sha256 } from '../src/ids.js';
import { gql, operationId, partner, publishShippedBundles, type Partner } from './helpers/graphql.js';
import { ROOT } from './helpers/cli.js';
import { bearer, startHarness, tokenRequest, type Harness, type TenantFixture } from './helpers/harness.js';
import { until } from './helpers/poll.js';

const LIST = operationId('incident-read', 'ListIncidents');
const GET = operationId('incident-read', 'GetIncident');
const CREATE = operationId('incident-sync', 'CreateIncident');
const UPDATE = operationId('incident-sync', 'UpdateIncident');
const CLOSE = operationId('incident-sync', 'CloseIncident');
const NOTE = operationId('incident-sync', 'AddIncidentNote');

let h: Harness;
let operator: string;
let acme: TenantFixture;
let globex: TenantFixture;
const tempDirs: string[] = [];

beforeAll(async () => {
  h = await startHarness();
  operator = await h.operatorToken();
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  await publishShippedBundles(h);
});
afterAll(async () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  await h?.close();
});

/** The operator CLI in `cwd` (it reads `operations/` relative to it), on this file's database. */
const cli = (args: string[], cwd = ROOT) => h.cli(args, cwd);

/** A scratch folder holding `operations/<bundle>/<file>` for each entry of `files`. */
function operationsFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bundles-'));
  tempDirs.push(dir);
  writeOperations(dir, files);
  return dir;
}

function writeOperations(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    const file = join(dir, 'operations', path);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, text);
  }
}

/** The bundles in operations/, by folder name. */
const shippedNames = () => loadBundles(getSchema(), join(ROOT, 'operations')).bundles.map((b) => b.name);

const meta = (name: string, version = '1.0.0', description = `The ${name} bundle`) => JSON.stringify({ name, description, version });

/**
 * A bundle built by hand, bypassing loadBundles' checks (what a tampered row or a buggy publisher
 * could store): id = SHA-256 of graphql's print, as for every published operation.
 */
function handMade(name: string, documents: string[], version = '1.0.0'): CheckedBundle {
  const schema = getSchema();
  const operations: CheckedOperation[] = documents.map((text) => {
    const document = parse(text);
    const definition = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
    const normalized = print(document);
    return {
      file: `${definition.name!.value}.graphql`,
      id: sha256(normalized),
      aliasId: codegenId(document),
      document: normalized,
      name: definition.name!.value,
      type: definition.operation as 'query' | 'mutation',
      requiredScopes: requiredScopes(schema, document),
    };
  });
  return { name, description: `hand-made ${name}`, version, operations };
}

const idOf = (bundle: CheckedBundle, name: string) => bundle.operations.find((o) => o.name === name)!.id;

async function assign(clientId: string, bundle: string) {
  return h.request({ method: 'POST', url: `/api/v1/platform/apps/${clientId}/bundles`, headers: bearer(operator), payload: { bundle } });
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const [{ n }] = await h.runtime.orm.em.fork().getConnection().execute(sql, params);
  return n;
}

const waitFor = <T>(probe: () => Promise<T>, done: (value: T) => boolean) => until(probe, done, { timeoutMs: 5_000, intervalMs: 50 });

describe('operations check', { timeout: 60_000 }, () => {
  it('passes the shipped bundles (exit 0) and lists them', async () => {
    const result = await cli(['operations', 'check', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const listed = JSON.parse(result.stdout) as Array<{ bundle: string; status: string }>;
    expect(listed).toEqual(
      expect.arrayContaining([
        { bundle: 'incident-read', version: '2.0.0', source: 'operations/', operations: 2, status: 'ok' },
        { bundle: 'incident-sync', version: '2.0.0', source: 'operations/', operations: 4, status: 'ok' },
      ]),
    );
    // Every shipped bundle, each once, all ok.
    expect(listed.map((b) => b.bundle)).toEqual(shippedNames());
    expect(listed.every((b) => b.status === 'ok')).toBe(true);
  });

  const valid = 'query Ok { incident(id: "x") { id } }';
  const broken = {
    'broken/bundle.json': meta('broken'),
    'broken/Syntax.graphql': 'query Syntax { incidents {',
    'broken/UnknownField.graphql': 'query UnknownField { incident(id: "x") { id secret } }',
    'broken/Two.graphql': 'query One { incident(id: "x") { id } }\nquery Two { incident(id: "y") { id } }',
    'broken/Unnamed.graphql': '{ incident(id: "x") { id } }',
    'broken/Subscription.graphql': 'subscription OnIncident { incident(id: "x") { id } }',
    'broken/Introspection.graphql': '{ __schema { types { name } } }',
    'broken/TypeProbe.graphql': 'query TypeProbe { __type(name: "Incident") { fields { name } } }',
    'no-meta/Ok.graphql': valid,
    'bad-json/bundle.json': '{ "name": ',
    'bad-json/Ok.graphql': valid,
    'bad-version/bundle.json': meta('bad-version', '1.0'),
    'bad-version/Ok.graphql': valid,
    'wrong-name/bundle.json': meta('other-name'),
    'wrong-name/Ok.graphql': valid,
    'empty/bundle.json': meta('empty'),
    'dupe/bundle.json': meta('dupe'),
    'dupe/A.graphql': 'query Same { incident(id: "x") { id } }',
    'dupe/B.graphql': 'query Same { incident(id: "y") { title } }',
    'fine/bundle.json': meta('fine'),
    'fine/Ok.graphql': valid,
  };
  const expectedProblems = [
    { bundle: 'bad-json', file: 'bundle.json', message: expect.stringMatching(/^is not valid JSON: /) },
    { bundle: 'bad-version', file: 'bundle.json', message: 'version must look like 1.2.3' },
    { bundle: 'broken', file: 'Introspection.graphql', message: 'the operation must be named' },
    { bundle: 'broken', file: 'Introspection.graphql', message: 'GraphQL introspection has been disabled, but the requested query contained the field "__schema".' },
    { bundle: 'broken', file: 'Introspection.graphql', message: 'GraphQL introspection has been disabled, but the requested query contained the field "types".' },
    { bundle: 'broken', file: 'Subscription.graphql', message: 'subscriptions are not served' },
    { bundle: 'broken', file: 'Syntax.graphql', message: expect.stringMatching(/^does not parse: Syntax Error: Expected Name, found <EOF>/) },
    { bundle: 'broken', file: 'Two.graphql', message: 'must hold exactly one operation (found 2)' },
    { bundle: 'broken', file: 'TypeProbe.graphql', message: 'GraphQL introspection has been disabled, but the requested query contained the field "__type".' },
    { bundle: 'broken', file: 'TypeProbe.graphql', message: 'GraphQL introspection has been disabled, but the requested query contained the field "fields".' },
    { bundle: 'broken', file: 'UnknownField.graphql', message: 'Cannot query field "secret" on type "Incident".' },
    { bundle: 'broken', file: 'Unnamed.graphql', message: 'the operation must be named' },
    { bundle: 'dupe', file: '-', message: 'operation name Same is used twice' },
    { bundle: 'empty', file: '-', message: 'the bundle has no .graphql operations' },
    { bundle: 'no-meta', file: 'bundle.json', message: 'is missing' },
    { bundle: 'wrong-name', file: 'bundle.json', message: 'name must be "wrong-name", the folder\'s name' },
  ];

  it('names every broken operation and bundle with its reason (loadBundles)', () => {
    const dir = operationsFolder(broken);
    const { bundles, problems } = loadBundles(getSchema(), join(dir, 'operations'));
    expect(problems).toEqual(expectedProblems);
    // Only a bundle without any problem is returned; the CLI still refuses the whole folder.
    expect(bundles.map((b) => b.name)).toEqual(['fine']);
  });

  it('fails with exit 1, naming each broken operation and why (CLI)', async () => {
    const dir = operationsFolder(broken);
    const result = await cli(['operations', 'check'], dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('operations check failed:');
    expect(lines.slice(1)).toHaveLength(expectedProblems.length);
    for (const line of [
      '  - broken/Syntax.graphql: does not parse: Syntax Error: Expected Name, found <EOF>.',
      '  - broken/UnknownField.graphql: Cannot query field "secret" on type "Incident".',
      '  - broken/Two.graphql: must hold exactly one operation (found 2)',
      '  - broken/Unnamed.graphql: the operation must be named',
      '  - broken/Subscription.graphql: subscriptions are not served',
      '  - broken/Introspection.graphql: GraphQL introspection has been disabled, but the requested query contained the field "__schema".',
      '  - broken/TypeProbe.graphql: GraphQL introspection has been disabled, but the requested query contained the field "__type".',
      '  - no-meta/bundle.json: is missing',
      '  - bad-version/bundle.json: version must look like 1.2.3',
      '  - wrong-name/bundle.json: name must be "wrong-name", the folder\'s name',
      '  - empty/-: the bundle has no .graphql operations',
      '  - dupe/-: operation name Same is used twice',
    ]) {
      expect(lines).toContain(line);
    }
    expect(lines.some((l) => l.startsWith('  - bad-json/bundle.json: is not valid JSON: '))).toBe(true);
  });

  it('fails with exit 1 when there is no operations folder at all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-bundles-'));
    tempDirs.push(dir);
    const result = await cli(['operations', 'check'], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('operations check failed:\n  - -/operations: the operations folder does not exist\n');
  });

  it('publishes nothing from a folder that fails the check', async () => {
    const before = await count('select count(*)::int as n from bundle_versions');
    const dir = operationsFolder(broken);
    const result = await cli(['operations', 'publish'], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^operations check failed:\n/);
    expect(await count('select count(*)::int as n from bundle_versions')).toBe(before);
    expect(await count("select count(*)::int as n from bundle_versions where bundle = 'fine'")).toBe(0);
  });
});

describe('publish', { timeout: 60_000 }, () => {
  it('leaves an already published, unchanged version alone', async () => {
    const { bundles } = loadBundles(getSchema(), join(ROOT, 'operations'));
    const unchanged = bundles.map((b) => ({ bundle: b.name, version: b.version, status: 'unchanged' }));
    expect(unchanged).toEqual(
      expect.arrayContaining([
        { bundle: 'incident-read', version: '2.0.0', status: 'unchanged' },
        { bundle: 'incident-sync', version: '2.0.0', status: 'unchanged' },
      ]),
    );
    expect(await h.runtime.services.bundles.publish(bundles, 'operator')).toEqual(unchanged);
    const result = await cli(['operations', 'publish', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(unchanged);
    expect(await count('select count(*)::int as n from bundle_versions')).toBe(bundles.length);
  });

  it('refuses the same version with other content (409 Conflict) and writes nothing, not even other bundles', async () => {
    const { bundles } = loadBundles(getSchema(), join(ROOT, 'operations'));
    const read = bundles.find((b) => b.name === 'incident-read')!;
    const changed: CheckedBundle = { ...read, operations: read.operations.filter((o) => o.name === 'ListIncidents') };
    const other = handMade('never-published', ['query NeverPublished { incident(id: "x") { id } }']);
    const error = await h.runtime.services.bundles.publish([other, changed], 'operator').then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Conflict);
    expect(error).toMatchObject({ status: 409, code: 'conflict', description: 'incident-read 2.0.0 is already published with other content; raise the version in bundle.json' });
    // One transaction: the bundle before the refused one was not published either.
    expect(await count("select count(*)::int as n from bundle_versions where bundle = 'never-published'")).toBe(0);
    const stored = await h.request({ method: 'GET', url: '/api/v1/platform/bundles/incident-read', headers: bearer(operator) });
    expect(stored.json().operations.map((o: { id: string }) => o.id).sort()).toEqual([GET, LIST].sort());

    // A changed description is other content too.
    const redescribed: CheckedBundle = { ...read, description: 'Something else' };
    await expect(h.runtime.services.bundles.publish([redescribed], 'operator')).rejects.toBeInstanceOf(Conflict);
  });

  it('stores a new version beside the old one through the CLI; the app runs the operations of every version', async () => {
    const titlesV1 = 'query FeedTitles {\n  incidents(first: 5) {\n    edges {\n      node {\n        id\n        title\n        __typename\n      }\n      __typename\n    }\n    __typename\n  }\n}\n';
    const one = 'query FeedOne($id: ID!) {\n  incident(id: $id) {\n    id\n    title\n    __typename\n  }\n}\n';
    const titlesV2 = titlesV1.replace('        title\n', '        title\n        number\n');
    const idV1 = sha256(print(parse(titlesV1)));
    const idOne = sha256(print(parse(one)));
    const idV2 = sha256(print(parse(titlesV2)));

    const dir = operationsFolder({ 'incident-feed/bundle.json': meta('incident-feed'), 'incident-feed/FeedTitles.graphql': titlesV1, 'incident-feed/FeedOne.graphql': one });
    const first = await cli(['operations', 'publish', '--json'], dir);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual([{ bundle: 'incident-feed', version: '1.0.0', status: 'published' }]);
    const again = await cli(['operations', 'publish', '--json'], dir);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual([{ bundle: 'incident-feed', version: '1.0.0', status: 'unchanged' }]);

    // Same version, other content: refused, exit 2 (the operator's mistake), nothing stored.
    writeOperations(dir, { 'incident-feed/FeedTitles.graphql': titlesV2 });
    const conflict = await cli(['operations', 'publish'], dir);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toBe('error: incident-feed 1.0.0 is already published with other content; raise the version in bundle.json\n');
    expect(await count("select count(*)::int as n from bundle_versions where bundle = 'incident-feed'")).toBe(1);

    const p = await partner(h, acme, ['incident-feed']);
    const created = await partner(h, acme, ['incident-sync']);
    const incident = (await gql(h, created, acme.tenantId, { documentId: `sha256:${CREATE}`, variables: { input: { title: 'Feed me', severity: 'SEV3' } } })).json().data.createIncident.incident;
    expect((await gql(h, p, acme.tenantId, { documentId: `sha256:${idV2}` })).statusCode).toBe(404);

    // A new version: FeedTitles changed, FeedOne dropped.
    writeOperations(dir, { 'incident-feed/bundle.json': meta('incident-feed', '1.1.0') });
    rmSync(join(dir, 'operations', 'incident-feed', 'FeedOne.graphql'));
    const bumped = await cli(['operations', 'publish', '--json'], dir);
    expect(bumped.stderr).toBe('');
    expect(JSON.parse(bumped.stdout)).toEqual([{ bundle: 'incident-feed', version: '1.1.0', status: 'published' }]);

    const listing = await h.request({ method: 'GET', url: '/api/v1/platform/bundles', headers: bearer(operator) });
    expect(listing.json().bundles.find((b: { name: string }) => b.name === 'incident-feed')).toEqual({
      name: 'incident-feed',
      description: 'The incident-feed bundle',
      latest_version: '1.1.0',
      versions: [
        { version: '1.0.0', status: 'published', published_at: expect.stringMatching(/Z$/), deprecated_at: null, retired_at: null, operations: 2 },
        { version: '1.1.0', status: 'published', published_at: expect.stringMatching(/Z$/), deprecated_at: null, retired_at: null, operations: 1 },
      ],
    });
    const latest = await h.request({ method: 'GET', url: '/api/v1/platform/bundles/incident-feed', headers: bearer(operator) });
    expect(latest.json()).toMatchObject({ name: 'incident-feed', version: '1.1.0', operations: [{ id: idV2, name: 'FeedTitles' }] });
    const old = await h.request({ method: 'GET', url: '/api/v1/platform/bundles/incident-feed?version=1.0.0', headers: bearer(operator) });
    expect(old.json().operations.map((o: { id: string; name: string }) => [o.name, o.id])).toEqual([
      ['FeedOne', idOne],
      ['FeedTitles', idV1],
    ]);

    // The CLI's NOTIFY reaches this process: the new version's operation is served without an assignment change,
    // and the old version's operations keep working for clients built against 1.0.0.
    const v2 = await waitFor(() => gql(h, p, acme.tenantId, { documentId: `sha256:${idV2}` }), (r) => r.statusCode === 200);
    expect(v2.statusCode).toBe(200);
    expect(v2.json().data.incidents.edges[0].node).toMatchObject({ id: incident.id, title: 'Feed me', number: expect.any(Number) });
    const v1 = await gql(h, p, acme.tenantId, { documentId: `sha256:${idV1}` });
    expect(v1.statusCode).toBe(200);
    expect(v1.json().data.incidents.edges[0].node).toEqual({ id: incident.id, title: 'Feed me', __typename: 'Incident' });
    const dropped = await gql(h, p, acme.tenantId, { documentId: `sha256:${idOne}`, variables: { id: incident.id } });
    expect(dropped.statusCode).toBe(200);
    expect(dropped.json().data.incident).toEqual({ id: incident.id, title: 'Feed me', __typename: 'Incident' });
  });
});

describe('publish, concurrently', () => {
  it('stores one version when the same version is published twice at once: one published, one unchanged', async () => {
    const bundle = handMade('twice-at-once', ['query TwiceAtOnce { incident(id: "x") { id } }']);
    const results = await Promise.allSettled([h.runtime.services.bundles.publish([bundle], 'operator'), h.runtime.services.bundles.publish([bundle], 'operator')]);
    expect(results.map((r) => r.status), results.map((r) => (r.status === 'rejected' ? String(r.reason) : '')).join('\n')).toEqual(['fulfilled', 'fulfilled']);
    const statuses = results.map((r) => (r as PromiseFulfilledResult<Array<{ status: string }>>).value[0].status).sort();
    expect(statuses).toEqual(['published', 'unchanged']);
    expect(await count("select count(*)::int as n from bundle_versions where bundle = 'twice-at-once'")).toBe(1);
  });

  it('serves a version published while a reload was already reading the tables', async () => {
    // The registry coalesces reloads (`this.loading ??=`): a publish that commits while another reload (one a
    // NOTIFY from another process started) has already read bundle_operations must not be satisfied by that
    // older reload, or its operations stay unserved until some later change.
    const v1 = handMade('late-reload', ['query LateOne { incident(id: "x") { id } }']);
    expect(await h.runtime.services.bundles.publish([v1], 'operator')).toEqual([{ bundle: 'late-reload', version: '1.0.0', status: 'published' }]);
    const p = await partner(h, acme, ['late-reload']);
    const v2 = handMade('late-reload', ['query LateOne { incident(id: "x") { id } }', 'query LateTwo { incident(id: "y") { title } }'], '1.1.0');

    // Another connection holds app_bundles, the last table a reload reads, so the reload below stops there
    // after reading bundle_operations and bundle_versions (publish does not touch app_bundles).
    const blocker = new pg.Client({ connectionString: h.databaseUrl });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query('lock table app_bundles in access exclusive mode');
      const inFlight = h.runtime.services.bundleRegistry.reload();
      await waitFor(
        async () => (await blocker.query("select count(*)::int as n from pg_locks where relation = 'app_bundles'::regclass and not granted")).rows[0].n,
        (n) => n > 0,
      );
      const published = h.runtime.services.bundles.publish([v2], 'operator');
      // Committed (and NOTIFY sent) while the older reload still waits.
      await waitFor(async () => (await blocker.query("select count(*)::int as n from bundle_versions where bundle = 'late-reload' and version = '1.1.0'")).rows[0].n, (n) => n === 1);
      await new Promise((r) => setTimeout(r, 300));
      await blocker.query('rollback');
      await inFlight;
      expect(await published).toEqual([{ bundle: 'late-reload', version: '1.1.0', status: 'published' }]);
    } finally {
      await blocker.end();
    }
    // publish() has returned: its new operation is served now, on this process.
    const res = await gql(h, p, acme.tenantId, { documentId: `sha256:${idOf(v2, 'LateTwo')}`, variables: {} });
    expect(res.statusCode, res.body).toBe(200);
  });
});

describe('manifest', { timeout: 60_000 }, () => {
  const expected = () => ({
    bundle: 'incident-read',
    version: '2.0.0',
    status: 'published',
    deprecated_at: null,
    apollo: {
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: [
        { id: GET, name: 'GetIncident', type: 'query', body: expect.stringMatching(/^query GetIncident\(\$id: ID!, \$notesFirst: Int, \$notesAfter: String\) \{/) },
        { id: LIST, name: 'ListIncidents', type: 'query', body: expect.stringMatching(/^query ListIncidents\(/) },
      ],
    },
    documentIds: { GetIncident: `sha256:${GET}`, ListIncidents: `sha256:${LIST}` },
    // What graphql-codegen's client preset sends for the same documents (test/graphql.test.ts checks the ids).
    codegenDocumentIds: { GetIncident: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), ListIncidents: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) },
  });

  it('gives an Apollo persisted-query manifest and a documentId map', async () => {
    const manifest = await h.runtime.services.bundles.manifest('incident-read');
    expect(manifest).toEqual(expected());
    for (const operation of manifest.apollo.operations) {
      // The id is the SHA-256 of the body as stored: what Apollo's link computes from the same text.
      expect(operation.id).toBe(sha256(operation.body));
      expect(print(parse(operation.body))).toBe(operation.body);
    }
    const sync = await h.runtime.services.bundles.manifest('incident-sync', '2.0.0');
    expect(sync.documentIds).toEqual({
      AddIncidentNote: `sha256:${NOTE}`,
      CloseIncident: `sha256:${CLOSE}`,
      CreateIncident: `sha256:${CREATE}`,
      UpdateIncident: `sha256:${UPDATE}`,
    });
    expect(sync.apollo.operations.map((o) => o.type)).toEqual(['mutation', 'mutation', 'mutation', 'mutation']);
  });

  it('is served to the operator at GET /api/v1/platform/bundles/{bundle}/manifest', async () => {
    const res = await h.request({ method: 'GET', url: '/api/v1/platform/bundles/incident-read/manifest', headers: bearer(operator) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(expected());
    const pinned = await h.request({ method: 'GET', url: '/api/v1/platform/bundles/incident-read/manifest?version=2.0.0', headers: bearer(operator) });
    expect(pinned.json()).toEqual(expected());

    const unknownVersion = await h.request({ method: 'GET', url: '/api/v1/platform/bundles/incident-read/manifest?version=9.9.9', headers: bearer(operator) });
    expect(unknownVersion.statusCode).toBe(404);
    expect(unknownVersion.json()).toEqual({ error: 'not_found', error_description: 'no version 9.9.9 of bundle incident-read' });
    const unknownBundle = await h.request({ method: 'GET', url: '/api/v1/platform/bundles/no-such-bundle/manifest', headers: bearer(operator) });
    expect(unknownBundle.statusCode).toBe(404);
    expect(unknownBundle.json()).toEqual({ error: 'not_found', error_description: 'no published bundle no-such-bundle' });
  });

  it('is printed by the CLI', async () => {
    const result = await cli(['operations', 'manifest', 'incident-read', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(expected());
  });
});

describe('operator REST', () => {
  it('lists the bundles with their versions', async () => {
    const res = await h.request({ method: 'GET', url: '/api/v1/platform/bundles', headers: bearer(operator) });
    expect(res.statusCode).toBe(200);
    const names = res.json().bundles.map((b: { name: string }) => b.name);
    for (const name of shippedNames()) expect(names).toContain(name);
    const shipped = res.json().bundles.filter((b: { name: string }) => b.name === 'incident-read' || b.name === 'incident-sync');
    expect(shipped).toEqual([
      {
        name: 'incident-read',
        description: 'Read incidents: list with filters and pagination, and one incident with its notes, a page at a time',
        latest_version: '2.0.0',
        versions: [{ version: '2.0.0', status: 'published', published_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/), deprecated_at: null, retired_at: null, operations: 2 }],
      },
      {
        name: 'incident-sync',
        description: 'Keep incidents in sync with an external tool: create, update, close and add notes',
        latest_version: '2.0.0',
        versions: [{ version: '2.0.0', status: 'published', published_at: expect.stringMatching(/Z$/), deprecated_at: null, retired_at: null, operations: 4 }],
      },
    ]);
  });

  it('shows each operation with the scopes it needs', async () => {
    const res = await h.request({ method: 'GET', url: '/api/v1/platform/bundles/incident-sync', headers: bearer(operator) });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ name: 'incident-sync', version: '2.0.0', published_by: 'operator', published_at: expect.stringMatching(/Z$/) });
    expect(body.operations.map((o: Record<string, unknown>) => [o.name, o.id, o.type, o.required_scopes])).toEqual([
      // AddIncidentNote answers the note it added, not the incident's notes (which would need incidents:read).
      ['AddIncidentNote', NOTE, 'mutation', ['incidents:write']],
      ['CloseIncident', CLOSE, 'mutation', ['incidents:write']],
      ['CreateIncident', CREATE, 'mutation', ['incidents:write']],
      ['UpdateIncident', UPDATE, 'mutation', ['incidents:write']],
    ]);
    for (const o of body.operations) expect(sha256(o.document)).toBe(o.id);

    const read = await h.request({ method: 'GET', url: '/api/v1/platform/bundles/incident-read', headers: bearer(operator) });
    expect(read.json().operations.map((o: Record<string, unknown>) => [o.name, o.required_scopes])).toEqual([
      ['GetIncident', ['incidents:read']],
      ['ListIncidents', ['incidents:read']],
    ]);

    const unknown = await h.request({ method: 'GET', url: '/api/v1/platform/bundles/no-such-bundle', headers: bearer(operator) });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toBe('not_found');
    const badName = await h.request({ method: 'GET', url: '/api/v1/platform/bundles/Not_A_Name', headers: bearer(operator) });
    expect(badName.statusCode).toBe(400);
    expect(badName.json()).toEqual({ error: 'invalid_request', error_description: 'bundle name must be lowercase letters, digits and dashes' });
  });

  it('assigns (201, then 200) and unassigns (204, then 404)', async () => {
    const p = await partner(h, acme, []);
    const first = await assign(p.clientId, 'incident-read');
    expect(first.statusCode).toBe(201);
    expect(first.json()).toEqual({
      client_id: p.clientId,
      bundles: [{ bundle: 'incident-read', track: 'latest', version: '2.0.0', status: 'published', assigned_at: expect.stringMatching(/Z$/), assigned_by: 'operator' }],
    });
    const again = await assign(p.clientId, 'incident-read');
    expect(again.statusCode).toBe(200);
    expect(again.json().bundles).toHaveLength(1);
    expect((await assign(p.clientId, 'incident-sync')).statusCode).toBe(201);

    const listed = await h.request({ method: 'GET', url: `/api/v1/platform/apps/${p.clientId}/bundles`, headers: bearer(operator) });
    expect(listed.json().bundles.map((b: { bundle: string }) => b.bundle)).toEqual(['incident-read', 'incident-sync']);

    const removed = await h.request({ method: 'DELETE', url: `/api/v1/platform/apps/${p.clientId}/bundles/incident-read`, headers: bearer(operator) });
    expect(removed.statusCode).toBe(204);
    expect(removed.body).toBe('');
    const removedAgain = await h.request({ method: 'DELETE', url: `/api/v1/platform/apps/${p.clientId}/bundles/incident-read`, headers: bearer(operator) });
    expect(removedAgain.statusCode).toBe(404);
    expect(removedAgain.json()).toEqual({ error: 'not_found', error_description: `bundle incident-read is not assigned to ${p.clientId}` });

    const after = await h.request({ method: 'GET', url: `/api/v1/platform/apps/${p.clientId}/bundles`, headers: bearer(operator) });
    expect(after.json().bundles.map((b: { bundle: string }) => b.bundle)).toEqual(['incident-sync']);
    // Each change, and only a change, is audited.
    expect(await count("select count(*)::int as n from audit_events where target_id = ? and action in ('bundle.assigned', 'bundle.unassigned')", [p.clientId])).toBe(3);
  });

  it('answers two simultaneous assignments of the same bundle as one 201 and one 200, never a 500', async () => {
    const p = await partner(h, acme, []);
    const both = await Promise.all([assign(p.clientId, 'incident-read'), assign(p.clientId, 'incident-read')]);
    expect(both.map((r) => r.statusCode).sort(), both.map((r) => r.body).join('\n')).toEqual([200, 201]);
    const listed = await h.request({ method: 'GET', url: `/api/v1/platform/apps/${p.clientId}/bundles`, headers: bearer(operator) });
    expect(listed.json().bundles.map((b: { bundle: string }) => b.bundle)).toEqual(['incident-read']);
  });

  it('answers 404 for an unknown bundle or client, and 400 for a malformed bundle name', async () => {
    const p = await partner(h, acme, []);
    const unknownBundle = await assign(p.clientId, 'no-such-bundle');
    expect(unknownBundle.statusCode).toBe(404);
    expect(unknownBundle.json()).toEqual({ error: 'not_found', error_description: 'no published bundle no-such-bundle' });
    const unknownClient = await assign('app_doesnotexist', 'incident-read');
    expect(unknownClient.statusCode).toBe(404);
    expect(unknownClient.json()).toEqual({ error: 'not_found', error_description: 'no app with client_id app_doesnotexist' });
    const unknownClientList = await h.request({ method: 'GET', url: '/api/v1/platform/apps/app_doesnotexist/bundles', headers: bearer(operator) });
    expect(unknownClientList.statusCode).toBe(404);
    const unknownClientDelete = await h.request({ method: 'DELETE', url: '/api/v1/platform/apps/app_doesnotexist/bundles/incident-read', headers: bearer(operator) });
    expect(unknownClientDelete.statusCode).toBe(404);
    const malformed = await assign(p.clientId, 'Incident Read');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error).toBe('invalid_request');
    const extra = await h.request({ method: 'POST', url: `/api/v1/platform/apps/${p.clientId}/bundles`, headers: bearer(operator), payload: { bundle: 'incident-read', force: true } });
    expect(extra.statusCode).toBe(400);
    expect((await h.request({ method: 'GET', url: `/api/v1/platform/apps/${p.clientId}/bundles`, headers: bearer(operator) })).json().bundles).toEqual([]);
  });

  it('lets a tenant admin read its own apps\' bundles, hides other tenants\' apps, and keeps operator routes to operators', async () => {
    const own = await partner(h, acme, ['incident-read']);
    const foreign = await partner(h, globex, ['incident-read']);
    const admin = bearer(acme.adminToken);

    const mine = await h.request({ method: 'GET', url: `/api/v1/platform/apps/${own.clientId}/bundles`, headers: admin });
    expect(mine.statusCode).toBe(200);
    expect(mine.json()).toEqual({ client_id: own.clientId, bundles: [{ bundle: 'incident-read', track: 'latest', version: '2.0.0', status: 'published', assigned_at: expect.stringMatching(/Z$/), assigned_by: 'operator' }] });
    const theirs = await h.request({ method: 'GET', url: `/api/v1/platform/apps/${foreign.clientId}/bundles`, headers: admin });
    expect(theirs.statusCode).toBe(404);
    // Exactly the answer for an app that does not exist: nothing tells the admin it exists elsewhere.
    expect(theirs.json()).toEqual({ error: 'not_found', error_description: `no app with client_id ${foreign.clientId}` });

    for (const [method, url, payload] of [
      ['GET', '/api/v1/platform/bundles', undefined],
      ['GET', '/api/v1/platform/bundles/incident-read', undefined],
      ['GET', '/api/v1/platform/bundles/incident-read/manifest', undefined],
      ['POST', `/api/v1/platform/apps/${own.clientId}/bundles`, { bundle: 'incident-sync' }],
      ['DELETE', `/api/v1/platform/apps/${own.clientId}/bundles/incident-read`, undefined],
      ['GET', `/api/v1/platform/operation-stats?client_id=${own.clientId}`, undefined],
    ] as const) {
      const res = await h.request({ method, url, headers: admin, ...(payload ? { payload } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json()).toEqual({ error: 'forbidden', error_description: 'this action needs the scope platform:operator' });
      expect(res.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="platform:operator"');
    }
    // Nothing changed behind the refusals.
    const still = await h.request({ method: 'GET', url: `/api/v1/platform/apps/${own.clientId}/bundles`, headers: bearer(operator) });
    expect(still.json().bundles.map((b: { bundle: string }) => b.bundle)).toEqual(['incident-read']);
  });

  it('refuses an app token (client credentials) with 403 and no token with 401', async () => {
    const p = await partner(h, acme, ['incident-read']);
    const appToken = bearer(p.token);
    for (const [method, url, payload] of [
      ['GET', '/api/v1/platform/bundles', undefined],
      ['GET', '/api/v1/platform/bundles/incident-read/manifest', undefined],
      ['GET', `/api/v1/platform/apps/${p.clientId}/bundles`, undefined],
      ['POST', `/api/v1/platform/apps/${p.clientId}/bundles`, { bundle: 'incident-sync' }],
      ['DELETE', `/api/v1/platform/apps/${p.clientId}/bundles/incident-read`, undefined],
      ['GET', '/api/v1/platform/operation-stats', undefined],
    ] as const) {
      const res = await h.request({ method, url, headers: appToken, ...(payload ? { payload } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json().error).toBe('forbidden');
      const none = await h.request({ method, url, ...(payload ? { payload } : {}) });
      expect(none.statusCode, `${method} ${url} without a token`).toBe(401);
    }
    // Even an app token asking for every scope it may have gets nowhere near the operator routes.
    const token = await tokenRequest(h, { grant_type: 'client_credentials', scope: 'incidents:read incidents:write webhooks:read webhooks:write' }, { id: p.clientId, secret: p.secret });
    expect(token.statusCode).toBe(200);
    const all = await h.request({ method: 'GET', url: '/api/v1/platform/bundles', headers: bearer(token.json().access_token) });
    expect(all.statusCode).toBe(403);
  });
});

describe('what a bundle can never make the transport do', () => {
  let p: Partner;
  beforeAll(async () => {
    p = await partner(h, acme, []);
  });

  /** Publishes a hand-made bundle straight through the registry and assigns it to the partner. */
  async function publishAndAssign(bundle: CheckedBundle) {
    expect(await h.runtime.services.bundles.publish([bundle], 'operator')).toEqual([{ bundle: bundle.name, version: bundle.version, status: 'published' }]);
    expect((await assign(p.clientId, bundle.name)).statusCode).toBe(201);
  }

  async function executedCalls(id: string): Promise<number> {
    return (await h.runtime.services.operationStats.list(p.clientId)).find((s) => s.operation_id === id)?.calls ?? 0;
  }

  it('never answers introspection, even from a published and assigned bundle', async () => {
    const bundle = handMade('sneaky-introspection', [
      'query Discover { __schema { queryType { name } types { name kind fields { name } } } }',
      'query TypeProbe { __type(name: "CreateIncidentInput") { name inputFields { name } } }',
    ]);
    await publishAndAssign(bundle);
    for (const name of ['Discover', 'TypeProbe']) {
      const id = idOf(bundle, name);
      for (const res of [
        await gql(h, p, acme.tenantId, { documentId: `sha256:${id}` }),
        await gql(h, p, acme.tenantId, { extensions: { persistedQuery: { version: 1, sha256Hash: id } } }),
        await h.request({ method: 'GET', url: `/graphql?documentId=sha256:${id}`, headers: { ...bearer(p.token), 'x-tenant-id': acme.tenantId } }),
      ]) {
        expect([400, 404]).toContain(res.statusCode);
        const body = res.json();
        expect(body.errors?.length).toBeGreaterThan(0);
        expect(body.data?.__schema).toBeUndefined();
        expect(body.data?.__type).toBeUndefined();
        // No type name or field of the schema reaches the caller, whatever the refusal says.
        for (const leak of ['IncidentSeverity', 'CreateIncidentInput', 'IncidentConnection', 'updatedSince', 'inputFields']) expect(res.body).not.toContain(leak);
      }
      expect(await executedCalls(id)).toBe(0);
    }
    // The registry re-checks stored documents and does not serve these: answered like an unknown id.
    const res = await gql(h, p, acme.tenantId, { documentId: `sha256:${idOf(bundle, 'Discover')}` });
    expect(res.statusCode).toBe(404);
    expect(res.json().errors[0].extensions).toEqual({ code: 'PERSISTED_QUERY_NOT_IN_LIST' });
  });

  /**
   * graphql-armor's refusal: a request error with a code and no data. GraphQL over HTTP: 400 under
   * application/graphql-response+json; a legacy application/json client gets 200 with the same errors.
   */
  const modern = { accept: 'application/graphql-response+json' };
  function expectRefused(res: Awaited<ReturnType<typeof gql>>, limit: RegExp, status = 400) {
    expect(res.statusCode, res.body.slice(0, 300)).toBe(status);
    const body = res.json();
    expect(body.data).toBeUndefined();
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0].message).toMatch(limit);
    // DESIGN "Errors": every GraphQL error carries a stable extensions.code.
    expect(body.errors[0].extensions?.code).toEqual(expect.any(String));
  }

  it('refuses an alias bomb (maxAliases 5) before anything runs, queries and mutations alike', async () => {
    const aliases = Array.from({ length: 50 }, (_, i) => `a${i}: incident(id: $id) { id }`).join('\n  ');
    const writes = Array.from({ length: 6 }, (_, i) => `w${i}: createIncident(input: { title: "alias bomb ${i}", severity: SEV4 }) { incident { id } }`).join('\n  ');
    const bundle = handMade('alias-bomb', [`query AliasBomb($id: ID!) {\n  ${aliases}\n}`, `mutation AliasWrites {\n  ${writes}\n}`]);
    await publishAndAssign(bundle);

    const read = await gql(h, p, acme.tenantId, { documentId: `sha256:${idOf(bundle, 'AliasBomb')}`, variables: { id: 'inc_x' } }, modern);
    expectRefused(read, /Aliases limit of 5 exceeded, found 50/);
    for (const [accept, status] of [['application/json', 200], ['application/graphql-response+json', 400]] as const) {
      const write = await gql(h, p, acme.tenantId, { documentId: `sha256:${idOf(bundle, 'AliasWrites')}` }, { accept });
      expectRefused(write, /Aliases limit of 5 exceeded, found 6/, status);
    }
    expect(await count("select count(*)::int as n from incidents where title like 'alias bomb%'")).toBe(0);
    expect(await executedCalls(idOf(bundle, 'AliasBomb'))).toBe(0);
    expect(await executedCalls(idOf(bundle, 'AliasWrites'))).toBe(0);
  });

  it('refuses a depth bomb (maxDepth 8)', async () => {
    // The schema itself is shallow: its deepest path is incidents > edges > node > notes > edges > node > id
    // (depth 7), so no field path can exceed 8. graphql-armor counts each fragment level as a level of depth (flattenFragments
    // is off), so nested inline fragments are how a document reaches past the limit.
    const open = Array.from({ length: 8 }, () => '... on Incident {').join(' ');
    const close = Array.from({ length: 8 }, () => '}').join(' ');
    const bundle = handMade('depth-bomb', [`query DepthBomb($id: ID!) { incident(id: $id) { ${open} notes { edges { node { id } } } ${close} } }`]);
    await publishAndAssign(bundle);
    const res = await gql(h, p, acme.tenantId, { documentId: `sha256:${idOf(bundle, 'DepthBomb')}`, variables: { id: 'inc_x' } }, modern);
    expectRefused(res, /Query depth limit of 8 exceeded, found 13/);
    expect(await executedCalls(idOf(bundle, 'DepthBomb'))).toBe(0);
  });

  it('refuses a directives bomb (maxDirectives 10)', async () => {
    // One directive per field: the same directive twice on one field is already invalid GraphQL.
    const fields = ['id', 'number', 'title', 'summary', 'status', 'severity', 'labels', 'createdAt', 'updatedAt', 'closedAt', '__typename'];
    const bundle = handMade('directive-bomb', [`query DirectiveBomb($id: ID!) { incident(id: $id) { ${fields.map((f) => `${f} @include(if: true)`).join(' ')} } }`]);
    await publishAndAssign(bundle);
    const res = await gql(h, p, acme.tenantId, { documentId: `sha256:${idOf(bundle, 'DirectiveBomb')}`, variables: { id: 'inc_x' } }, modern);
    expectRefused(res, /Directives limit of 10 exceeded, found 11/);
    expect(await executedCalls(idOf(bundle, 'DirectiveBomb'))).toBe(0);
  });

  it('refuses a cost bomb (costLimit 5000)', async () => {
    // A hundred incidents with their notes: armor multiplies the selection's cost by a literal `first`.
    const bundle = handMade('cost-bomb', [
      'query CostBomb { incidents(first: 100) { edges { node { id number title summary status severity labels createdAt updatedAt closedAt notes(first: 100) { edges { node { id author body createdAt } } } } } } }',
    ]);
    await publishAndAssign(bundle);
    const res = await gql(h, p, acme.tenantId, { documentId: `sha256:${idOf(bundle, 'CostBomb')}` }, modern);
    expectRefused(res, /Query Cost limit of 5000 exceeded/i);
    expect(await executedCalls(idOf(bundle, 'CostBomb'))).toBe(0);
  });

  it('refuses a token bomb (maxTokens 2000)', async () => {
    // 2100 list items are 2100 tokens, within every other limit (no alias or directive, depth 3, low cost).
    // (Repeating one field 2100 times would not do: graphql's OverlappingFieldsCanBeMerged budget aborts
    // validation, so the registry never serves such a document.)
    const labels = Array.from({ length: 2100 }, () => '"a"').join(', ');
    const bundle = handMade('token-bomb', [`mutation TokenBomb { createIncident(input: { title: "token bomb", severity: SEV4, labels: [${labels}] }) { incident { id } userErrors { code } } }`]);
    await publishAndAssign(bundle);
    const res = await gql(h, p, acme.tenantId, { documentId: `sha256:${idOf(bundle, 'TokenBomb')}` });
    // Armor counts tokens while parsing, and a persisted operation arrives parsed: the limit holds either
    // through Yoga parsing the stored text (400, armor's message) or through the registry refusing to serve
    // such a document at all (404, like an unknown id). Either way, never executed.
    if (res.statusCode === 404) expect(res.json().errors[0].extensions).toEqual({ code: 'PERSISTED_QUERY_NOT_IN_LIST' });
    else expectRefused(res, /Token limit of 2000 exceeded/);
    expect(await executedCalls(idOf(bundle, 'TokenBomb'))).toBe(0);
    expect(await count("select count(*)::int as n from incidents where title = 'token bomb'")).toBe(0);
  });
});

describe('operation stats', () => {
  it('counts calls, errors and mean latency per app and operation', async () => {
    const tenant = await h.tenant();
    const p = await partner(h, tenant, ['incident-read', 'incident-sync']);
    const bystander = await partner(h, tenant, ['incident-read']);

    expect((await gql(h, p, tenant.tenantId, { documentId: `sha256:${CREATE}`, variables: { input: { title: 'Counted', severity: 'SEV2' } } })).statusCode).toBe(200);
    expect((await gql(h, p, tenant.tenantId, { documentId: `sha256:${LIST}`, variables: { first: 5 } })).statusCode).toBe(200);
    expect((await gql(h, p, tenant.tenantId, { documentId: `sha256:${LIST}`, variables: { first: 1 } })).statusCode).toBe(200);
    // A resolver error: executed, and counted as an error.
    const failed = await gql(h, p, tenant.tenantId, { documentId: `sha256:${LIST}`, variables: { first: 500 } });
    expect(failed.json().errors[0].extensions.code).toBe('BAD_USER_INPUT');
    // Refusals before execution are not calls of any operation.
    expect((await gql(h, p, tenant.tenantId, { documentId: `sha256:${'0'.repeat(64)}` })).statusCode).toBe(404);
    expect((await gql(h, p, tenant.tenantId, { query: '{ incidents { edges { node { id } } } }' })).statusCode).toBe(400);
    expect((await gql(h, p, acme.tenantId, { documentId: `sha256:${LIST}` })).statusCode).toBe(403);
    expect((await gql(h, bystander, tenant.tenantId, { documentId: `sha256:${GET}`, variables: { id: 'inc_x' } })).statusCode).toBe(200);

    const res = await h.request({ method: 'GET', url: `/api/v1/platform/operation-stats?client_id=${p.clientId}`, headers: bearer(operator) });
    expect(res.statusCode).toBe(200);
    const { stats } = res.json();
    expect(stats).toEqual([
      {
        client_id: p.clientId,
        tenant_id: tenant.tenantId,
        operation_id: LIST,
        operation_name: 'ListIncidents',
        calls: 3,
        errors: 1,
        mean_latency_ms: expect.any(Number),
        last_called_at: expect.stringMatching(/Z$/),
      },
      {
        client_id: p.clientId,
        tenant_id: tenant.tenantId,
        operation_id: CREATE,
        operation_name: 'CreateIncident',
        calls: 1,
        errors: 0,
        mean_latency_ms: expect.any(Number),
        last_called_at: expect.stringMatching(/Z$/),
      },
    ]);
    for (const row of stats) expect(row.mean_latency_ms).toBeGreaterThan(0);

    // Counters add up across flushes.
    await gql(h, p, tenant.tenantId, { documentId: `sha256:${LIST}`, variables: { first: 1 } });
    const later = await h.request({ method: 'GET', url: `/api/v1/platform/operation-stats?client_id=${p.clientId}`, headers: bearer(operator) });
    expect(later.json().stats[0]).toMatchObject({ operation_name: 'ListIncidents', calls: 4, errors: 1 });

    // Without a client_id: every app's operations.
    const all = await h.request({ method: 'GET', url: '/api/v1/platform/operation-stats', headers: bearer(operator) });
    const clients = new Set(all.json().stats.map((s: { client_id: string }) => s.client_id));
    expect(clients.has(p.clientId)).toBe(true);
    expect(clients.has(bystander.clientId)).toBe(true);
    const none = await h.request({ method: 'GET', url: '/api/v1/platform/operation-stats?client_id=app_doesnotexist', headers: bearer(operator) });
    expect(none.json()).toEqual({ stats: [] });
  });
});
