// Releases of operation bundles (README "Operation bundles"): an app holds a bundle through its channel (every
// version not retired) or pinned to a version; versions are deprecated (a Deprecation header, a flag in the app's
// operation list) and retired (refused while apps still use them, naming them, unless forced); `operations check`
// checks the live published versions against the schema, or a proposed one, naming the apps a change would break;
// and a partner reads its own operations and the part of the schema they reach.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codegen } from '@graphql-codegen/core';
import * as typescriptPlugin from '@graphql-codegen/typescript';
import * as operationsPlugin from '@graphql-codegen/typescript-operations';
import { buildSchema, Kind, parse, print, printSchema, validate, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOperation, type CheckedBundle } from '../src/bundles/files.js';
import { sha256 } from '../src/ids.js';
import { schema as getSchema } from '../src/modules.js';
import { gql, operationId, publishShippedBundles } from './helpers/graphql.js';
import { bearer, startHarness, tokenRequest, type AppWithToken, type Harness, type TenantFixture } from './helpers/harness.js';
import { until } from './helpers/poll.js';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;
let operator: string;
const tempDirs: string[] = [];

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  operator = await h.operatorToken();
  await publishShippedBundles(h);
});
afterAll(async () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  await h?.close();
});

/** A bundle version made of documents, checked against the schema as `operations publish` does. */
function bundle(name: string, version: string, documents: string[]): CheckedBundle {
  const schema = getSchema();
  return {
    name,
    description: `The ${name} bundle`,
    version,
    operations: documents.map((text) => {
      const checked = checkOperation(schema, text, (problem) => {
        throw new Error(problem);
      })!;
      const { ast, ...operation } = checked;
      const name = ast.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!.name!.value;
      return { file: `${name}.graphql`, ...operation };
    }),
  };
}

const idOf = (text: string) => sha256(print(parse(text)));
const TITLES = 'query FeedTitles { incidents(first: 5) { edges { node { id title } } } }';
const TITLES_V2 = 'query FeedTitles { incidents(first: 5) { edges { node { id title number } } } }';
const SUMMARY = 'query FeedSummary { incidents(first: 5) { edges { node { id summary } } } }';

async function publish(...bundles: CheckedBundle[]) {
  return h.runtime.services.bundles.publish(bundles, 'operator');
}

/** A client_credentials app of the tenant holding `specs` (`bundle` or `bundle@version`), with a token. */
async function appHolding(tenant: TenantFixture, specs: string[]): Promise<AppWithToken> {
  const registered = await h.registerApp(tenant, { name: 'Feed reader', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] });
  for (const spec of specs) {
    const [name, version] = spec.split('@');
    const res = await h.request({ method: 'POST', url: `/api/v1/platform/apps/${registered.client_id}/bundles`, headers: bearer(operator), payload: { bundle: name, ...(version ? { version } : {}) } });
    expect(res.statusCode, res.body).toBe(201);
  }
  const token = await tokenRequest(h, { grant_type: 'client_credentials' }, { id: registered.client_id, secret: registered.client_secret! });
  return { clientId: registered.client_id, secret: registered.client_secret!, token: token.json().access_token };
}

