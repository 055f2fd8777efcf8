// GET /metrics as Prometheus scrapes it: behind METRICS_TOKEN on the main port (absent without it), or on a
// METRICS_PORT of its own. A real Prometheus scrapes the test's Tessera every second with the README's scrape
// config (bearer token), and the counters, read back through PromQL, move with the requests, tokens, GraphQL
// operations and webhook deliveries this test makes, with bounded labels.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { serveMetrics } from '../src/observability/metrics.js';
import { gql, operationId, partner, publishShippedBundles, type Partner } from './helpers/graphql.js';
import { bearer, startHarness, tokenRequest, type Harness, type TenantFixture } from './helpers/harness.js';
import { until } from './helpers/poll.js';
import { Prometheus } from './helpers/prometheus.js';
import { Receiver } from './helpers/receiver.js';

const METRICS_TOKEN = 'metrics-token-for-the-scraper-0123456789';
const LIST = `sha256:${operationId('incident-read', 'ListIncidents')}`;
const CREATE = `sha256:${operationId('incident-sync', 'CreateIncident')}`;

let h: Harness;
let acme: TenantFixture;
let sync: Partner;
let machine: { client_id: string; client_secret?: string };
let receiver: Receiver;
let prometheus: Prometheus;

beforeAll(async () => {
  h = await startHarness(
    { METRICS_TOKEN, WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WEBHOOK_HTTP_HOSTS: '127.0.0.1', WEBHOOK_RETRY_SCHEDULE: '60,60,60', WORKER_POLL_INTERVAL: '100' },
    { worker: true },
  );
  acme = await h.tenant('acme');
  await publishShippedBundles(h);
  sync = await partner(h, acme, ['incident-read', 'incident-sync']);
  machine = await h.registerApp(acme);
  receiver = await new Receiver(h.clock).start();
  const address = await h.app.listen({ port: 0, host: '127.0.0.1' });
  prometheus = await new Prometheus().start({ address: new URL(address).host, bearerToken: METRICS_TOKEN });
}, 60_000);
afterAll(async () => {
  await prometheus?.stop();
  await receiver?.stop();
  await h?.close();
});

/** What `promql` moved by while `action` ran, as Prometheus scraped it before and after. */
async function moved(promqls: string[], action: () => Promise<void>): Promise<number[]> {
  await scraped();
  const before = await Promise.all(promqls.map((q) => prometheus.value(q)));
  await action();
  await scraped();
  const after = await Promise.all(promqls.map((q) => prometheus.value(q)));
  return after.map((value, i) => value - before[i]!);
}

/** A scrape after now, and a healthy one: a sample Prometheus could not parse fails the whole scrape. */
async function scraped(): Promise<void> {
  const target = await prometheus.nextScrape();
  expect({ health: target.health, lastError: target.lastError }).toEqual({ health: 'up', lastError: '' });
}

