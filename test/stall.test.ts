// When PostgreSQL stalls: every wait is bounded. A cluster of this test's own is frozen (SIGSTOP on the postmaster
// and every backend, as a stuck disk or a paused VM would), and while it is, /readyz answers 503 within 2 s and a
// route that needs the database answers 503 temporarily_unavailable with Retry-After within its bounds, never 500
// and never an unbounded wait. Thawed, everything recovers without a restart, and the webhook worker delivers
// every event it had in hand, at least once.
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.js';
import { migrate } from '../src/db/orm.js';
import { gql, operationId, partner, publishShippedBundles, type Partner } from './helpers/graphql.js';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { loggedApp, type LoggedApp } from './helpers/logged-app.js';
import { until } from './helpers/poll.js';
import { Receiver } from './helpers/receiver.js';

const STATEMENT_MS = 1000;
const ACQUIRE_MS = 1000;
/** The longest a request may take while the database is frozen: a connection wait, a statement, the client's second. */
const BOUND_MS = ACQUIRE_MS + STATEMENT_MS + 1000 + 1000;

let dataDir: string;
let cluster: EmbeddedDatabase;
let h: Harness;
/** The app the frozen requests go to, whose log the test reads. */
let app: LoggedApp;
let acme: TenantFixture;
let sync: Partner;
let receiver: Receiver;

const LIST = operationId('incident-read', 'ListIncidents');
const CREATE = operationId('incident-sync', 'CreateIncident');

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tessera-stall-'));
  await chmod(dataDir, 0o755); // run as root, the cluster runs as the postgres user
  cluster = await startEmbeddedPostgres({ dataDir, port: 0, mode: 'own', log: () => undefined });
  await migrate(cluster.url);
  h = await startHarness(
    {
      DATABASE_STATEMENT_TIMEOUT: String(STATEMENT_MS),
      DATABASE_ACQUIRE_TIMEOUT: String(ACQUIRE_MS),
      WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8',
      WEBHOOK_HTTP_HOSTS: '127.0.0.1',
      WORKER_POLL_INTERVAL: '100',
      // A runner the stall ended leaves its jobs locked until its heartbeat lapses: short here, 30 s by default.
      WORKER_HEARTBEAT_TIMEOUT: '3',
      LOG_LEVEL: 'silent',
    },
    { worker: true },
    { url: cluster.url, drop: async () => undefined },
  );
  acme = await h.tenant('acme');
  await publishShippedBundles(h);
  sync = await partner(h, acme, ['incident-read', 'incident-sync']);
  receiver = await new Receiver().start();
  app = await loggedApp(h);
}, 120_000);

afterAll(async () => {
  thaw();
  await receiver?.stop();
  await app?.close();
  await h?.close();
  await cluster?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** The cluster's processes: the postmaster (DATA_DIR/pg/postmaster.pid) and every process it started. */
function clusterProcesses(): number[] {
  const postmaster = Number.parseInt(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]!, 10);
  const children = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after its closing paren.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [postmaster, ...children];
}

let frozen: number[] = [];
function freeze(): void {
  frozen = clusterProcesses();
  for (const pid of frozen) process.kill(pid, 'SIGSTOP');
}
function thaw(): void {
  for (const pid of frozen.reverse()) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone already
    }
  }
  frozen = [];
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work();
  return { value, ms: Date.now() - started };
}

