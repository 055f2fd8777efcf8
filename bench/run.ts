// `npm run bench`: start Tessera on a fresh embedded PostgreSQL, load it with autocannon, compare it with a
// bare Fastify + jose baseline, and time start-to-ready on first run and on existing data.
//
// Adding a scenario: append an entry to `scenarios` below. `request(ctx)` is called once the server is
// ready and the bench tenant exists, so it can use `ctx.tesseraUrl`, `ctx.baselineUrl`, `ctx.adminToken`
// (a `platform:admin` token for tenant `bench`) and `ctx.env` (the server's environment, for `runCli`); it
// returns the base URL, the path, and
// optionally method, headers and body (a string; set `content-type` in headers). `request()` may be async:
// a scenario that needs data (an app and its secret for the token endpoint, webhook subscriptions, an
// operation bundle) creates it there through the public API or the CLI, never by writing to the database.
// Each scenario is then run by `runScenario(name, options)`, which returns { name, rps, p50, p99, errors };
// call it directly for a one-off variant (other connections or duration) of a request.
//
// Environment: BENCH_DURATION (seconds per scenario, default 10), BENCH_CONNECTIONS (default 50),
// BENCH_WARMUP (seconds of unmeasured load before each scenario, default 1; 0 turns it off), BENCH_SLICE (a
// compared subject and baseline alternate in slices of this many seconds, default 2),
// BENCH_ONLY (comma-separated scenario names, `webhook_fanout` included, to run only those; default all),
// BENCH_SERVER_CPU_PROF (a folder: the server writes V8 CPU profiles there). The fan-out scenario: BENCH_FANOUT_UPDATES,
// BENCH_FANOUT_SUBSCRIPTIONS, BENCH_FANOUT_RATE (deliveries/s offered), BENCH_FANOUT_WARMUP (seconds, default 5),
// BENCH_WORKERS (ROLE=worker processes; 0 = in-process).
// Only 127.0.0.1 is ever contacted.
//
// The persisted-query pair (graphql_persisted_list vs baseline_incidents_list) needs data: the first of them
// to run publishes the shipped bundles with the CLI, registers a partner app through the API, assigns it both
// bundles with the CLI, gets a token and creates 10 incidents through the CreateIncident persisted operation
// (see `incidentsFixture`). The baseline reads the same rows straight from the embedded PostgreSQL with `pg`
// (read only: it never writes), learning its URL from DATA_DIR like the CLI does.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { parse, print } from 'graphql';
import { decodeJwt } from 'jose';
import type pg from 'pg';
import { BASELINE_READY, type BaselineConfig } from './baseline.js';
import { runFanout, type FanoutContext, type FanoutResult } from './fanout.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOST = '127.0.0.1';

const DURATION = positiveNumber('BENCH_DURATION', 10);
const CONNECTIONS = positiveNumber('BENCH_CONNECTIONS', 50);
const WARMUP = nonNegativeNumber('BENCH_WARMUP', 1);
const PIPELINING = 1;
const SLICE = positiveNumber('BENCH_SLICE', 2);
const ONLY = new Set((process.env.BENCH_ONLY ?? '').split(',').map((name) => name.trim()).filter(Boolean));
const selected = (name: string) => ONLY.size === 0 || ONLY.has(name);

const TARGETS = {
  fanoutPerSecond: 1000,
  fanoutP50Ms: 20,
  fanoutP99Ms: 200,
  firstRunReadyMs: 15_000,
  existingDataReadyMs: 5_000,
};
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------------------
// Scenarios

interface BenchContext {
  tesseraUrl: string;
  baselineUrl: string;
  adminToken: string;
  /** A confidential client_credentials app registered through the API for the token scenarios. */
  client: { id: string; secret: string };
  /** The server's environment, for CLI commands that join its embedded database. */
  env: NodeJS.ProcessEnv;
}

interface ScenarioRequest {
  /** Base URL, e.g. ctx.tesseraUrl. */
  url: string;
  path: string;
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
}

