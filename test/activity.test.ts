// An app's activity over time, as the console's pictures draw it: its GraphQL calls per hour (bundles/stats.ts,
// written by the 5 s flush into operation_stats_hourly) and its webhooks' delivery attempts per hour with latency
// percentiles (webhooks/activity.ts), and one subscription's timeline. Real GraphQL calls, real deliveries to a
// receiver on 127.0.0.1, and hours made by moving the harness clock.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gql, operationId, partner, publishShippedBundles, type Partner } from './helpers/graphql.js';
import { bearer, startHarness, tokenRequest, type Harness, type TenantFixture } from './helpers/harness.js';
import { until } from './helpers/poll.js';
import { Receiver } from './helpers/receiver.js';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;
let receiver: Receiver;

const LIST = operationId('incident-read', 'ListIncidents');
const CREATE = operationId('incident-sync', 'CreateIncident');
const PARTNER_SCOPES = ['incidents:read', 'incidents:write', 'webhooks:read', 'webhooks:write'];
const HOUR = 3_600_000;
/** WEBHOOK_RETRY_SCHEDULE is an hour a retry, with up to 10 % jitter: a move of this much makes one due. */
const RETRY_MS = 4000_000;

beforeAll(async () => {
  h = await startHarness(
    { WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WEBHOOK_HTTP_HOSTS: '127.0.0.1', WEBHOOK_RETRY_SCHEDULE: '3600,3600,3600', WEBHOOK_TIMEOUT: '2', WORKER_POLL_INTERVAL: '100' },
    { worker: true },
  );
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  await publishShippedBundles(h);
  receiver = await new Receiver(h.clock).start();
});
afterAll(async () => {
  await receiver?.stop();
  await h?.close();
});
beforeEach(() => {
  receiver.respond = () => ({ status: 204 });
});

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const hourOf = (ms: number) => Math.floor(ms / HOUR) * HOUR;

/** Moves the clock to one second past the start of the next hour, so that what follows happens in one hour. */
async function startOfAnHour(): Promise<number> {
  const next = hourOf(h.clock.now()) + HOUR;
  await h.clock.advance(next - h.clock.now() + 1000);
  return next;
}

/** A fresh token of an app (the clock moves by hours here, past older ones). */
async function tokenOf(app: Partner, scopes = PARTNER_SCOPES): Promise<string> {
  const res = await tokenRequest(h, { grant_type: 'client_credentials', scope: scopes.join(' ') }, { id: app.clientId, secret: app.secret });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().access_token;
}

const get = (url: string, token: string) => h.request({ method: 'GET', url, headers: bearer(token) });