const run = (app: AppWithToken, text: string, tenant = acme) => gql(h, app, tenant.tenantId, { documentId: `sha256:${idOf(text)}` });
const NOT_IN_LIST = { errors: [{ message: 'the operation is not in the persisted operation list of this app', extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' } }] };

describe('assignment to the channel or a pinned version', () => {
  it('keeps several versions live at once: the channel holds every version not retired, a pin only its own', async () => {
    await publish(bundle('feed', '1.0.0', [TITLES, SUMMARY]));
    await publish(bundle('feed', '1.1.0', [TITLES_V2]));
    const channel = await appHolding(acme, ['feed']);
    const pinnedOld = await appHolding(acme, ['feed@1.0.0']);
    const pinnedNew = await appHolding(acme, ['feed@1.1.0']);
    const statuses = async (app: AppWithToken) => [(await run(app, TITLES)).statusCode, (await run(app, SUMMARY)).statusCode, (await run(app, TITLES_V2)).statusCode];
    expect(await statuses(channel)).toEqual([200, 200, 200]);
    expect(await statuses(pinnedOld)).toEqual([200, 200, 404]);
    expect(await statuses(pinnedNew)).toEqual([404, 404, 200]);
    expect((await run(pinnedNew, TITLES)).json()).toEqual(NOT_IN_LIST);

    // Tracks add up, and each is assigned and unassigned on its own.
    const both = await h.request({ method: 'POST', url: `/api/v1/platform/apps/${pinnedNew.clientId}/bundles`, headers: bearer(operator), payload: { bundle: 'feed', version: '1.0.0' } });
    expect(both.json().bundles.map((b: { track: string; version: string }) => [b.track, b.version])).toEqual([['1.0.0', '1.0.0'], ['1.1.0', '1.1.0']]);
    expect(await statuses(pinnedNew)).toEqual([200, 200, 200]);
    expect((await h.request({ method: 'DELETE', url: `/api/v1/platform/apps/${pinnedNew.clientId}/bundles/feed?version=1.0.0`, headers: bearer(operator) })).statusCode).toBe(204);
    expect(await statuses(pinnedNew)).toEqual([404, 404, 200]);

    const unknown = await h.request({ method: 'POST', url: `/api/v1/platform/apps/${pinnedNew.clientId}/bundles`, headers: bearer(operator), payload: { bundle: 'feed', version: '9.9.9' } });
    expect(unknown.json()).toEqual({ error: 'not_found', error_description: 'no version 9.9.9 of bundle feed' });
    const malformed = await h.request({ method: 'POST', url: `/api/v1/platform/apps/${pinnedNew.clientId}/bundles`, headers: bearer(operator), payload: { bundle: 'feed', version: 'latest' } });
    expect(malformed.json()).toEqual({ error: 'invalid_request', error_description: 'body.version must look like 1.2.0' });
  });

  it('pins from the CLI with bundle@version, and refuses a malformed one before anything runs', async () => {
    await publish(bundle('cli-feed', '1.0.0', [TITLES]), bundle('cli-feed', '1.1.0', [TITLES_V2]));
    const app = await h.registerApp(acme, { name: 'CLI pinned', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read'] });
    const pinned = await h.cli(['operations', 'assign', 'cli-feed@1.0.0', app.client_id, '--json']);
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(JSON.parse(pinned.stdout)).toEqual({ client_id: app.client_id, bundle: 'cli-feed', track: '1.0.0', status: 'assigned' });
    const channel = await h.cli(['operations', 'assign', 'cli-feed', app.client_id, '--json']);
    expect(JSON.parse(channel.stdout)).toMatchObject({ track: 'latest', status: 'assigned' });
    const listed = await h.request({ method: 'GET', url: `/api/v1/platform/apps/${app.client_id}/bundles`, headers: bearer(operator) });
    expect(listed.json().bundles.map((b: { track: string; version: string }) => [b.track, b.version])).toEqual([['1.0.0', '1.0.0'], ['latest', '1.1.0']]);
    const unassigned = await h.cli(['operations', 'unassign', 'cli-feed@1.0.0', app.client_id, '--json']);
    expect(JSON.parse(unassigned.stdout)).toMatchObject({ track: '1.0.0', status: 'unassigned' });
    for (const [spec, message] of [
      ['cli-feed@1', 'version must look like 1.2.0'],
      ['cli-feed@1.0.0@2', 'name a bundle as <bundle> or <bundle>@<version>'],
      ['Not A Bundle', 'bundle name must be lowercase letters, digits and dashes'],
    ]) {
      const res = await h.cli(['operations', 'assign', spec!, app.client_id]);
      expect({ spec, code: res.code }).toEqual({ spec, code: 2 });
      expect(res.stderr).toContain(message);
    }
  });
});

describe('deprecation', () => {
  it('flags the answers of operations an app holds only through a deprecated version, on both GraphQL paths', async () => {
    await publish(bundle('dep-feed', '1.0.0', [TITLES, SUMMARY]), bundle('dep-feed', '2.0.0', [TITLES]));
    const pinned = await appHolding(acme, ['dep-feed@1.0.0']);
    const channel = await appHolding(acme, ['dep-feed']);
    expect((await run(pinned, TITLES)).headers.deprecation).toBeUndefined();

    const res = await h.request({ method: 'POST', url: '/api/v1/platform/bundles/dep-feed/versions/1.0.0/deprecate', headers: bearer(operator) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ bundle: 'dep-feed', version: '1.0.0', status: 'deprecated', deprecated_at: expect.stringMatching(/Z$/) });
    const header = `@${Math.floor(new Date(res.json().deprecated_at).getTime() / 1000)}`;

    const served = await run(pinned, TITLES);
    expect(served.statusCode).toBe(200);
    expect(served.headers.deprecation).toBe(header);
    // The same answer through Yoga (the contract's query-text form goes there), with the same header.
    const viaYoga = await gql(h, pinned, acme.tenantId, { query: TITLES });
    expect(viaYoga.statusCode).toBe(200);
    expect(viaYoga.headers.deprecation).toBe(header);
    expect(viaYoga.body).toBe(served.body);
    // The channel holds TITLES through 2.0.0 too: not deprecated for it; SUMMARY only through 1.0.0: deprecated.
    expect((await run(channel, TITLES)).headers.deprecation).toBeUndefined();
    expect((await run(channel, SUMMARY)).headers.deprecation).toBe(header);

    const listed = await h.request({ method: 'GET', url: `/v1/platform/apps/${pinned.clientId}/operations`, headers: bearer(pinned.token) });
    expect(listed.json().operations.map((o: { name: string; deprecated: boolean; deprecated_at: string | null }) => [o.name, o.deprecated, o.deprecated_at])).toEqual([
      ['FeedSummary', true, res.json().deprecated_at],
      ['FeedTitles', true, res.json().deprecated_at],
    ]);
    const manifest = await h.cli(['operations', 'manifest', 'dep-feed', '--version', '1.0.0', '--json']);
    expect(JSON.parse(manifest.stdout)).toMatchObject({ status: 'deprecated', deprecated_at: res.json().deprecated_at });
    const again = await h.cli(['operations', 'deprecate', 'dep-feed@1.0.0', '--json']);
    expect(JSON.parse(again.stdout)).toEqual({ bundle: 'dep-feed', version: '1.0.0', status: 'deprecated', deprecated_at: res.json().deprecated_at });
  });
});

describe('retirement', () => {
  it('is refused while an app used the version within the window, naming it, its tenant and when; forced, it is audited', async () => {
    await publish(bundle('ret-feed', '1.0.0', [SUMMARY]), bundle('ret-feed', '1.1.0', [TITLES]));
    const user = await appHolding(acme, ['ret-feed@1.0.0']);
    expect((await run(user, SUMMARY)).statusCode).toBe(200);

    const refused = await h.request({ method: 'POST', url: '/api/v1/platform/bundles/ret-feed/versions/1.0.0/retire', headers: bearer(operator) });
    expect(refused.statusCode).toBe(409);
    const usage = refused.json().recent_use;
    expect(usage).toEqual([{ client_id: user.clientId, app_name: 'Feed reader', tenant_id: acme.tenantId, last_used_at: expect.stringMatching(/Z$/), calls: 1 }]);
    expect(refused.json()).toMatchObject({
      error: 'conflict',
      error_description: `ret-feed@1.0.0 was used within the last 30 days: Feed reader (${user.clientId}, tenant ${acme.tenantId}) last used it at ${usage[0].last_used_at}. Move those apps to another version, or retire with force`,
    });
    const cli = await h.cli(['operations', 'retire', 'ret-feed@1.0.0']);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain(`Feed reader (${user.clientId}, tenant ${acme.tenantId}) last used it at`);
    const report = await h.cli(['operations', 'usage', 'ret-feed@1.0.0', '--json']);
    expect(JSON.parse(report.stdout)).toMatchObject({ status: 'published', window_days: 30, assigned: [{ client_id: user.clientId, tenant_id: acme.tenantId, track: '1.0.0' }], recent_use: usage });
    expect((await run(user, SUMMARY)).statusCode).toBe(200);

    const forced = await h.cli(['operations', 'retire', 'ret-feed@1.0.0', '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ status: 'retired', retired_at: expect.stringMatching(/Z$/) });
    // A retired version's operations answer exactly as unknown ones, here as soon as the CLI's NOTIFY arrives.
    const gone = await until(() => run(user, SUMMARY), (res) => res.statusCode === 404, { timeoutMs: 2000, intervalMs: 10 });
    expect({ status: gone.statusCode, body: gone.json() }).toEqual({ status: 404, body: NOT_IN_LIST });
    const unknown = await gql(h, user, acme.tenantId, { documentId: `sha256:${'0'.repeat(64)}` });
    expect(unknown.body).toBe(gone.body);
    const [audit] = await h.runtime.orm.em.fork().getConnection().execute("select actor, details from platform_audit_events where action = 'bundle.retired' and target_id = 'ret-feed@1.0.0'");
    // Whom it cut off: the app, its tenant, and its use as the retiring process counted it (the call made since may or
    // may not have been written by then).
    expect(audit).toEqual({
      actor: 'operator',
      details: { forced: true, recent_users: [{ client_id: user.clientId, app_name: 'Feed reader', tenant_id: acme.tenantId, last_used_at: expect.stringMatching(/Z$/), calls: expect.any(Number) }] },
    });
    const assign = await h.request({ method: 'POST', url: `/api/v1/platform/apps/${user.clientId}/bundles`, headers: bearer(operator), payload: { bundle: 'ret-feed', version: '1.0.0' } });
    expect(assign.json()).toEqual({ error: 'conflict', error_description: 'ret-feed@1.0.0 is retired' });
  });
});

describe('operations check against the live versions', () => {
  it('fails on a proposed schema that breaks an assigned version, naming bundle, version, operation, the change and the apps', async () => {
    await publish(bundle('impact-feed', '1.0.0', [SUMMARY]));
    const app = await appHolding(globex, ['impact-feed@1.0.0']);
    const cwd = mkdtempSync(join(tmpdir(), 'tessera-impact-'));
    tempDirs.push(cwd);
    writeFileSync(join(cwd, 'current.graphql'), printSchema(getSchema()));
    // The proposed schema: Incident without `summary`.
    const proposed = printSchema(getSchema()).replace(/(type Incident [^{]*\{[\s\S]*?)\n(?:\s*"""[\s\S]*?"""\n)?\s*summary: String!\n/, '$1\n');
    expect(proposed).not.toBe(printSchema(getSchema()));
    expect(validate(buildSchema(proposed), parse(SUMMARY)).length).toBeGreaterThan(0);
    writeFileSync(join(cwd, 'proposed.graphql'), proposed);
    const shipped = join(import.meta.dirname, '..');

    const ok = await h.cli(['operations', 'check', '--schema', join(cwd, 'current.graphql'), '--json'], shipped);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toContainEqual({ bundle: 'impact-feed', version: '1.0.0', source: 'published, live', status: 'ok' });

    const broken = await h.cli(['operations', 'check', '--schema', join(cwd, 'proposed.graphql')], shipped);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(
      `impact-feed@1.0.0 FeedSummary: Cannot query field "summary" on type "Incident". Breaks: ${app.clientId} (tenant ${globex.tenantId}, pinned)`,
    );
    const filesOnly = await h.cli(['operations', 'check', '--files-only', '--json'], shipped);
    expect(JSON.parse(filesOnly.stdout).every((row: { source: string }) => row.source === 'operations/')).toBe(true);
    const unreadable = await h.cli(['operations', 'check', '--schema', join(cwd, 'nope.graphql')], shipped);
    expect({ code: unreadable.code, stderr: unreadable.stderr.split('\n')[0] }).toEqual({ code: 2, stderr: `error: --schema ${join(cwd, 'nope.graphql')} cannot be read: ENOENT` });
  });
});

describe('partner self-service', () => {
  const LIST = operationId('incident-read', 'ListIncidents');
  const GET = operationId('incident-read', 'GetIncident');

  it('lists the app\'s own operations with both ids, scopes, deprecation and manifests, to it and its tenant admin only', async () => {
    const app = await appHolding(acme, ['incident-read']);
    const res = await h.request({ method: 'GET', url: `/v1/platform/apps/${app.clientId}/operations`, headers: bearer(app.token) });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.bundles).toEqual([{ bundle: 'incident-read', track: 'latest', version: '2.0.0', status: 'published' }]);
    expect(body.sandbox).toBe(false);
    expect(body.operations.map((o: Record<string, unknown>) => ({ ...o, document: undefined }))).toEqual([
      { id: `sha256:${GET}`, codegen_id: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), name: 'GetIncident', type: 'query', required_scopes: ['incidents:read'], bundle: 'incident-read', version: '2.0.0', deprecated: false, deprecated_at: null, document: undefined },
      { id: `sha256:${LIST}`, codegen_id: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), name: 'ListIncidents', type: 'query', required_scopes: ['incidents:read'], bundle: 'incident-read', version: '2.0.0', deprecated: false, deprecated_at: null, document: undefined },
    ]);
    for (const o of body.operations) expect(`sha256:${sha256(o.document)}`).toBe(o.id);
    expect(body.manifests.documentIds).toEqual({ GetIncident: `sha256:${GET}`, ListIncidents: `sha256:${LIST}` });
    expect(body.manifests.apollo.operations.map((o: { id: string }) => o.id).sort()).toEqual([GET, LIST].sort());
    // The ids it lists are the ones that run.
    expect((await gql(h, app, acme.tenantId, { documentId: body.operations[1].id, variables: { first: 1 } })).statusCode).toBe(200);
    expect((await gql(h, app, acme.tenantId, { documentId: body.operations[1].codegen_id, variables: { first: 1 } })).statusCode).toBe(200);

    expect((await h.request({ method: 'GET', url: `/v1/platform/apps/${app.clientId}/operations`, headers: bearer(acme.adminToken) })).statusCode).toBe(200);
    const other = await appHolding(acme, []);
    for (const token of [other.token, globex.adminToken]) {
      const refused = await h.request({ method: 'GET', url: `/v1/platform/apps/${app.clientId}/operations`, headers: bearer(token) });
      expect({ status: refused.statusCode, body: refused.json() }).toEqual({ status: 404, body: { error: 'not_found', error_description: `no app with client_id ${app.clientId}` } });
    }
    expect((await h.request({ method: 'GET', url: `/v1/platform/apps/${other.clientId}/operations`, headers: bearer(other.token) })).json()).toMatchObject({ bundles: [], operations: [] });
  });

  it('serves the part of the schema its operations reach, never a field they do not, cached by ETag, and codegen builds types from it', async () => {
    const app = await appHolding(acme, ['incident-read']);
    const url = `/v1/platform/apps/${app.clientId}/operations/schema`;
    const res = await h.request({ method: 'GET', url, headers: bearer(app.token) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    const sdl = res.body;
    const partial = buildSchema(sdl);
    expect(partial.getQueryType()?.getFields().incidents).toBeDefined();
    // incident-read selects neither webhooks nor PageInfo.hasPreviousPage, and runs no mutation.
    expect(partial.getType('Webhook')).toBeUndefined();
    expect(partial.getMutationType()).toBeUndefined();
    expect(sdl).not.toContain('hasPreviousPage');
    expect(printSchema(getSchema())).toContain('hasPreviousPage');
    for (const name of ['ListIncidents', 'GetIncident']) expect(validate(partial, parse(readOperation('incident-read', name)))).toEqual([]);

    const cached = await h.request({ method: 'GET', url, headers: { ...bearer(app.token), 'if-none-match': res.headers.etag as string } });
    expect(cached.statusCode).toBe(304);
    expect(cached.body).toBe('');

    const generated = await codegen({
      schema: parse(sdl),
      documents: ['ListIncidents', 'GetIncident'].map((name) => ({ document: parse(readOperation('incident-read', name)) })),
      filename: 'generated.ts',
      plugins: [{ typescriptOperations: {} }],
      pluginMap: { typescript: typescriptPlugin, typescriptOperations: operationsPlugin },
      config: { scalars: { DateTime: 'string' } },
    });
    expect(generated).toContain('export type ListIncidentsQuery');
    expect(generated).toContain('export type GetIncidentQuery');
  });
});

// Last: it moves the clock a month on.
describe('retirement, a month on', () => {
  it('goes through once the last use is older than the window, and at once for a version nobody used', async () => {
    await publish(bundle('old-feed', '1.0.0', [SUMMARY]), bundle('old-feed', '2.0.0', [TITLES]));
    const user = await appHolding(acme, ['old-feed']);
    expect((await run(user, SUMMARY)).statusCode).toBe(200);
    expect((await h.request({ method: 'POST', url: '/api/v1/platform/bundles/old-feed/versions/2.0.0/retire', headers: bearer(operator) })).json()).toMatchObject({ status: 'retired' });
    expect((await h.request({ method: 'POST', url: '/api/v1/platform/bundles/old-feed/versions/1.0.0/retire', headers: bearer(operator) })).statusCode).toBe(409);
    await h.clock.advance(31 * 86_400_000);
    // A month on, the operator's token of the start has expired.
    operator = await h.operatorToken();
    const retired = await h.request({ method: 'POST', url: '/api/v1/platform/bundles/old-feed/versions/1.0.0/retire', headers: bearer(operator), payload: {} });
    expect(retired.json()).toMatchObject({ status: 'retired' });
    expect((await h.request({ method: 'POST', url: '/api/v1/platform/bundles/old-feed/versions/1.0.0/deprecate', headers: bearer(operator) })).json()).toEqual({ error: 'conflict', error_description: 'old-feed@1.0.0 is retired already' });
  });
});

function readOperation(bundleName: string, name: string): string {
  return print(parse(readFileSync(join(import.meta.dirname, '..', 'operations', bundleName, `${name}.graphql`), 'utf8')));
}