interface Scenario {
  name: string;
  description: string;
  request(ctx: BenchContext): ScenarioRequest | Promise<ScenarioRequest>;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const basic = (client: { id: string; secret: string }) => ({
  authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`,
  'content-type': 'application/x-www-form-urlencoded',
});

const scenarios: Scenario[] = [
  {
    name: 'jwks',
    description: 'GET /.well-known/jwks.json (public, no auth)',
    request: (ctx) => ({ url: ctx.tesseraUrl, path: '/.well-known/jwks.json' }),
  },
  {
    name: 'scopes_bearer',
    description: 'GET /v1/platform/scopes with the admin bearer token',
    request: (ctx) => ({ url: ctx.tesseraUrl, path: '/v1/platform/scopes', headers: bearer(ctx.adminToken) }),
  },
  {
    name: 'baseline_bare_jwt',
    description: 'bare Fastify + jose jwtVerify of the same token on every request, static body',
    request: (ctx) => ({ url: ctx.baselineUrl, path: '/v1/platform/scopes', headers: bearer(ctx.adminToken) }),
  },
  {
    name: 'token_client_credentials',
    description: 'POST /v1/oauth/token grant_type=client_credentials, client_secret_basic',
    request: (ctx) => ({ url: ctx.tesseraUrl, path: '/v1/oauth/token', method: 'POST', headers: basic(ctx.client), body: 'grant_type=client_credentials' }),
  },
  {
    name: 'baseline_token_minimal',
    description: 'bare Fastify: parse the form, SHA-256 secret check, one RS256 signature',
    request: (ctx) => ({ url: ctx.baselineUrl, path: '/token', method: 'POST', headers: basic(ctx.client), body: 'grant_type=client_credentials' }),
  },
  {
    name: 'graphql_persisted_list',
    description: 'POST /graphql documentId sha256:<ListIncidents> {first: 10}: bearer + X-Tenant-ID, 10 incidents',
    request: async (ctx) => {
      const fixture = await incidentsFixture(ctx);
      return {
        url: ctx.tesseraUrl,
        path: '/graphql',
        method: 'POST',
        headers: fixture.headers,
        body: JSON.stringify({ documentId: `sha256:${fixture.listId}`, variables: { first: 10 } }),
      };
    },
  },
  {
    name: 'baseline_incidents_list',
    description: 'bare Fastify: jose jwtVerify + tenant check, one pg SELECT of the 10 newest incidents, same JSON body',
    request: async (ctx) => {
      const fixture = await incidentsFixture(ctx);
      await assertSameList(ctx, fixture);
      return {
        url: ctx.baselineUrl,
        path: '/incidents',
        method: 'POST',
        headers: fixture.headers,
        body: JSON.stringify({ documentId: `sha256:${fixture.listId}`, variables: { first: LIST_SIZE } }),
      };
    },
  },
];

/** Ratios printed at the end: subject req/s over baseline req/s, against a target. */
const comparisons = [
  { subject: 'scopes_bearer', baseline: 'baseline_bare_jwt', target: 0.8 },
  { subject: 'token_client_credentials', baseline: 'baseline_token_minimal', target: 0.85 },
  { subject: 'graphql_persisted_list', baseline: 'baseline_incidents_list', target: 0.8 },
];

// ---------------------------------------------------------------------------------------------------------
// Load

interface ScenarioOptions extends ScenarioRequest {
  duration?: number;
  connections?: number;
  warmup?: number;
}

interface ScenarioResult {
  name: string;
  /** Average requests per second (2xx or not). */
  rps: number;
  p50: number;
  p99: number;
  /** Non-2xx responses + socket errors + timeouts. */
  errors: number;
  detail: string;
}

/** What one autocannon run measured. */
interface Measurement {
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
  non2xx: number;
  socketErrors: number;
  timeouts: number;
  statuses: Record<string, number>;
}

async function load(name: string, options: ScenarioOptions, duration: number, warmup: number): Promise<Measurement> {
  const result = await autocannon({
    title: name,
    url: new URL(options.path, options.url).href,
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
    connections: options.connections ?? CONNECTIONS,
    pipelining: PIPELINING,
    duration,
    // The load generator runs in its own thread, off this process's event loop (and every scenario is
    // measured the same way).
    workers: 1,
    ...(warmup > 0 ? { warmup: { connections: options.connections ?? CONNECTIONS, duration: warmup } } : {}),
  } as Parameters<typeof autocannon>[0]);
  return {
    requests: result.requests.total,
    seconds: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    socketErrors: result.errors,
    timeouts: result.timeouts,
    statuses: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count])),
  };
}

/**
 * Several measurements of one scenario as one result: requests over seconds; p50 the median of the
 * slices' p50s and p99 the worst slice's p99 (autocannon reports percentiles, not histograms).
 */
function summarize(name: string, parts: Measurement[]): ScenarioResult {
  const sum = (pick: (m: Measurement) => number) => parts.reduce((total, m) => total + pick(m), 0);
  const p50s = parts.map((m) => m.p50).sort((a, b) => a - b);
  const statuses: Record<string, number> = {};
  for (const m of parts) for (const [code, count] of Object.entries(m.statuses)) statuses[code] = (statuses[code] ?? 0) + count;
  const [non2xx, socketErrors, timeouts] = [sum((m) => m.non2xx), sum((m) => m.socketErrors), sum((m) => m.timeouts)];
  const errors = non2xx + socketErrors + timeouts;
  const statusText = Object.entries(statuses).map(([code, count]) => `${code}:${count}`).join(' ');
  const detail = errors ? `non-2xx ${non2xx}, socket errors ${socketErrors}, timeouts ${timeouts}; statuses ${statusText}` : `statuses ${statusText}`;
  const outcome: ScenarioResult = {
    name,
    rps: sum((m) => m.requests) / sum((m) => m.seconds),
    p50: p50s[Math.floor((p50s.length - 1) / 2)]!,
    p99: Math.max(...parts.map((m) => m.p99)),
    errors,
    detail,
  };
  const flag = errors ? `  ERRORS: ${detail}` : '';
  console.log(
    `  ${name}: ${fmt(outcome.rps, 0)} req/s, p50 ${fmt(outcome.p50, 1)} ms, p99 ${fmt(outcome.p99, 1)} ms, ` +
      `${sum((m) => m.requests)} requests, ${errors} errors${flag}`,
  );
  return outcome;
}

async function runScenario(name: string, options: ScenarioOptions): Promise<ScenarioResult> {
  await probe(name, options);
  return summarize(name, [await load(name, options, options.duration ?? DURATION, options.warmup ?? WARMUP)]);
}

/**
 * A subject and its baseline, measured in alternating slices of SLICE seconds (DURATION each in all).
 * Measured one after the other, each for the whole duration, the two would see different moments of a
 * shared machine (another process, the VM's neighbours), and the ratio swung by ±20 % between runs;
 * alternating gives both the same conditions. The side that goes first alternates too.
 */
async function runPair(sides: Array<{ name: string; options: ScenarioOptions }>): Promise<ScenarioResult[]> {
  for (const side of sides) await probe(side.name, side.options);
  const slices = Math.max(1, Math.round(DURATION / SLICE));
  const parts: Measurement[][] = sides.map(() => []);
  for (let i = 0; i < slices; i++) {
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const k of order) parts[k]!.push(await load(sides[k]!.name, sides[k]!.options, SLICE, i === 0 ? WARMUP : 0));
  }
  return sides.map((side, k) => summarize(side.name, parts[k]!));
}

/** One request before the load, so a scenario that answers errors says why (status and body). */
async function probe(name: string, options: ScenarioOptions): Promise<void> {
  const response = await fetch(new URL(options.path, options.url), {
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
  });
  const body = await response.text();
  if (!response.ok) {
    console.log(`  ${name}: WARNING probe answered ${response.status}: ${body.slice(0, 300)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The Tessera server as a child process

interface ServerProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  readyMs: number;
  logTail(): string;
}

const children = new Set<ChildProcess>();

function tailBuffer(limit = 8_000) {
  let text = '';
  return {
    push(chunk: Buffer) {
      text = (text + chunk.toString('utf8')).slice(-limit);
    },
    read: () => text,
  };
}

function track(child: ChildProcess): Promise<number | null> {
  children.add(child);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? (signal ? -1 : null));
    });
  });
}

