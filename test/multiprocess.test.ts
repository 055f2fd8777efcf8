// Scale-out as an operator deploys it (README "Processes"): two `ROLE=api` processes and two `ROLE=worker` processes,
// real `npm start` processes, on one PostgreSQL database of this file's own, with rate limits in Redis. What a user
// of the platform would notice across them: a token revoked through one api is refused by the other at once; the
// token endpoint's limit is counted once across both; each attempt of a delivery reaches the receiver once, whichever
// api took the change and whichever worker sent it; and when one worker is killed with SIGKILL mid-load, every event
// still arrives, only what the dead worker held is sent again (with the same webhook-id), and the other worker's
// deliveries and both apis carry on without waiting for the heartbeat takeover.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCliInProcess } from './helpers/cli.js';
import { createTestDatabase } from './helpers/databases.js';
import { operationId } from './helpers/graphql.js';
import { until } from './helpers/poll.js';
import { startServer, startTessera, stopProcess, type TesseraProcess, type TesseraServer, testServerEnv } from './helpers/processes.js';
import { Receiver, type Received } from './helpers/receiver.js';
import { redisAvailable, TEST_REDIS_URL } from './helpers/redis.js';

const hasRedis = await redisAvailable();

/** Token requests a client may make a minute, counted across both apis through Redis. */
const TOKEN_LIMIT = 5;
/**
 * Seconds before a silent worker's jobs are freed. Short, so that a killed worker's jobs move within the test, yet
 * long enough that the surviving worker's own work (well under a second here) is plainly done before the takeover,
 * even on a busy two-core machine: the takeover comes 4 to 6 s after the kill (a pool beats every timeout / 5).
 */
const HEARTBEAT_TIMEOUT_S = 5;
/** Jobs at once per worker: with every response held, exactly this many requests per worker are in flight. */
const WORKER_CONCURRENCY = 2;
const STARTUP_BOUND_MS = 60_000;
const CREATE = `sha256:${operationId('incident-sync', 'CreateIncident')}`;

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body; undefined when empty or not JSON. */
  json: any;
}

interface CallOptions {
  token?: string;
  json?: unknown;
  form?: Record<string, string>;
  basic?: { id: string; secret: string };
  headers?: Record<string, string>;
}