describe('/metrics', () => {
  it('needs the metrics token, and answers the Prometheus text format that Prometheus scrapes', async () => {
    for (const headers of [{}, bearer('wrong-token-wrong-token-wrong'), { authorization: `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}` }]) {
      const res = await h.request({ method: 'GET', url: '/metrics', headers });
      expect({ status: res.statusCode, body: res.json(), challenge: res.headers['www-authenticate'] }).toEqual({
        status: 401,
        body: { error: 'unauthorized', error_description: 'send the metrics token: Authorization: Bearer <METRICS_TOKEN>' },
        challenge: 'Bearer realm="metrics"',
      });
    }
    const res = await h.request({ method: 'GET', url: '/metrics', headers: bearer(METRICS_TOKEN) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    await scraped();
    // The process's own metrics, the pools, the keys.
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(await prometheus.query(name), name).toHaveLength(1);
    }
    const pools = (await prometheus.query('tessera_db_pool_connections')).map((s) => s.labels);
    for (const pool of ['orm', 'jobs']) for (const state of ['in_use', 'idle', 'waiting']) expect(pools).toContainEqual({ pool, state });
    expect(await prometheus.value('tessera_signing_keys{state="active"}')).toBe(1);
    expect(await prometheus.value('tessera_signing_keys{state="next"}')).toBe(1);
    expect(await prometheus.value('tessera_signing_key_age_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('does not exist on the main port without METRICS_TOKEN', async () => {
    const app = await buildApp({ ...h.config, metrics: { ...h.config.metrics, token: undefined } }, h.runtime);
    try {
      expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });

  it('is served alone on METRICS_PORT, for a worker or a scraper inside the network', async () => {
    const server = await serveMetrics(h.runtime.core.metrics, 0, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await res.text()).toContain('# TYPE tessera_webhook_attempts_total counter');
      expect((await fetch(`http://127.0.0.1:${server.port}/v1/platform/apps`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('counts HTTP requests by route pattern, method and status class, never by URL', async () => {
    const count = (labels: string) => `tessera_http_request_duration_seconds_count{${labels}}`;
    const route = 'route="/v1/platform/apps/:client_id",method="GET"';
    const deltas = await moved([count(`${route},status_class="2xx"`), count(`${route},status_class="4xx"`), count('route="unmatched",method="GET",status_class="4xx"')], async () => {
      for (let i = 0; i < 3; i++) await h.request({ method: 'GET', url: `/v1/platform/apps/${machine.client_id}`, headers: bearer(acme.adminToken) });
      await h.request({ method: 'GET', url: '/v1/platform/apps/app_missing', headers: bearer(acme.adminToken) });
      await h.request({ method: 'GET', url: '/no/such/route' });
    });
    expect(deltas).toEqual([3, 1, 1]);
    const routes = (await prometheus.query('count by (route) (tessera_http_request_duration_seconds_count)')).map((s) => s.labels.route!);
    expect(routes).toContain('/v1/platform/apps/:client_id');
    expect(routes.filter((r) => r.includes(machine.client_id) || r.includes('app_missing') || r.includes('/no/such'))).toEqual([]);
  });

  it('counts tokens issued by grant type and refusals by error code', async () => {
    const basic = { id: machine.client_id, secret: machine.client_secret! };
    const deltas = await moved(
      ['tessera_oauth_tokens_issued_total{grant_type="client_credentials"}', 'tessera_oauth_token_refusals_total{error="invalid_client"}', 'tessera_oauth_token_refusals_total{error="unsupported_grant_type"}'],
      async () => {
        for (let i = 0; i < 2; i++) expect((await tokenRequest(h, { grant_type: 'client_credentials', scope: 'webhooks:write' }, basic)).statusCode).toBe(200);
        expect((await tokenRequest(h, { grant_type: 'client_credentials' }, { ...basic, secret: 'wrong' })).statusCode).toBe(401);
        expect((await tokenRequest(h, { grant_type: 'password', username: 'a', password: 'b' }, basic)).statusCode).toBe(400);
      },
    );
    expect(deltas).toEqual([2, 1, 1]);
  });

  it('counts GraphQL operations by app, operation and outcome, with their durations', async () => {
    const ops = (outcome: string) => `tessera_graphql_operations_total{client_id="${sync.clientId}",operation="ListIncidents",outcome="${outcome}"}`;
    const durations = (outcome: string) => `tessera_graphql_operation_duration_seconds_count{operation="ListIncidents",outcome="${outcome}"}`;
    const deltas = await moved([ops('ok'), ops('error'), durations('ok'), durations('error')], async () => {
      for (let i = 0; i < 2; i++) expect((await gql(h, sync, acme.tenantId, { documentId: LIST, variables: { first: 5 } })).statusCode).toBe(200);
      // A typed failure inside the operation (a page too large) is an executed operation with errors.
      expect((await gql(h, sync, acme.tenantId, { documentId: LIST, variables: { first: 1000 } })).json().errors).toHaveLength(1);
    });
    expect(deltas).toEqual([2, 1, 2, 1]);
  });

  it('counts webhook attempts by outcome, and shows the queue while a delivery waits for its retry', async () => {
    const webhook = await h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(acme.adminToken), payload: { url: `${receiver.url}/metrics`, events: ['incident.created'] } });
    expect(webhook.statusCode).toBe(201);
    const attempts = (outcome: string) => `tessera_webhook_attempts_total{outcome="${outcome}"}`;
    const arrived = () => receiver.received.filter((r) => r.path === '/metrics').length;

    receiver.respond = () => ({ status: 204 });
    const first = await moved([attempts('succeeded'), 'tessera_webhook_attempt_duration_seconds_count{outcome="success"}'], async () => {
      await gql(h, sync, acme.tenantId, { documentId: CREATE, variables: { input: { title: 'Delivered at once', severity: 'SEV3' } } });
      await receiver.waitFor(1, (r) => r.path === '/metrics');
      await until(async () => (await registryText('tessera_webhook_attempts_total')).includes('outcome="succeeded"'), Boolean, { timeoutMs: 5000 });
    });
    expect(first).toEqual([1, 1]);

    receiver.respond = () => ({ status: 500 });
    const failing = await moved([attempts('retrying')], async () => {
      await gql(h, sync, acme.tenantId, { documentId: CREATE, variables: { input: { title: 'Retried later', severity: 'SEV3' } } });
      await until(() => arrived(), (n) => n === 2, { timeoutMs: 5000 });
      await until(async () => (await registryText('tessera_webhook_deliveries_pending')).includes('status="retrying"} 1'), Boolean, { timeoutMs: 5000 });
    });
    expect(failing).toEqual([1]);
    expect(await prometheus.value('tessera_webhook_deliveries_pending{status="retrying"}')).toBe(1);
    expect(await prometheus.value('tessera_webhook_deliveries_pending{status="queued"}')).toBe(0);
    // Its retry is a minute away on the test's clock: not due yet.
    expect(await prometheus.value('tessera_webhook_oldest_due_seconds')).toBe(0);

    receiver.respond = () => ({ status: 204 });
    const retried = await moved([attempts('succeeded'), attempts('failed')], async () => {
      await h.clock.advance(61_000);
      await until(() => arrived(), (n) => n === 3, { timeoutMs: 5000 });
      await until(async () => (await registryText('tessera_webhook_deliveries_pending')).includes('status="retrying"} 0'), Boolean, { timeoutMs: 5000 });
    });
    expect(retried).toEqual([1, 0]);
    expect(await prometheus.value('tessera_webhook_deliveries_pending{status="retrying"}')).toBe(0);
  });
});

/** The registry's own text for one metric (to know the worker has recorded an outcome before Prometheus looks). */
function registryText(name: string): Promise<string> {
  return h.runtime.core.metrics.getSingleMetricAsString(name);
}