/** BENCH_SERVER_CPU_PROF=<dir>: server, worker and baseline processes write V8 CPU profiles there when they stop. */
function profileArgs(): string[] {
  const dir = process.env.BENCH_SERVER_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

async function startServer(env: NodeJS.ProcessEnv, port: number): Promise<ServerProcess> {
  const started = performance.now();
  const child = spawn(process.execPath, [...profileArgs(), '--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = tailBuffer();
  child.stdout!.on('data', log.push);
  child.stderr!.on('data', log.push);
  const exited = track(child);
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));

  const readyUrl = `http://${HOST}:${port}/readyz`;
  while (performance.now() - started < READY_TIMEOUT_MS) {
    if (exitCode !== undefined) {
      throw new Error(`the server exited (code ${exitCode}) before it was ready:\n${log.read()}`);
    }
    try {
      const response = await fetch(readyUrl, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.status === 200) {
        return { child, exited, readyMs: performance.now() - started, logTail: log.read };
      }
    } catch {
      // Not listening yet.
    }
    await sleep(50);
  }
  throw new Error(`the server was not ready within ${READY_TIMEOUT_MS} ms:\n${log.read()}`);
}

/** SIGTERM, then wait: the server drains HTTP and stops its embedded PostgreSQL before it exits. */
async function stopServer(server: ServerProcess): Promise<{ ms: number; code: number | null }> {
  const started = performance.now();
  server.child.kill('SIGTERM');
  const code = await withTimeout(server.exited, STOP_TIMEOUT_MS);
  if (code === 'timeout') {
    server.child.kill('SIGKILL');
    await server.exited;
    throw new Error(`the server did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM:\n${server.logTail()}`);
  }
  if (code !== 0) console.log(`  WARNING: the server exited with code ${code} after SIGTERM:\n${server.logTail()}`);
  return { ms: performance.now() - started, code };
}

/** `npm run cli -- <args> --json` against the running server's embedded database; the parsed JSON it prints. */
async function runCli(env: NodeJS.ProcessEnv, args: string[]): Promise<unknown> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args, '--json'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await track(child);
  if (code !== 0) throw new Error(`cli ${args.join(' ')} exited with code ${code}:\n${stderr}${stdout}`);
  try {
    return JSON.parse(stdout) as unknown;
  } catch {
    throw new Error(`cli ${args.join(' ')} printed no JSON:\n${stdout}\n${stderr}`);
  }
}