/** One HTTP request to a Tessera process, as any client sends it. */
async function call(server: TesseraServer, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.basic) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(options.basic.id)}:${encodeURIComponent(options.basic.secret)}`).toString('base64')}`;
  let body: string | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  const res = await fetch(`${server.url}${path}`, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

let database: { url: string; drop(): Promise<void> };
/** This file's own reads of the database: the job queue and the worker heartbeats, which no route shows. */
let db: pg.Client;
let receiver: Receiver;
let env: NodeJS.ProcessEnv;
let apiA: TesseraServer;
let apiB: TesseraServer;
let workers: TesseraProcess[] = [];
const started: TesseraProcess[] = [];

interface Tenant {
  tenantId: string;
  adminToken: string;
}
let acme: Tenant;
let globex: Tenant;
let operatorToken: string;

/**
 * The operator CLI on the same database, its `--json` answer. Run in this process (the code `npm run cli` runs): the
 * processes under test are the servers, and on two busy cores every extra process start costs seconds.
 */
async function cli(args: string[]): Promise<Record<string, unknown>> {
  const result = await runCliInProcess([...args, '--json'], env);
  if (result.code !== 0) throw new Error(`cli ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

async function bootstrap(slug: string): Promise<Tenant> {
  const out = await cli(['bootstrap', '--tenant', slug, '--name', `Tenant ${slug}`, '--admin-email', `admin@${slug}.test`]);
  return { tenantId: out.tenant_id as string, adminToken: out.admin_access_token as string };
}

async function heartbeatIds(): Promise<string[]> {
  return (await db.query<{ worker_id: string }>('select worker_id from worker_heartbeats order by worker_id')).rows.map((r) => r.worker_id);
}

beforeAll(async () => {
  database = await createTestDatabase(inject('serverUrl'), inject('templateDatabase'));
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
  receiver = await new Receiver().start();
  env = testServerEnv(database.url, {
    REDIS_URL: hasRedis ? TEST_REDIS_URL : undefined,
    RATE_LIMIT_TOKEN_PER_CLIENT: String(TOKEN_LIMIT),
    // Every request here comes from 127.0.0.1, and the per-IP count in Redis is shared with other test files.
    RATE_LIMIT_TOKEN_PER_IP: '100000',
    WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8',
    WEBHOOK_HTTP_HOSTS: '127.0.0.1',
    WEBHOOK_RETRY_SCHEDULE: '1,1',
    WORKER_POLL_INTERVAL: '200',
    WORKER_HEARTBEAT_TIMEOUT: String(HEARTBEAT_TIMEOUT_S),
    WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
  });
  // First the signing keys (the CLI's runtime makes them on this new database) and the bundles, so that the four
  // processes find keys rather than each generating RSA keys of its own while they start.
  await cli(['operations', 'publish']);
  const startWorker = () => {
    const worker = startTessera({ ...env, ROLE: 'worker' });
    started.push(worker);
    return worker;
  };
  workers = [startWorker(), startWorker()];
  // Four processes importing all of Tessera at once on two cores shared with other test runs: seconds each, so the
  // bound on getting ready is generous (it is not what this file tests).
  const startApi = () => startServer({ ...env, ROLE: 'api' }, { timeoutMs: STARTUP_BOUND_MS }).then((server) => (started.push(server), server));
  // Settled, not raced: a server that starts after the other failed must still be known to afterAll.
  const apis = Promise.allSettled([startApi(), startApi()]);
  acme = await bootstrap('acme');
  globex = await bootstrap('globex');
  operatorToken = (await cli(['operator-token'])).access_token as string;
  for (const api of await apis) if (api.status === 'rejected') throw api.reason;
  [apiA, apiB] = started.filter((p): p is TesseraServer => 'url' in p);
  // A worker is ready once its pool beats (a row of its own in worker_heartbeats).
  const beating = await until(
    async () => ({ ids: await heartbeatIds(), exited: workers.filter((w) => w.child.exitCode !== null || w.child.signalCode !== null) }),
    ({ ids, exited }) => ids.length === 2 || exited.length > 0,
    { timeoutMs: STARTUP_BOUND_MS, intervalMs: 100 },
  );
  expect(beating.ids, `the workers did not start:\n${workers.map((w) => w.output.join('')).join('\n---\n')}`).toHaveLength(2);
}, 2 * STARTUP_BOUND_MS);

afterAll(async () => {
  // Nothing may outlive the test, whatever happened.
  await Promise.all(started.map((p) => stopProcess(p)));
  await receiver?.stop();
  await db?.end().catch(() => undefined);
  await database?.drop();
});

interface Partner {
  clientId: string;
  secret: string;
  token: string;
}

/** A client_credentials app registered on api A, given the incident bundles by an operator on api B, its token from A. */
async function partner(tenant: Tenant): Promise<Partner> {
  const registered = await call(apiA, 'POST', '/v1/platform/apps', {
    token: tenant.adminToken,
    json: { name: 'Partner sync', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read', 'incidents:write'] },
  });
  expect(registered.status, registered.text).toBe(201);
  const { client_id: clientId, client_secret: secret } = registered.json;
  for (const bundle of ['incident-read', 'incident-sync']) {
    const assigned = await call(apiB, 'POST', `/api/v1/platform/apps/${clientId}/bundles`, { token: operatorToken, json: { bundle } });
    expect(assigned.status, assigned.text).toBe(201);
  }
  const token = await call(apiA, 'POST', '/v1/oauth/token', { basic: { id: clientId, secret }, form: { grant_type: 'client_credentials', scope: 'incidents:read incidents:write' } });
  expect(token.status, token.text).toBe(200);
  return { clientId, secret, token: token.json.access_token };
}

/** CreateIncident through `api`; answers the new incident's id. */
async function createIncident(api: TesseraServer, who: Partner, tenant: Tenant, title: string): Promise<string> {
  const res = await call(api, 'POST', '/graphql', {
    token: who.token,
    headers: { 'x-tenant-id': tenant.tenantId },
    json: { documentId: CREATE, variables: { input: { title, severity: 'SEV2' } } },
  });
  expect(res.status, res.text).toBe(200);
  expect(res.json.data.createIncident.userErrors).toEqual([]);
  return res.json.data.createIncident.incident.id;
}

async function subscribe(api: TesseraServer, tenant: Tenant, path: string): Promise<string> {
  const res = await call(api, 'POST', '/v1/webhooks', { token: tenant.adminToken, json: { url: `${receiver.url}${path}`, events: ['incident.created'] } });
  expect(res.status, res.text).toBe(201);
  return res.json.id;
}

interface DeliveryView {
  id: string;
  event_id: string;
  status: string;
  attempts: number;
  response_status: number | null;
  error: string | null;
}

async function deliveryLog(api: TesseraServer, tenant: Tenant, webhookId: string): Promise<DeliveryView[]> {
  const res = await call(api, 'GET', `/v1/webhooks/${webhookId}/deliveries?limit=100`, { token: tenant.adminToken });
  expect(res.status, res.text).toBe(200);
  return res.json.deliveries;
}

/** Jobs left in the queue: none means no worker will send anything more, so what arrived is final. */
async function queuedJobs(): Promise<number> {
  return (await db.query<{ n: number }>('select count(*)::int as n from graphile_worker._private_jobs')).rows[0]!.n;
}

/** Once the delivery log says every delivery succeeded and no job is left to run. */
async function settled(api: TesseraServer, tenant: Tenant, webhookId: string, count: number, timeoutMs: number): Promise<DeliveryView[]> {
  const state = await until(
    async () => ({ log: await deliveryLog(api, tenant, webhookId), jobs: await queuedJobs() }),
    ({ log, jobs }) => log.length === count && log.every((d) => d.status === 'succeeded') && jobs === 0,
    { timeoutMs, intervalMs: 100 },
  );
  expect(state.jobs, JSON.stringify(state.log.filter((d) => d.status !== 'succeeded'))).toBe(0);
  return state.log;
}

const bodyOf = (r: Received) => JSON.parse(r.body) as { id: string; data: { incident: { id: string; title: string } } };

/** What arrived on `path`, by event id (the body's `id`, which every copy must also carry as its webhook-id). */
function copiesByEvent(path: string): Map<string, Received[]> {
  const copies = new Map<string, Received[]>();
  for (const r of receiver.received.filter((x) => x.path === path)) {
    const eventId = bodyOf(r).id;
    copies.set(eventId, [...(copies.get(eventId) ?? []), r]);
  }
  return copies;
}

/** Every copy of an event is the same message: its webhook-id is the event id, its body the same bytes. */
function expectSameMessage(copies: Map<string, Received[]>): void {
  for (const [eventId, sent] of copies) {
    for (const copy of sent) {
      expect(copy.headers['webhook-id'], eventId).toBe(eventId);
      expect(copy.body, eventId).toBe(sent[0]!.body);
    }
  }
}

const REVOKED = { error: 'unauthorized', error_description: 'token has been revoked' };
/**
 * How long another process may take to refuse a revoked token. The revocation reaches it by PostgreSQL NOTIFY at
 * the revoking commit, which arrives within milliseconds; 2 s leaves room for a loaded machine, and is still far
 * below the 60 s reload that would pass for "eventually" if NOTIFY were not working.
 */
const REVOCATION_BOUND_MS = 2000;

describe('two api processes and two workers on one database', () => {
  it('a service token revoked through api A is refused by api B at once', async () => {
    const app = await call(apiA, 'POST', '/v1/platform/apps', {
      token: acme.adminToken,
      json: { name: 'Case sync connector', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['webhooks:read'] },
    });
    expect(app.status, app.text).toBe(201);
    const clientId = app.json.client_id;
    expect((await call(apiB, 'PATCH', `/v1/platform/apps/${clientId}/governance`, { token: acme.adminToken, json: { allow_service_tokens: true } })).status).toBe(200);
    const minted = await call(apiA, 'POST', `/v1/platform/apps/${clientId}/service-token`, { token: acme.adminToken, json: { scopes: ['webhooks:read'] } });
    expect(minted.status, minted.text).toBe(201);
    const { id, token } = minted.json;

    // Verified, and so cached as good, on B before the revocation.
    const onB = () => call(apiB, 'GET', '/v1/platform/scopes', { token });
    expect((await onB()).status).toBe(200);

    const revoked = await call(apiA, 'DELETE', `/v1/platform/apps/${clientId}/service-tokens/${id}`, { token: acme.adminToken });
    expect(revoked.status).toBe(204);
    expect(revoked.text).toBe('');
    const since = Date.now();
    const refused = await until(onB, (res) => res.status !== 200, { timeoutMs: REVOCATION_BOUND_MS, intervalMs: 10 });
    expect(Date.now() - since).toBeLessThan(REVOCATION_BOUND_MS);
    expect({ status: refused.status, body: refused.json }).toEqual({ status: 401, body: REVOKED });
    expect(refused.headers.get('www-authenticate')).toBe('Bearer error="invalid_token", error_description="token has been revoked"');
    // And on A, which revoked it, from the commit on.
    const onA = await call(apiA, 'GET', '/v1/platform/scopes', { token });
    expect({ status: onA.status, body: onA.json }).toEqual({ status: 401, body: REVOKED });
  });

  it('an access token revoked through api B (RFC 7009) is refused by api A at once', async () => {
    const app = await call(apiB, 'POST', '/v1/platform/apps', {
      token: acme.adminToken,
      json: { name: 'Revoking client', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['webhooks:read'] },
    });
    expect(app.status, app.text).toBe(201);
    const basic = { id: app.json.client_id, secret: app.json.client_secret };
    const issued = await call(apiB, 'POST', '/v1/oauth/token', { basic, form: { grant_type: 'client_credentials' } });
    expect(issued.status, issued.text).toBe(200);
    const token = issued.json.access_token;
    const onA = () => call(apiA, 'GET', '/v1/webhooks', { token });
    expect((await onA()).status).toBe(200);

    const revoked = await call(apiB, 'POST', '/v1/oauth/revoke', { basic, form: { token } });
    expect(revoked.status).toBe(200);
    expect(revoked.text).toBe('');
    const refused = await until(onA, (res) => res.status !== 200, { timeoutMs: REVOCATION_BOUND_MS, intervalMs: 10 });
    expect({ status: refused.status, body: refused.json }).toEqual({ status: 401, body: REVOKED });
  });

  it('counts the token endpoint\'s per-client limit once across both apis (Redis)', async (ctx) => {
    ctx.skip(!hasRedis, 'no Redis answers on 127.0.0.1:6379: without REDIS_URL each process counts alone');
    const app = await call(apiA, 'POST', '/v1/platform/apps', {
      token: acme.adminToken,
      json: { name: 'Limited', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['webhooks:read'] },
    });
    expect(app.status, app.text).toBe(201);
    const basic = { id: app.json.client_id, secret: app.json.client_secret };
    const answers: Answer[] = [];
    // Alternating A, B, A, ...: each process alone has seen at most three, so only a shared count refuses the sixth.
    for (let i = 0; i < TOKEN_LIMIT + 2; i++) answers.push(await call(i % 2 === 0 ? apiA : apiB, 'POST', '/v1/oauth/token', { basic, form: { grant_type: 'client_credentials' } }));
    expect(answers.map((a) => a.status)).toEqual([...Array(TOKEN_LIMIT).fill(200), 429, 429]);
    for (const limited of answers.slice(TOKEN_LIMIT)) {
      expect(limited.json).toEqual({ error: 'rate_limited', error_description: 'too many requests for this client; retry later' });
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(limited.headers.get('cache-control')).toBe('no-store');
    }
  });

  /** Part 3's deliveries, as they stood once settled: checked again at the end, when every worker has finished. */
  let onceCopies: Map<string, number> | undefined;

  it('delivers each attempt once, whichever api took the change and whichever worker sent it', { timeout: 30_000 }, async () => {
    const sync = await partner(acme);
    const webhookId = await subscribe(apiA, acme, '/once');
    const FAIL_ONCE = 'Once 3';
    let failed = false;
    receiver.respond = (r) => {
      if (r.path !== '/once') return { status: 204 };
      if (bodyOf(r).data.incident.title === FAIL_ONCE && !failed) {
        failed = true;
        return { status: 500, body: 'boom' };
      }
      return { status: 200, body: 'ok' };
    };

    const incidents: string[] = [];
    for (let i = 0; i < 8; i++) incidents.push(await createIncident(i % 2 === 0 ? apiA : apiB, sync, acme, `Once ${i}`));
    const log = await settled(apiB, acme, webhookId, incidents.length, 15_000);

    const copies = copiesByEvent('/once');
    expect([...copies.values()].map((sent) => bodyOf(sent[0]!).data.incident.id).sort()).toEqual([...incidents].sort());
    expectSameMessage(copies);
    const failing = [...copies].find(([, sent]) => bodyOf(sent[0]!).data.incident.title === FAIL_ONCE)!;
    // One copy per attempt: the refused one and its retry, once each; every other event once.
    for (const [eventId, sent] of copies) expect(sent.length, eventId).toBe(eventId === failing[0] ? 2 : 1);
    // The retry came after the schedule's 1 s (less at most 10 % jitter), not at once.
    expect(failing[1][1]!.at - failing[1][0]!.at).toBeGreaterThanOrEqual(900);

    // The log shows exactly the attempts made.
    expect(new Set(log.map((d) => d.event_id))).toEqual(new Set(copies.keys()));
    for (const delivery of log) {
      expect(delivery, delivery.id).toMatchObject({ status: 'succeeded', attempts: delivery.event_id === failing[0] ? 2 : 1, response_status: 200, error: null });
    }
    const retried = log.find((d) => d.event_id === failing[0])!;
    const detail = await call(apiA, 'GET', `/v1/webhooks/${webhookId}/deliveries/${retried.id}`, { token: acme.adminToken });
    expect(detail.status).toBe(200);
    expect(detail.json.payload).toEqual(JSON.parse(failing[1][0]!.body));
    expect(detail.json.attempt_history).toEqual([
      { number: 1, attempted_at: expect.stringMatching(/Z$/), response_status: 500, latency_ms: expect.any(Number), error: 'the endpoint answered 500', response_snippet: 'boom' },
      { number: 2, attempted_at: expect.stringMatching(/Z$/), response_status: 200, latency_ms: expect.any(Number), error: null, response_snippet: 'ok' },
    ]);
    const plain = log.find((d) => d.event_id !== failing[0])!;
    const once = await call(apiB, 'GET', `/v1/webhooks/${webhookId}/deliveries/${plain.id}`, { token: acme.adminToken });
    expect(once.json.attempt_history).toEqual([{ number: 1, attempted_at: expect.stringMatching(/Z$/), response_status: 200, latency_ms: expect.any(Number), error: null, response_snippet: 'ok' }]);
    onceCopies = new Map([...copies].map(([eventId, sent]) => [eventId, sent.length]));
  });

  it('delivers every event when a worker is killed mid-load, and the other worker and both apis carry on', { timeout: 45_000 }, async () => {
    const sync = await partner(globex);
    const webhookId = await subscribe(apiB, globex, '/kill');
    // Every answer is held until the gate opens: each worker then has exactly WORKER_CONCURRENCY requests in flight
    // when one is killed, requests the dead one will never see answered.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    receiver.respond = (r) => (r.path === '/kill' ? { status: 200, body: 'ok', after: gate } : { status: 204 });
    const arrived = () => receiver.received.filter((r) => r.path === '/kill');

    const before: string[] = [];
    for (let i = 0; i < 24; i++) before.push(await createIncident(i % 2 === 0 ? apiA : apiB, sync, globex, `Before ${i}`));
    const inFlight = 2 * WORKER_CONCURRENCY;
    const loaded = await until(
      async () => ({ arrived: arrived().length, pools: (await db.query('select distinct locked_by from graphile_worker._private_jobs where locked_at is not null')).rowCount }),
      (s) => s.arrived >= inFlight && s.pools === 2,
      { timeoutMs: 15_000, intervalMs: 20 },
    );
    expect(loaded, 'both workers hold jobs, and their requests are in flight').toEqual({ arrived: inFlight, pools: 2 });

    const [victim, survivor] = workers as [TesseraProcess, TesseraProcess];
    victim.child.kill('SIGKILL');
    await victim.exited();
    const killedAt = Date.now();
    expect(victim.child.signalCode).toBe('SIGKILL');
    // What every pool held when the victim died: the victim's share can never change again.
    const locked = (await db.query<{ locked_by: string; payload: { deliveryIds?: string[]; deliveryId?: string } }>(
      'select locked_by, payload from graphile_worker._private_jobs where locked_at is not null',
    )).rows;
    const arrivedBeforeKill = new Set(arrived().map((r) => bodyOf(r).id));
    const pools = await heartbeatIds();

    // The takeover: the survivor finds the dead pool's heartbeat stale, deletes it, then frees its jobs. Watched
    // from here; `lastPresent` is when a look began that still saw the heartbeat, `firstAbsent` when the first look
    // that did not ended, so the takeover lies between them.
    const takeover = (async () => {
      let lastPresent = killedAt;
      for (;;) {
        const began = Date.now();
        const ids = await heartbeatIds();
        const gone = pools.filter((id) => !ids.includes(id));
        if (gone.length) return { deadPool: gone, lastPresent, firstAbsent: Date.now(), live: ids };
        lastPresent = began;
        if (Date.now() - killedAt > 20_000) throw new Error('no worker took over the dead worker\'s jobs within 20 s');
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    takeover.catch(() => undefined);
    open();

    // The apis keep answering while the dead worker's jobs are still locked, and the survivor delivers what they take.
    const after: string[] = [];
    for (let i = 0; i < 6; i++) after.push(await createIncident(i % 2 === 0 ? apiA : apiB, sync, globex, `After ${i}`));
    for (const api of [apiA, apiB]) expect((await call(api, 'GET', '/readyz')).status).toBe(200);

    const { deadPool, lastPresent, firstAbsent, live } = await takeover;
    expect(deadPool).toHaveLength(1);
    expect(live).toHaveLength(1);
    const log = await settled(apiA, globex, webhookId, before.length + after.length, 20_000);

    // The dead worker's jobs, and the deliveries in them.
    const held = locked.filter((job) => job.locked_by === deadPool[0]);
    const heldDeliveries = new Set(held.flatMap((job) => job.payload.deliveryIds ?? [job.payload.deliveryId!]));
    const eventOf = new Map(log.map((d) => [d.id, d.event_id]));
    const heldEvents = new Set([...heldDeliveries].map((id) => eventOf.get(id)!));
    expect(heldEvents.size, 'the victim held jobs when it died').toBeGreaterThanOrEqual(WORKER_CONCURRENCY);

    const copies = copiesByEvent('/kill');
    expect([...copies.values()].map((sent) => bodyOf(sent[0]!).data.incident.id).sort()).toEqual([...before, ...after].sort());
    expectSameMessage(copies);
    // Sent twice: exactly the requests the victim had in flight (held by it, arrived before the kill, never answered
    // to it), sent again by the survivor after the takeover. Everything else arrived once.
    const resent = [...copies.keys()].filter((eventId) => heldEvents.has(eventId) && arrivedBeforeKill.has(eventId));
    expect(resent).toHaveLength(WORKER_CONCURRENCY);
    for (const [eventId, sent] of copies) expect(sent.length, eventId).toBe(resent.includes(eventId) ? 2 : 1);

    const incidentOf = new Map([...copies].map(([eventId, sent]) => [eventId, bodyOf(sent[0]!).data.incident.id]));
    const afterEvents = [...copies.keys()].filter((eventId) => after.includes(incidentOf.get(eventId)!));
    expect(afterEvents).toHaveLength(after.length);
    for (const [eventId, sent] of copies) {
      if (heldEvents.has(eventId)) {
        // The dead worker's: sent (again) only once the survivor had freed them.
        const postKill = sent.filter((r) => r.at >= killedAt);
        expect(postKill.length, eventId).toBe(1);
        expect(postKill[0]!.at, eventId).toBeGreaterThan(lastPresent);
      } else {
        // The survivor's, the events taken after the kill among them: delivered before the takeover, never waiting for it.
        expect(sent[0]!.at, eventId).toBeLessThan(firstAbsent);
      }
    }
    for (const eventId of afterEvents) expect(heldEvents.has(eventId), eventId).toBe(false);

    // The log: one delivery per event, each succeeded at its first recorded attempt. A request the victim sent but
    // never saw answered is no recorded attempt (its outcome died with it); the resend is the attempt on record.
    for (const delivery of log) expect(delivery, delivery.id).toMatchObject({ status: 'succeeded', attempts: 1, response_status: 200, error: null });

    expect(survivor.child.exitCode).toBeNull();
    expect(survivor.child.signalCode).toBeNull();
    // Nothing of the earlier deliveries arrived again meanwhile: each attempt still reached the receiver once.
    if (onceCopies) expect(new Map([...copiesByEvent('/once')].map(([eventId, sent]) => [eventId, sent.length]))).toEqual(onceCopies);
  });
});