describe('GET /v1/platform/apps/{client_id}/activity/graphql', () => {
  it('counts calls, errors and mean latency per hour and per operation, for the app itself and its tenant admin', async () => {
    const p = await partner(h, acme, ['incident-read', 'incident-sync']);
    const bystander = await partner(h, acme, ['incident-read']);
    const first = await startOfAnHour();
    let token = await tokenOf(p, ['incidents:read', 'incidents:write']);
    expect((await gql(h, { token }, acme.tenantId, { documentId: `sha256:${CREATE}`, variables: { input: { title: 'Counted', severity: 'SEV2' } } })).statusCode).toBe(200);
    expect((await gql(h, { token }, acme.tenantId, { documentId: `sha256:${LIST}`, variables: { first: 5 } })).statusCode).toBe(200);
    expect((await gql(h, { token }, acme.tenantId, { documentId: `sha256:${LIST}`, variables: { first: 1 } })).statusCode).toBe(200);
    // Executed and answered with an error: a call, and an error.
    expect((await gql(h, { token }, acme.tenantId, { documentId: `sha256:${LIST}`, variables: { first: 500 } })).json().errors[0].extensions.code).toBe('BAD_USER_INPUT');
    // Refused before execution: no call of any operation.
    expect((await gql(h, { token }, acme.tenantId, { documentId: `sha256:${'0'.repeat(64)}` })).statusCode).toBe(404);
    // Another app's calls are its own.
    expect((await gql(h, bystander, acme.tenantId, { documentId: `sha256:${LIST}`, variables: { first: 1 } })).statusCode).toBe(200);

    await h.clock.advance(2 * HOUR);
    const third = first + 2 * HOUR;
    token = await tokenOf(p, ['incidents:read']);
    expect((await gql(h, { token }, acme.tenantId, { documentId: `sha256:${LIST}`, variables: { first: 2 } })).statusCode).toBe(200);

    const url = `/v1/platform/apps/${p.clientId}/activity/graphql?days=1`;
    const own = await get(url, token);
    expect(own.statusCode, own.body).toBe(200);
    const latency = expect.any(Number);
    expect(own.json()).toEqual({
      client_id: p.clientId,
      since: iso(third - 23 * HOUR),
      until: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      calls: 5,
      errors: 1,
      mean_latency_ms: latency,
      hours: [
        { hour: iso(first), calls: 4, errors: 1, mean_latency_ms: latency },
        { hour: iso(third), calls: 1, errors: 0, mean_latency_ms: latency },
      ],
      operations: [
        { operation_id: `sha256:${LIST}`, operation_name: 'ListIncidents', calls: 4, errors: 1, mean_latency_ms: latency },
        { operation_id: `sha256:${CREATE}`, operation_name: 'CreateIncident', calls: 1, errors: 0, mean_latency_ms: latency },
      ],
    });
    expect(Date.parse(own.json().until)).toBeGreaterThanOrEqual(third);
    for (const hour of own.json().hours) expect(hour.mean_latency_ms).toBeGreaterThan(0);
    // The tenant admin reads the same.
    const byAdmin = await get(url, acme.adminToken);
    expect(byAdmin.statusCode).toBe(200);
    expect({ ...byAdmin.json(), until: null }).toEqual({ ...own.json(), until: null });

    // Days are whole days of hours ending with the current one: a day later, only the later hour is in the last day.
    await h.clock.advance(22 * HOUR);
    const later = await get(url, acme.adminToken);
    expect(later.json()).toMatchObject({ since: iso(third + 22 * HOUR - 23 * HOUR), calls: 1, errors: 0, hours: [{ hour: iso(third), calls: 1, errors: 0 }] });
    const twoDays = await get(`/v1/platform/apps/${p.clientId}/activity/graphql?days=2`, acme.adminToken);
    expect(twoDays.json().hours.map((x: { hour: string }) => x.hour)).toEqual([iso(first), iso(third)]);
    // Seven days by default.
    expect((await get(`/v1/platform/apps/${p.clientId}/activity/graphql`, acme.adminToken)).json().since).toBe(iso(hourOf(h.clock.now()) - (7 * 24 - 1) * HOUR));
  });

  it('answers 404 for another app, another tenant and an unknown app; 400 for days out of range', async () => {
    const p = await partner(h, acme, ['incident-read']);
    const other = await partner(h, acme, ['incident-read']);
    const url = `/v1/platform/apps/${p.clientId}/activity/graphql`;
    for (const token of [other.token, globex.adminToken]) {
      const res = await get(url, token);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: 'not_found', error_description: `no app with client_id ${p.clientId}` });
    }
    expect((await get('/v1/platform/apps/app_unknown/activity/graphql', acme.adminToken)).statusCode).toBe(404);
    for (const days of ['0', '31', 'seven']) {
      const res = await get(`${url}?days=${days}`, acme.adminToken);
      expect(res.statusCode, days).toBe(400);
      expect(res.json().error).toBe('invalid_request');
    }
    expect((await get(url, '')).statusCode).toBe(401);
    // An app with no calls: nothing, in the same shape.
    const none = await get(url, p.token);
    expect(none.json()).toEqual({ client_id: p.clientId, since: expect.any(String), until: expect.any(String), calls: 0, errors: 0, mean_latency_ms: 0, hours: [], operations: [] });
  });

  it("goes with the app when it is deleted", async () => {
    const p = await partner(h, acme, ['incident-read']);
    expect((await gql(h, p, acme.tenantId, { documentId: `sha256:${LIST}`, variables: { first: 1 } })).statusCode).toBe(200);
    await h.runtime.services.operationStats.flush();
    const count = async () => (await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from operation_stats_hourly where app_id = ?', [p.clientId]))[0].n;
    expect(await count()).toBe(1);
    expect((await h.request({ method: 'DELETE', url: `/v1/platform/apps/${p.clientId}`, headers: bearer(acme.adminToken) })).statusCode).toBe(204);
    expect(await count()).toBe(0);
  });
});