async function bootstrapTenant(env: NodeJS.ProcessEnv): Promise<string> {
  const parsed = (await runCli(env, ['bootstrap', '--tenant', 'bench', '--name', 'Bench', '--admin-email', 'admin@bench.test'])) as { admin_access_token?: unknown };
  if (typeof parsed.admin_access_token !== 'string') throw new Error(`cli bootstrap printed no admin_access_token:\n${JSON.stringify(parsed)}`);
  return parsed.admin_access_token;
}

/** A client_credentials app, registered through the public API like any integrator would. */
async function registerClient(tesseraUrl: string, adminToken: string, name = 'Bench connector', scopes = ['incidents:read']): Promise<BenchContext['client']> {
  const res = await fetch(new URL('/v1/platform/apps', tesseraUrl), {
    method: 'POST',
    headers: { ...bearer(adminToken), 'content-type': 'application/json' },
    body: JSON.stringify({ name, grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: scopes }),
  });
  if (res.status !== 201) throw new Error(`registering the bench app answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { client_id: string; client_secret: string };
  return { id: body.client_id, secret: body.client_secret };
}

/** The persisted operation id of operations/<bundle>/<operation>.graphql: SHA-256 of its printed text. */
function operationId(bundle: string, operation: string): string {
  const text = readFileSync(join(ROOT, 'operations', bundle, `${operation}.graphql`), 'utf8');
  return createHash('sha256').update(print(parse(text))).digest('hex');
}

const LIST_SIZE = 10;
const SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4'] as const;

interface IncidentsFixture {
  /** Authorization (a client_credentials token with incidents:read incidents:write), X-Tenant-ID, content-type. */
  headers: Record<string, string>;
  listId: string;
}

let incidentsFixturePromise: Promise<IncidentsFixture> | undefined;
let publishPromise: Promise<void> | undefined;

/** The operator publishes the shipped bundles (CLI), once per bench, for whichever scenario needs them first. */
function publishBundles(ctx: BenchContext): Promise<void> {
  publishPromise ??= (async () => {
    const published = (await runCli(ctx.env, ['operations', 'publish'])) as Array<{ bundle: string; status: string }>;
    for (const bundle of ['incident-read', 'incident-sync']) {
      if (!published.some((p) => p.bundle === bundle)) throw new Error(`operations publish did not publish ${bundle}: ${JSON.stringify(published)}`);
    }
  })();
  return publishPromise;
}

/** Created once, by whichever of the two incident scenarios runs first. */
function incidentsFixture(ctx: BenchContext): Promise<IncidentsFixture> {
  incidentsFixturePromise ??= createIncidentsFixture(ctx);
  return incidentsFixturePromise;
}

/** The parts of a GraphQL response body the set-up looks at. */
interface GraphQLBody {
  data?: {
    createIncident?: { incident: { id: string } | null; userErrors: unknown[] };
    incidents?: { edges: unknown[] };
  } | null;
  errors?: unknown[];
}

async function graphqlPost(ctx: BenchContext, headers: Record<string, string>, body: unknown): Promise<{ status: number; json: GraphQLBody }> {
  const res = await fetch(new URL('/graphql', ctx.tesseraUrl), { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  try {
    return { status: res.status, json: JSON.parse(text) as GraphQLBody };
  } catch {
    throw new Error(`POST /graphql answered ${res.status} with no JSON: ${text.slice(0, 300)}`);
  }
}

/**
 * The operator publishes the shipped bundles (CLI), an integrator registers an app (API), the operator assigns it
 * both bundles (CLI), the app gets a token (API) and creates exactly LIST_SIZE incidents (CreateIncident).
 */
async function createIncidentsFixture(ctx: BenchContext): Promise<IncidentsFixture> {
  console.log('  setting up: operations publish, a partner app with incident-read + incident-sync, 10 incidents');
  await publishBundles(ctx);
  const partner = await registerClient(ctx.tesseraUrl, ctx.adminToken, 'Bench partner', ['incidents:read', 'incidents:write']);
  for (const bundle of ['incident-read', 'incident-sync']) await runCli(ctx.env, ['operations', 'assign', bundle, partner.id]);

  const tokenResponse = await fetch(new URL('/v1/oauth/token', ctx.tesseraUrl), {
    method: 'POST',
    headers: basic(partner),
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'incidents:read incidents:write' }).toString(),
  });
  if (tokenResponse.status !== 200) throw new Error(`the partner token request answered ${tokenResponse.status}: ${await tokenResponse.text()}`);
  const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
  const tenantId = decodeJwt(token).tenant_id;
  if (typeof tenantId !== 'string') throw new Error('the partner token has no tenant_id claim');
  const headers = { ...bearer(token), 'x-tenant-id': tenantId, 'content-type': 'application/json' };

  const createId = operationId('incident-sync', 'CreateIncident');
  for (let i = 1; i <= LIST_SIZE; i++) {
    const input = { title: `Bench incident ${i}`, severity: SEVERITIES[i % SEVERITIES.length], labels: ['bench', `shard-${i % 3}`] };
    const { status, json } = await graphqlPost(ctx, headers, { documentId: `sha256:${createId}`, variables: { input } });
    const created = json.data?.createIncident;
    if (status !== 200 || json.errors || !created?.incident?.id || created.userErrors.length) {
      throw new Error(`CreateIncident ${i} answered ${status}: ${JSON.stringify(json).slice(0, 500)}`);
    }
  }

  const listId = operationId('incident-read', 'ListIncidents');
  const { status, json } = await graphqlPost(ctx, headers, { documentId: `sha256:${listId}`, variables: { first: LIST_SIZE } });
  const edges = json.data?.incidents?.edges;
  if (status !== 200 || json.errors || !Array.isArray(edges) || edges.length !== LIST_SIZE) {
    throw new Error(`ListIncidents answered ${status} without ${LIST_SIZE} rows: ${JSON.stringify(json).slice(0, 500)}`);
  }
  return { headers, listId };
}

const FANOUT = {
  updates: positiveNumber('BENCH_FANOUT_UPDATES', 2000),
  subscriptions: positiveNumber('BENCH_FANOUT_SUBSCRIPTIONS', 10),
  concurrency: 20,
  // 5% above the target: a pipeline that keeps up then shows a rate above the line, not a hair below it
  // (the last deliveries land a few milliseconds after the last update is sent).
  rate: positiveNumber('BENCH_FANOUT_RATE', TARGETS.fanoutPerSecond * 1.05),
  // Longer than the other scenarios' (BENCH_WARMUP): four processes warm up at once on two cores.
  warmup: nonNegativeNumber('BENCH_FANOUT_WARMUP', 5),
  timeoutMs: 120_000,
  /**
   * Delivery worker processes (ROLE=worker) beside the server, which then runs ROLE=api: the scale-out
   * deployment (DESIGN "Scale-out"). 0 delivers inside the server process (ROLE=all, the default deployment).
   */
  workers: nonNegativeNumber('BENCH_WORKERS', 1),
};

/** A ROLE=worker process on the server's embedded PostgreSQL; resolves once it logs that it is ready. */
async function startWorker(env: NodeJS.ProcessEnv, dataDir: string): Promise<ServerProcess> {
  const started = performance.now();
  const db = embeddedDatabase(dataDir);
  const databaseUrl = `postgres://${encodeURIComponent(db.user!)}:${encodeURIComponent(String(db.password))}@${db.host}:${db.port}/${db.database}`;
  const child = spawn(process.execPath, [...profileArgs(), '--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...env, ROLE: 'worker', DATABASE_URL: databaseUrl, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = tailBuffer();
  const exited = track(child);
  const ready = new Promise<void>((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      log.push(chunk);
      if (log.read().includes('Tessera is ready')) resolve();
    });
  });
  child.stderr!.on('data', log.push);
  const outcome = await withTimeout(Promise.race([ready.then(() => 'ready' as const), exited.then(() => 'exited' as const)]), READY_TIMEOUT_MS);
  if (outcome !== 'ready') throw new Error(`the worker process ${outcome === 'exited' ? 'exited' : 'was not ready'} before it was ready:\n${log.read()}`);
  return { child, exited, readyMs: performance.now() - started, logTail: log.read };
}

/** An integrator app that manages webhooks and changes incidents (incident-sync), with its token. */
async function fanoutContext(ctx: BenchContext): Promise<FanoutContext> {
  const scopes = ['incidents:read', 'incidents:write', 'webhooks:read', 'webhooks:write'];
  await publishBundles(ctx);
  const app = await registerClient(ctx.tesseraUrl, ctx.adminToken, 'Bench webhooks', scopes);
  await runCli(ctx.env, ['operations', 'assign', 'incident-sync', app.id]);
  const tokenResponse = await fetch(new URL('/v1/oauth/token', ctx.tesseraUrl), {
    method: 'POST',
    headers: basic(app),
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: scopes.join(' ') }).toString(),
  });
  if (tokenResponse.status !== 200) throw new Error(`the webhook app's token request answered ${tokenResponse.status}`);
  const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
  return {
    tesseraUrl: ctx.tesseraUrl,
    token,
    tenantId: String(decodeJwt(token).tenant_id),
    createIncident: `sha256:${operationId('incident-sync', 'CreateIncident')}`,
    updateIncident: `sha256:${operationId('incident-sync', 'UpdateIncident')}`,
  };
}