describe('a frozen database', () => {
  it('answers 503 within bounds while frozen, and everything recovers once it thaws, deliveries included', async () => {
    const webhook = await h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(acme.adminToken), payload: { url: `${receiver.url}/stall`, events: ['incident.created'] } });
    expect(webhook.statusCode).toBe(201);
    expect((await h.request({ method: 'GET', url: '/v1/webhooks', headers: bearer(acme.adminToken) })).statusCode).toBe(200);

    // Events in hand when the database freezes: the receiver answers slowly, so deliveries are in flight.
    receiver.respond = () => ({ status: 200, delayMs: 300 });
    const incidents: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await gql(h, sync, acme.tenantId, { documentId: `sha256:${CREATE}`, variables: { input: { title: `Before the stall ${i}`, severity: 'SEV2' } } });
      expect(res.statusCode).toBe(200);
      incidents.push(res.json().data.createIncident.incident.id);
    }

    let answers: Array<{ value: Awaited<ReturnType<LoggedApp['request']>>; ms: number }> = [];
    freeze();
    try {
      const ready = await timed(() => app.request({ method: 'GET', url: '/readyz' }));
      expect(ready.value.statusCode).toBe(503);
      expect(ready.ms).toBeLessThan(2000);

      answers = await Promise.all([
        timed(() => app.request({ method: 'GET', url: '/v1/webhooks', headers: bearer(acme.adminToken) })),
        timed(() => app.request({ method: 'GET', url: '/v1/platform/apps', headers: bearer(acme.adminToken) })),
        timed(() => app.request({ method: 'POST', url: '/v1/platform/apps', headers: bearer(acme.adminToken), payload: { name: 'During the stall', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['webhooks:write'] } })),
        timed(() => app.request({ method: 'GET', url: '/v1/platform/audit-events', headers: bearer(acme.adminToken) })),
      ]);
      for (const { value: res, ms } of answers) {
        expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 503, body: { error: 'temporarily_unavailable', error_description: 'the database is not answering; retry in a few seconds' } });
        expect(res.headers['retry-after']).toBe('5');
        expect(ms).toBeLessThan(BOUND_MS);
      }

      const list = await timed(() => gql({ request: app.request } as Harness, sync, acme.tenantId, { documentId: `sha256:${LIST}`, variables: { first: 5 } }));
      expect(list.value.statusCode).toBe(503);
      expect(list.value.headers['retry-after']).toBe('5');
      expect(list.value.json().errors.map(({ message, path, extensions }: Record<string, unknown>) => ({ message, path, extensions }))).toEqual([
        { message: 'the database is not answering; retry in a few seconds', path: ['incidents'], extensions: { code: 'TEMPORARILY_UNAVAILABLE' } },
      ]);
      expect(list.ms).toBeLessThan(BOUND_MS);
    } finally {
      thaw();
    }

    // Logged, as warnings (the database's fault, not ours nor the client's), without the SQL or its values.
    const failures = app.logged.filter((line) => (line.level as number) >= 40).map(({ level, msg }) => ({ level, msg }));
    expect(failures).toEqual([...answers.map(() => ({ level: 40, msg: 'request failed' })), { level: 40, msg: 'GraphQL resolver failed' }]);
    // The caller's tenant is named in each line's tenant_id, and nowhere else (not as a value of a statement).
    const withoutCaller = JSON.stringify(app.logged.map(({ tenant_id: _tenant, ...rest }) => rest));
    for (const leak of ['select', 'webhook_subscriptions', acme.tenantId]) expect(withoutCaller).not.toContain(leak);

    // Recovered without a restart: the same routes answer again.
    const back = await until(() => h.request({ method: 'GET', url: '/v1/webhooks', headers: bearer(acme.adminToken) }), (res) => res.statusCode === 200, { timeoutMs: 20_000, intervalMs: 200 });
    expect(back.statusCode).toBe(200);
    expect((await h.request({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);

    // Every event the worker had in hand arrives, at least once (the same webhook-id for a copy), and the log agrees.
    receiver.respond = () => ({ status: 200 });
    const arrived = () => new Set(receiver.received.filter((r) => r.path === '/stall').map((r) => JSON.parse(r.body).data.incident.id as string));
    await until(() => incidents.every((id) => arrived().has(id)), Boolean, { timeoutMs: 30_000, intervalMs: 100 });
    expect(incidents.filter((id) => !arrived().has(id))).toEqual([]);
    for (const copy of receiver.received.filter((r) => r.path === '/stall')) expect(copy.headers['webhook-id']).toBe(JSON.parse(copy.body).id);
    const log = await until(
      async () => (await h.request({ method: 'GET', url: `/v1/webhooks/${webhook.json().id}/deliveries?limit=100`, headers: bearer(acme.adminToken) })).json().deliveries as Array<{ status: string }>,
      (deliveries) => deliveries.length === incidents.length && deliveries.every((d) => d.status === 'succeeded'),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(log.map((d) => d.status)).toEqual(incidents.map(() => 'succeeded'));
  }, 120_000);
});