describe('delivery attempts per hour', () => {
  /** Waits until the subscription's deliveries are all in one of `statuses`. */
  async function settled(webhookId: string, count: number, statuses = ['succeeded', 'retrying', 'failed']) {
    const list = await until(
      async () => (await get(`/v1/webhooks/${webhookId}/deliveries?limit=100`, acme.adminToken)).json().deliveries as Array<{ status: string; attempts: number }>,
      (ds) => ds.length === count && ds.every((d) => statuses.includes(d.status) && d.attempts > 0),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    expect(list, `the deliveries of ${webhookId}`).toHaveLength(count);
    return list;
  }

  it("counts the app's own subscriptions' attempts by outcome with latency percentiles, and one subscription's timeline", async () => {
    const app = await partner(h, acme, ['incident-sync'], PARTNER_SCOPES);
    const first = await startOfAnHour();
    let token = await tokenOf(app);
    const subscribe = async (who: string, path: string) => {
      const res = await h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(who), payload: { url: `${receiver.url}${path}`, events: ['incident.created'] } });
      expect(res.statusCode, res.body).toBe(201);
      return res.json().id as string;
    };
    const own = await subscribe(token, '/activity/own');
    const quiet = await subscribe(token, '/activity/quiet');
    // The tenant admin's own subscription: no app's.
    const admins = await subscribe(acme.adminToken, '/activity/admin');
    expect((await h.request({ method: 'PUT', url: `/v1/webhooks/${quiet}`, headers: bearer(token), payload: { events: ['incident.closed'] } })).statusCode).toBe(200);

    const create = async (title: string) =>
      expect((await gql(h, { token }, acme.tenantId, { documentId: `sha256:${CREATE}`, variables: { input: { title, severity: 'SEV3' } } })).statusCode).toBe(200);
    await create('one');
    await create('two');
    await settled(own, 2);
    receiver.respond = (r) => (r.path === '/activity/own' ? { status: 500, body: 'down for maintenance' } : { status: 204 });
    await create('three');
    await settled(own, 3);
    expect((await h.request({ method: 'POST', url: `/v1/webhooks/${admins}/test`, headers: bearer(acme.adminToken) })).statusCode).toBe(202);
    await settled(admins, 4);

    // An hour and more later, the failed delivery's retry succeeds.
    receiver.respond = () => ({ status: 204 });
    await h.clock.advance(RETRY_MS);
    const second = first + HOUR;
    await until(async () => (await get(`/v1/webhooks/${own}/deliveries?status=succeeded`, acme.adminToken)).json().deliveries.length, (n) => n === 3);
    token = await tokenOf(app);

    const latency = expect.any(Number);
    const counts = (attempts: number, succeeded: number, failed: number) => ({ attempts, succeeded, failed, p50_latency_ms: latency, p95_latency_ms: latency, p99_latency_ms: latency });
    const expected = {
      client_id: app.clientId,
      since: iso(second - 23 * HOUR),
      until: expect.stringMatching(/Z$/),
      ...counts(4, 3, 1),
      hours: [
        { hour: iso(first), ...counts(3, 2, 1) },
        { hour: iso(second), ...counts(1, 1, 0) },
      ],
      webhooks: [
        { id: own, url: `${receiver.url}/activity/own`, ...counts(4, 3, 1) },
        { id: quiet, url: `${receiver.url}/activity/quiet`, attempts: 0, succeeded: 0, failed: 0, p50_latency_ms: null, p95_latency_ms: null, p99_latency_ms: null },
      ],
    };
    const url = `/v1/platform/apps/${app.clientId}/activity/webhooks?days=1`;
    const byApp = await get(url, token);
    expect(byApp.statusCode, byApp.body).toBe(200);
    expect(byApp.json()).toEqual(expected);
    const body = byApp.json();
    expect(body.p50_latency_ms).toBeLessThanOrEqual(body.p95_latency_ms);
    expect(body.p95_latency_ms).toBeLessThanOrEqual(body.p99_latency_ms);
    expect((await get(url, acme.adminToken)).json()).toEqual(expected);

    const { client_id: _, webhooks: __, ...window } = expected;
    const timeline = await get(`/v1/webhooks/${own}/timeline?days=1`, token);
    expect(timeline.statusCode, timeline.body).toBe(200);
    expect(timeline.json()).toEqual({ webhook_id: own, ...window });
    expect((await get(`/v1/webhooks/${admins}/timeline?days=1`, acme.adminToken)).json()).toEqual({
      webhook_id: admins,
      since: iso(second - 23 * HOUR),
      until: expect.stringMatching(/Z$/),
      ...counts(4, 4, 0),
      hours: [{ hour: iso(first), ...counts(4, 4, 0) }],
    });
    expect((await get(`/v1/webhooks/${quiet}/timeline?days=1`, token)).json()).toMatchObject({ attempts: 0, p50_latency_ms: null, hours: [] });

    // Who may read it: the app (with webhooks:read) and its tenant admin; another app, another tenant, an unknown app: 404.
    const other = await partner(h, acme, [], PARTNER_SCOPES);
    for (const [path, who] of [
      [url, other.token],
      [url, globex.adminToken],
      [`/v1/webhooks/${own}/timeline`, other.token],
      [`/v1/webhooks/${own}/timeline`, globex.adminToken],
      ['/v1/platform/apps/app_unknown/activity/webhooks', acme.adminToken],
    ] as const) {
      expect((await get(path, who)).statusCode, `${path} as ${who === other.token ? 'another app' : 'someone else'}`).toBe(404);
    }
    const withoutRead = await get(url, await tokenOf(app, ['incidents:read']));
    expect(withoutRead.statusCode).toBe(403);
    expect(withoutRead.json().error).toBe('forbidden');
    expect((await get(`${url.replace('days=1', 'days=31')}`, token)).statusCode).toBe(400);
    // An app without subscriptions.
    expect((await get(`/v1/platform/apps/${other.clientId}/activity/webhooks`, other.token)).json()).toEqual({
      client_id: other.clientId,
      since: expect.any(String),
      until: expect.any(String),
      attempts: 0,
      succeeded: 0,
      failed: 0,
      p50_latency_ms: null,
      p95_latency_ms: null,
      p99_latency_ms: null,
      hours: [],
      webhooks: [],
    });
  });
});

describe('the OpenAPI document', () => {
  it('documents the activity routes', async () => {
    const paths = (await h.request({ method: 'GET', url: '/api/docs' })).json().paths;
    for (const path of ['/v1/platform/apps/{client_id}/activity/graphql', '/v1/platform/apps/{client_id}/activity/webhooks', '/v1/webhooks/{webhook_id}/timeline']) {
      expect(paths[path]?.get?.parameters.map((p: { name: string }) => p.name), path).toEqual(expect.arrayContaining(['days']));
    }
  });
});