/** Both sides of the comparison must answer the same body, or the ratio compares different work. */
async function assertSameList(ctx: BenchContext, fixture: IncidentsFixture): Promise<void> {
  const body = JSON.stringify({ documentId: `sha256:${fixture.listId}`, variables: { first: LIST_SIZE } });
  const [graphql, baseline] = await Promise.all(
    [ctx.tesseraUrl + '/graphql', ctx.baselineUrl + '/incidents'].map(async (url) => {
      const res = await fetch(url, { method: 'POST', headers: fixture.headers, body });
      return res.text();
    }),
  );
  if (graphql !== baseline) {
    console.log(`  WARNING: the baseline's body differs from the GraphQL one:\n    graphql:  ${graphql.slice(0, 400)}\n    baseline: ${baseline.slice(0, 400)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The baseline (bench/baseline.ts): a bare Fastify + jose service, in a process of its own as Tessera is

interface BaselineProcess {
  url: string;
  close(): Promise<void>;
}

async function startBaseline(tesseraUrl: string, token: string, client: BenchContext['client'], dataDir: string): Promise<BaselineProcess> {
  const port = await freePort();
  const config: BaselineConfig = { tesseraUrl, token, client, port, host: HOST, database: embeddedDatabase(dataDir) };
  const child = spawn(process.execPath, [...profileArgs(), '--import', 'tsx', 'bench/baseline.ts'], {
    cwd: ROOT,
    env: { ...process.env, BENCH_BASELINE: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = tailBuffer();
  child.stderr!.on('data', log.push);
  const exited = track(child);
  const ready = new Promise<void>((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      log.push(chunk);
      if (log.read().includes(BASELINE_READY)) resolve();
    });
  });
  if ((await withTimeout(Promise.race([ready, exited.then(() => 'exited' as const)]), READY_TIMEOUT_MS)) !== undefined) {
    child.kill('SIGKILL');
    throw new Error(`the baseline server did not start:\n${log.read()}`);
  }
  return {
    url: `http://${HOST}:${port}`,
    close: async () => {
      child.kill('SIGTERM');
      if ((await withTimeout(exited, STOP_TIMEOUT_MS)) === 'timeout') child.kill('SIGKILL');
    },
  };
}

/** The running server's embedded PostgreSQL, found the way the CLI finds it: credentials and postmaster.pid in DATA_DIR. */
function embeddedDatabase(dataDir: string): pg.PoolConfig {
  const credentials = JSON.parse(readFileSync(join(dataDir, 'pg-credentials.json'), 'utf8')) as { user: string; password: string };
  // postmaster.pid: line 1 is the PID, line 4 the port.
  const port = Number.parseInt(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[3] ?? '', 10);
  if (!Number.isFinite(port)) throw new Error(`no port in ${join(dataDir, 'pg', 'postmaster.pid')}`);
  return { host: HOST, port, user: credentials.user, password: credentials.password, database: 'tessera' };
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return value;
}

function nonNegativeNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be 0 or more, got ${raw}`);
  return value;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The promise's value, or 'timeout' after `ms`; the timer is cleared so it never holds the process open. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  const abort = new AbortController();
  const timer = sleep(ms, 'timeout' as const, { signal: abort.signal }).catch(() => 'timeout' as const);
  try {
    return await Promise.race([promise, timer]);
  } finally {
    abort.abort();
  }
}

function fmt(value: number, digits: number): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** If a server had to be killed, its embedded PostgreSQL is left running on the temp dir: stop it too. */
async function stopOrphanedPostgres(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, 'pg', 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isFinite(pid) || !isAlive(pid)) return;
  console.log(`  stopping the embedded PostgreSQL left behind (PID ${pid})`);
  process.kill(pid, 'SIGINT'); // PostgreSQL's "fast" shutdown
  for (let waited = 0; waited < 15_000 && isAlive(pid); waited += 100) await sleep(100);
  if (isAlive(pid)) process.kill(pid, 'SIGQUIT');
}

// ---------------------------------------------------------------------------------------------------------
// Main

function printSummary(results: ScenarioResult[], ready: { firstRun?: number; existingData?: number }, fanout?: FanoutResult): void {
  const rows = [
    ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors'],
    ...results.map((r) => [r.name, fmt(r.rps, 0), fmt(r.p50, 1), fmt(r.p99, 1), r.errors ? `${r.errors} (!)` : '0']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  console.log('\n== Summary ==');
  console.log(`duration ${DURATION} s per scenario, ${CONNECTIONS} connections, pipelining ${PIPELINING}, warmup ${WARMUP} s`);
  console.log(line(rows[0]!));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows.slice(1)) console.log(line(row));
  const withErrors = results.filter((r) => r.errors);
  for (const r of withErrors) console.log(`ERRORS in ${r.name}: ${r.detail}`);

  console.log('');
  for (const { subject, baseline, target } of comparisons) {
    const a = results.find((r) => r.name === subject);
    const b = results.find((r) => r.name === baseline);
    if (!a || !b || b.rps <= 0) continue;
    const ratio = a.rps / b.rps;
    const suspect = a.errors || b.errors ? ' (NOT MEANINGFUL: a side answered errors)' : '';
    console.log(`${subject} / ${baseline}: ${ratio.toFixed(2)}x (target >= ${target}x) ${ratio >= target ? 'met' : 'MISSED'}${suspect}`);
  }
  const readyLine = (label: string, ms: number | undefined, target: number) =>
    console.log(
      ms === undefined
        ? `${label}: not measured`
        : `${label}: ${Math.round(ms)} ms (target <= ${target} ms) ${ms <= target ? 'met' : 'MISSED'}`,
    );
  if (fanout) {
    const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
    console.log(
      `webhook_fanout: ${fmt(fanout.perSecond, 0)} deliveries/s (target >= ${TARGETS.fanoutPerSecond}) ${verdict(fanout.perSecond >= TARGETS.fanoutPerSecond)}; ` +
        `p50 ${fmt(fanout.p50, 1)} ms (target <= ${TARGETS.fanoutP50Ms}) ${verdict(fanout.p50 <= TARGETS.fanoutP50Ms)}; ` +
        `p99 ${fmt(fanout.p99, 1)} ms (target <= ${TARGETS.fanoutP99Ms}) ${verdict(fanout.p99 <= TARGETS.fanoutP99Ms)}` +
        (fanout.deliveries < fanout.expected ? ` (ONLY ${fanout.deliveries} of ${fanout.expected} delivered)` : ''),
    );
  }
  readyLine('start to ready, first run    ', ready.firstRun, TARGETS.firstRunReadyMs);
  readyLine('start to ready, existing data', ready.existingData, TARGETS.existingDataReadyMs);
}

async function main(): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-bench-'));
  // The embedded PostgreSQL runs as the `postgres` user when we are root; it must traverse this folder.
  await chmod(dataDir, 0o755);
  const port = await freePort();
  const { DATABASE_URL: _external, ...inherited } = process.env;
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    PORT: String(port),
    HOST,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'development',
    // Rate limiting stays on (its cost is measured) but high enough that one bench client never trips it.
    RATE_LIMIT_TOKEN_PER_CLIENT: '100000000',
    RATE_LIMIT_TOKEN_PER_IP: '100000000',
    // The fan-out scenario's receiver runs on this machine: the operator allows loopback, over http.
    WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8',
    WEBHOOK_HTTP_HOSTS: '127.0.0.1',
    // With delivery worker processes for the fan-out scenario, the server only serves HTTP.
    ROLE: selected('webhook_fanout') && FANOUT.workers > 0 ? 'api' : 'all',
  };
  const tesseraUrl = `http://${HOST}:${port}`;

  let server: ServerProcess | undefined;
  let baseline: BaselineProcess | undefined;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await baseline?.close().catch(() => undefined);
    for (const child of children) {
      child.kill('SIGTERM');
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if ((await withTimeout(exited, STOP_TIMEOUT_MS)) === 'timeout') {
        child.kill('SIGKILL');
        await withTimeout(exited, 5_000);
      }
    }
    await stopOrphanedPostgres(dataDir).catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  };
  // `on`, not `once`: Ctrl-C reaches this process twice (from the terminal and relayed by tsx's wrapper),
  // and a second signal without a handler would kill it before the temp dir and children are cleaned up.
  let interruptedOnce = false;
  const interrupted = () => {
    if (interruptedOnce) return;
    interruptedOnce = true;
    console.log('\ninterrupted; cleaning up');
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);

  const ready: { firstRun?: number; existingData?: number } = {};
  const results: ScenarioResult[] = [];
  let fanout: FanoutResult | undefined;
  try {
    const load = loadavg().map((l) => l.toFixed(2)).join(' ');
    console.log(`Tessera bench: DATA_DIR ${dataDir}, server ${tesseraUrl}`);
    // Client, server and baseline share this machine: figures are only comparable on the same machine and load.
    console.log(`machine: ${availableParallelism()} CPUs, load average ${load}, Node ${process.version}`);
    console.log('starting the server (first run: initdb, migrations, first signing key)...');
    server = await startServer(env, port);
    ready.firstRun = server.readyMs;
    console.log(`  ready in ${Math.round(server.readyMs)} ms`);

    const adminToken = await bootstrapTenant(env);
    console.log('  tenant "bench" bootstrapped');

    const client = await registerClient(tesseraUrl, adminToken);
    baseline = await startBaseline(tesseraUrl, adminToken, client, dataDir);
    const ctx: BenchContext = { tesseraUrl, baselineUrl: baseline.url, adminToken, client, env };

    const chosen = scenarios.filter((scenario) => selected(scenario.name));
    console.log(`\nrunning ${chosen.length} scenarios, ${DURATION} s each (a compared pair in alternating ${SLICE} s slices)`);
    const done = new Set<string>();
    for (const scenario of chosen) {
      if (done.has(scenario.name)) continue;
      const pair = comparisons.find((c) => c.subject === scenario.name || c.baseline === scenario.name);
      const partner = pair && chosen.find((other) => other.name === (pair.subject === scenario.name ? pair.baseline : pair.subject));
      const sides = partner ? [scenario, partner] : [scenario];
      const requests = [];
      for (const side of sides) {
        console.log(`- ${side.name}: ${side.description}`);
        requests.push({ name: side.name, options: await side.request(ctx) });
        done.add(side.name);
      }
      results.push(...(partner ? await runPair(requests) : [await runScenario(requests[0]!.name, requests[0]!.options)]));
    }
    await baseline.close();
    baseline = undefined;

    if (selected('webhook_fanout')) {
      console.log(
        `- webhook_fanout: ${FANOUT.updates} incident updates, each to ${FANOUT.subscriptions} subscriptions (a local receiver), ` +
          `sent at ${fmt(FANOUT.rate / FANOUT.subscriptions, 0)}/s to offer ${fmt(FANOUT.rate, 0)} deliveries/s`,
      );
      const workers: ServerProcess[] = [];
      for (let i = 0; i < FANOUT.workers; i++) workers.push(await startWorker(env, dataDir));
      if (workers.length) console.log(`  ${workers.length} worker process(es) (ROLE=worker) deliver; the server runs ROLE=api`);
      fanout = await runFanout(await fanoutContext(ctx), FANOUT);
      for (const worker of workers) await stopServer(worker);
      console.log(
        `  webhook_fanout: ${fmt(fanout.perSecond, 0)} deliveries/s (${fanout.deliveries}/${fanout.expected} in ${fanout.seconds.toFixed(1)} s, ` +
          `updates sent at ${fmt(fanout.updatesPerSecond, 0)}/s), ` +
          `event-to-delivery p50 ${fmt(fanout.p50, 1)} ms, p99 ${fmt(fanout.p99, 1)} ms; ` +
          `UpdateIncident answered in p50 ${fmt(fanout.updateP50, 1)} ms, p99 ${fmt(fanout.updateP99, 1)} ms`,
      );
      console.log(`  (during the ${FANOUT.warmup} s warm-up, from cold processes: event-to-delivery p50 ${fmt(fanout.warmupP50, 1)} ms, p99 ${fmt(fanout.warmupP99, 1)} ms)`);
    }


    console.log('\nstopping the server (SIGTERM)...');
    const firstStop = await stopServer(server);
    console.log(`  stopped in ${Math.round(firstStop.ms)} ms`);

    console.log('starting the server again on the same DATA_DIR...');
    server = await startServer(env, port);
    ready.existingData = server.readyMs;
    console.log(`  ready in ${Math.round(server.readyMs)} ms`);
    const secondStop = await stopServer(server);
    console.log(`  stopped in ${Math.round(secondStop.ms)} ms`);
    server = undefined;

    printSummary(results, ready, fanout);
    return 0;
  } catch (error) {
    console.error(`\nbench failed: ${error instanceof Error ? error.message : String(error)}`);
    if (results.length || ready.firstRun !== undefined) printSummary(results, ready, fanout);
    return 1;
  } finally {
    await cleanup();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}

process.exitCode = await main();
