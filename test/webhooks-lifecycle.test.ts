// Webhooks through an app's lifecycle and a receiver's bad days: deliveries held while their app is suspended and sent
// in order on resume, cancelled when it is deleted; recover requests; the operational events that tell a tenant
// admin's own subscription about all of this; and a subscription's rate limit. Every operational event received is
// checked against its published schema (Ajv) and its Standard Webhooks signature.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { startRuntime } from '../src/runtime.js';
import { gql, operationId, partner, publishShippedBundles, type Partner } from './helpers/graphql.js';
import { bearer, startHarness, tokenRequest, type Harness, type TenantFixture } from './helpers/harness.js';
import { until } from './helpers/poll.js';
import { Receiver, type Received } from './helpers/receiver.js';
import { EventCatalog, expectValidDelivery, type DeliveryBody } from './helpers/webhook-events.js';

let h: Harness;
let acme: TenantFixture;
/** Changes incidents (incident-sync), so that there are events. */
let sync: Partner;
let receiver: Receiver;
let catalog: EventCatalog;
/** The tenant admin's own subscription to every operational event, and its secret. */
let ops: { id: string; secret: string };

const OPERATIONAL = ['webhook.endpoint.disabled', 'webhook.deliveries.held', 'webhook.deliveries.released', 'webhook.recover.completed'];
const PARTNER_SCOPES = ['incidents:read', 'incidents:write', 'webhooks:read', 'webhooks:write'];
const CREATE = `sha256:${operationId('incident-sync', 'CreateIncident')}`;
const RECOVER = `sha256:${operationId('incident-webhooks', 'RecoverWebhook')}`;
/** WEBHOOK_RETRY_SCHEDULE below is an hour a retry, with up to 10 % jitter: a move of this much makes one due. */
const RETRY_MS = 4000_000;

beforeAll(async () => {
  // Retries an hour apart: a delivery stays `retrying` until the test moves the clock.
  h = await startHarness(
    { WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WEBHOOK_HTTP_HOSTS: '127.0.0.1', WEBHOOK_RETRY_SCHEDULE: '3600,3600,3600', WEBHOOK_TIMEOUT: '2', WORKER_POLL_INTERVAL: '100' },
    { worker: true },
  );
  acme = await h.tenant('acme');
  await publishShippedBundles(h);
  sync = await partner(h, acme, ['incident-sync'], ['incidents:read', 'incidents:write']);
  receiver = await new Receiver(h.clock).start();
  catalog = await EventCatalog.fetch(h, acme.adminToken);
  const created = await h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(acme.adminToken), payload: { url: `${receiver.url}/ops`, events: OPERATIONAL } });
  expect(created.statusCode, created.body).toBe(201);
  ops = { id: created.json().id, secret: created.json().secret };
});
afterAll(async () => {
  await receiver?.stop();
  await h?.close();
});
beforeEach(() => {
  receiver.respond = () => ({ status: 204 });
});

/** A fresh token of an app (the clock moves by hours here, past older ones). */
async function tokenOf(app: Partner, scope = PARTNER_SCOPES.join(' ')): Promise<string> {
  const res = await tokenRequest(h, { grant_type: 'client_credentials', scope }, { id: app.clientId, secret: app.secret });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().access_token;
}

async function createIncident(title: string): Promise<string> {
  const res = await gql(h, { token: await tokenOf(sync, 'incidents:write') }, acme.tenantId, { documentId: CREATE, variables: { input: { title, severity: 'SEV3' } } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().data.createIncident.incident.id;
}

/** An app's own subscription to incident.created at `path`, with its secret. */
async function subscribe(token: string, path: string, extra: object = {}): Promise<{ id: string; secret: string }> {
  const res = await h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(token), payload: { url: `${receiver.url}${path}`, events: ['incident.created'], ...extra } });
  expect(res.statusCode, res.body).toBe(201);
  return { id: res.json().id, secret: res.json().secret };
}

interface DeliveryRow {
  id: string;
  event_id: string;
  status: string;
  attempts: number;
}

async function deliveries(webhookId: string, status?: string): Promise<DeliveryRow[]> {
  const res = await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}/deliveries?limit=100${status ? `&status=${status}` : ''}`, headers: bearer(acme.adminToken) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().deliveries;
}

const at = (path: string) => (r: Received) => r.path === path;
const bodyOf = (r: Received): DeliveryBody => JSON.parse(r.body);

/** The operational events of `type` the admin's subscription got so far, each checked (schema and signature). */
function operational(type: string): DeliveryBody[] {
  // Signed when it was sent, by the moved clock: checked at the time it arrived, by the same clock.
  return receiver.received.filter(at('/ops')).map((r) => expectValidDelivery(r, catalog, ops.secret, r.at)).filter((b) => b.type === type);
}

async function waitForOperational(type: string, match: (body: DeliveryBody) => boolean): Promise<DeliveryBody> {
  const found = await until(() => operational(type).find(match), Boolean, { timeoutMs: 10_000, intervalMs: 20 });
  expect(found, `a ${type} event`).toBeDefined();
  return found!;
}

const admin = (method: 'POST' | 'DELETE', url: string, payload?: object) => h.request({ method, url, headers: bearer(acme.adminToken), ...(payload ? { payload } : {}) });

async function auditActions(action: string, targetId: string) {
  const res = await h.request({ method: 'GET', url: `/v1/platform/audit-events?action=${action}&target_id=${targetId}`, headers: bearer(acme.adminToken) });
  return res.json().events;
}

describe('an app suspended and resumed', () => {
  it('holds its deliveries, test sends included, without attempting them, and sends them in order on resume with their webhook-id', async () => {
    const app = await partner(h, acme, [], PARTNER_SCOPES);
    const sub = await subscribe(await tokenOf(app), '/held');
    const suspended = await admin('POST', `/v1/platform/apps/${app.clientId}/suspend`, { reason: 'offboarding review' });
    expect(suspended.statusCode).toBe(200);
    const held = await waitForOperational('webhook.deliveries.held', (b) => b.data.client_id === app.clientId);
    expect(held.data).toEqual({ client_id: app.clientId, webhook_ids: [sub.id], reason: 'app_suspended', held_since: expect.any(String) });
    expect(await auditActions('webhook.deliveries_held', app.clientId)).toHaveLength(1);

    for (const title of ['first', 'second', 'third']) await createIncident(title);
    const test = await admin('POST', `/v1/webhooks/${sub.id}/test`);
    expect(test.statusCode).toBe(202);
    await expect.poll(async () => (await deliveries(sub.id, 'held')).length, { timeout: 10_000 }).toBe(4);
    const heldRows = (await deliveries(sub.id)).reverse(); // oldest first
    expect(heldRows.map((d) => [d.status, d.attempts])).toEqual(Array(4).fill(['held', 0]));
    expect(receiver.received.filter(at('/held'))).toEqual([]);
    const view = await h.request({ method: 'GET', url: `/v1/webhooks/${sub.id}`, headers: bearer(acme.adminToken) });
    expect(view.json()).toMatchObject({ enabled: true, held_since: expect.any(String) });

    const resumed = await admin('POST', `/v1/platform/apps/${app.clientId}/resume`);
    expect(resumed.statusCode).toBe(200);
    const sent = await receiver.waitFor(4, at('/held'));
    // In the order they were held, each with its own event id as webhook-id, signed with the subscription's secret.
    expect(sent.map((r) => r.headers['webhook-id'])).toEqual(heldRows.map((d) => d.event_id));
    expect(sent.map((r) => expectValidDelivery(r, catalog, sub.secret, r.at).type)).toEqual(['incident.created', 'incident.created', 'incident.created', 'webhook.test']);
    expect(sent.slice(0, 3).map((r) => (bodyOf(r).data.incident as { title: string }).title)).toEqual(['first', 'second', 'third']);
    await expect.poll(async () => (await deliveries(sub.id)).map((d) => d.status), { timeout: 10_000 }).toEqual(Array(4).fill('succeeded'));
    const released = await waitForOperational('webhook.deliveries.released', (b) => b.data.client_id === app.clientId);
    expect(released.data).toEqual({ client_id: app.clientId, webhook_ids: [sub.id], released: 4, released_at: expect.any(String) });
    expect(await auditActions('webhook.deliveries_released', app.clientId)).toHaveLength(1);
    expect((await h.request({ method: 'GET', url: `/v1/webhooks/${sub.id}`, headers: bearer(acme.adminToken) })).json().held_since).toBeNull();
  });

  it('does not count the suspension toward auto-disable: a receiver failing before it has its run of failures start afresh', async () => {
    const app = await partner(h, acme, [], PARTNER_SCOPES);
    const sub = await subscribe(await tokenOf(app), '/flaky');
    receiver.respond = (r) => ({ status: r.path === '/flaky' ? 500 : 204 });
    await createIncident('fails once');
    await expect.poll(async () => (await deliveries(sub.id))[0]?.status, { timeout: 10_000 }).toBe('retrying');

    expect((await admin('POST', `/v1/platform/apps/${app.clientId}/suspend`)).statusCode).toBe(200);
    // Six days suspended: more than WEBHOOK_DISABLE_AFTER (5 days) since the receiver began failing. The retry due
    // meanwhile is held, not attempted.
    await h.clock.advance(6 * 86_400_000);
    await expect.poll(async () => (await deliveries(sub.id))[0]?.status, { timeout: 10_000 }).toBe('held');
    expect(receiver.received.filter(at('/flaky'))).toHaveLength(1);

    expect((await admin('POST', `/v1/platform/apps/${app.clientId}/resume`)).statusCode).toBe(200);
    await receiver.waitFor(2, at('/flaky'));
    await expect.poll(async () => (await deliveries(sub.id))[0]?.status, { timeout: 10_000 }).toBe('retrying');
    const view = await h.request({ method: 'GET', url: `/v1/webhooks/${sub.id}`, headers: bearer(acme.adminToken) });
    expect(view.json()).toMatchObject({ enabled: true, disabled_reason: null });
  });

  it('cancels its pending deliveries when it is deleted, and sends nothing of them', async () => {
    const app = await partner(h, acme, [], PARTNER_SCOPES);
    const sub = await subscribe(await tokenOf(app), '/gone-app');
    // A tenant admin's subscription to the same events: when it has its delivery, the app's would have had it too.
    const witness = await subscribe(acme.adminToken, '/witness');
    expect((await admin('POST', `/v1/platform/apps/${app.clientId}/suspend`)).statusCode).toBe(200);
    await createIncident('pending while suspended');
    await expect.poll(async () => (await deliveries(sub.id, 'held')).length, { timeout: 10_000 }).toBe(1);

    expect((await admin('DELETE', `/v1/platform/apps/${app.clientId}`)).statusCode).toBe(204);
    const [{ n }] = await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from webhook_deliveries where webhook_id = ?', [sub.id]);
    expect(n).toBe(0);
    expect((await h.request({ method: 'GET', url: `/v1/webhooks/${sub.id}`, headers: bearer(acme.adminToken) })).statusCode).toBe(404);
    await createIncident('after the deletion');
    await receiver.waitFor(2, at('/witness'));
    expect(receiver.received.filter(at('/gone-app'))).toEqual([]);
    expect((await admin('DELETE', `/v1/webhooks/${witness.id}`)).statusCode).toBe(204);
  });
});

describe('POST /v1/webhooks/{webhook_id}/recover', () => {
  it('resends exactly the failed and retrying deliveries of the window, once each, with their webhook-id, and tells when it is done', async () => {
    const app = await partner(h, acme, [], PARTNER_SCOPES);
    const sub = await subscribe(await tokenOf(app), '/down');
    receiver.respond = (r) => ({ status: r.path === '/down' ? 503 : 204 });

    // Before the window: one that fails for good (the schedule run to its end).
    await createIncident('before the window');
    await expect.poll(async () => (await deliveries(sub.id))[0]?.status, { timeout: 10_000 }).toBe('retrying');
    // Retries are an hour apart, give or take 10 % (jitter): each move covers one, once the failure before it has
    // been recorded (and so its retry queued).
    const attempts = async () => (await deliveries(sub.id)).reduce((n, d) => n + d.attempts, 0);
    for (let retry = 0; retry < 3; retry++) {
      await h.clock.advance(RETRY_MS);
      await expect.poll(attempts, { timeout: 10_000 }).toBe(retry + 2);
    }
    await expect.poll(async () => (await deliveries(sub.id))[0]?.status, { timeout: 10_000 }).toBe('failed');

    await h.clock.advance(3600_000);
    const since = new Date(h.clock.now()).toISOString();
    // In the window: two that failed for good, one still retrying, one that got through.
    const inWindow = [await createIncident('down 1'), await createIncident('down 2')];
    await expect.poll(async () => (await deliveries(sub.id, 'retrying')).length, { timeout: 10_000 }).toBe(2);
    await expect.poll(attempts, { timeout: 10_000 }).toBe(6);
    for (let retry = 0; retry < 3; retry++) {
      await h.clock.advance(RETRY_MS);
      await expect.poll(attempts, { timeout: 10_000 }).toBe(6 + 2 * (retry + 1));
    }
    await expect.poll(async () => (await deliveries(sub.id, 'failed')).length, { timeout: 10_000 }).toBe(3);
    inWindow.push(await createIncident('down 3'));
    await expect.poll(async () => (await deliveries(sub.id, 'retrying')).length, { timeout: 10_000 }).toBe(1);
    receiver.respond = () => ({ status: 204 });
    await h.request({ method: 'POST', url: `/v1/webhooks/${sub.id}/test`, headers: bearer(acme.adminToken) });
    await expect.poll(async () => (await deliveries(sub.id, 'succeeded')).length, { timeout: 10_000 }).toBe(1);
    const until_ = new Date(h.clock.now() + 1000).toISOString();

    const rows = await deliveries(sub.id);
    // Newest first: the test send (succeeded), down 3 (retrying), down 2 and down 1 (failed), the one before (failed).
    expect(rows.map((d) => d.status)).toEqual(['succeeded', 'retrying', 'failed', 'failed', 'failed']);
    const expected = rows.slice(1, 4);
    const before = receiver.received.filter(at('/down')).length;
    const recovered = await h.request({ method: 'POST', url: `/v1/webhooks/${sub.id}/recover`, headers: bearer(await tokenOf(app)), payload: { since, until: until_ } });
    expect(recovered.statusCode, recovered.body).toBe(202);
    expect(recovered.json()).toEqual({
      recovery_id: expect.stringMatching(/^rcv_/),
      webhook_id: sub.id,
      since: since.replace(/\.\d{3}Z$/, 'Z'),
      until: until_.replace(/\.\d{3}Z$/, 'Z'),
      deliveries: 3,
      status: 'in_progress',
      next_since: null,
    });
    expect(expected).toHaveLength(3);
    const resent = await receiver.waitFor(before + 3, at('/down'));
    const ids = resent.slice(before).map((r) => r.headers['webhook-id']).sort();
    expect(ids).toEqual(expected.map((d) => d.event_id).sort());
    expect(resent.slice(before).map((r) => (bodyOf(r).data.incident as { id: string }).id).sort()).toEqual([...inWindow].sort());

    const recoveryId = recovered.json().recovery_id;
    const done = await waitForOperational('webhook.recover.completed', (b) => b.data.recovery_id === recoveryId);
    expect(done.data).toEqual({ recovery_id: recoveryId, webhook_id: sub.id, since: expect.any(String), until: expect.any(String), deliveries: 3, succeeded: 3, failed: 0, completed_at: expect.any(String) });
    const progress = await h.request({ method: 'GET', url: `/v1/webhooks/${sub.id}/recoveries/${recoveryId}`, headers: bearer(acme.adminToken) });
    expect(progress.json()).toMatchObject({ id: recoveryId, deliveries: 3, remaining: 0, succeeded: 3, failed: 0, status: 'completed' });
    expect((await auditActions('webhook.recover_requested', sub.id))[0].details).toMatchObject({ recovery_id: recoveryId, deliveries: 3 });
    expect((await auditActions('webhook.recover_completed', sub.id))[0].details).toMatchObject({ recovery_id: recoveryId, succeeded: 3 });

    // Once each: the retry that was due for the one still retrying finds it delivered, and sends nothing.
    await h.clock.advance(3 * 3600_000);
    await createIncident('a barrier');
    await receiver.waitFor(before + 4, at('/down'));
    expect(receiver.received.filter(at('/down')).slice(before + 3).map((r) => (bodyOf(r).data.incident as { title: string }).title)).toEqual(['a barrier']);
    expect((await deliveries(sub.id)).filter((d) => d.status !== 'succeeded').map((d) => d.event_id)).toEqual([rows[rows.length - 1]!.event_id]);
  });

  it('is bounded: a window of at most 14 days, after since, on an enabled webhook the caller may change', async () => {
    const app = await partner(h, acme, [], PARTNER_SCOPES);
    const token = await tokenOf(app);
    const sub = await subscribe(token, '/bounds');
    const recover = (payload: unknown, as = token, id = sub.id) => h.request({ method: 'POST', url: `/v1/webhooks/${id}/recover`, headers: bearer(as), payload: payload as object });
    const now = h.clock.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const cases: Array<[unknown, number, object]> = [
      [{}, 400, { error: 'invalid_request', error_description: 'body.since is required' }],
      [{ since: 'yesterday' }, 400, { error: 'invalid_request', error_description: 'body.since must match format "date-time"' }],
      [{ since: iso(now), until: iso(now - 1000) }, 400, { error: 'invalid_request', error_description: 'body.until must be after since' }],
      [{ since: iso(now - 15 * 86_400_000) }, 400, { error: 'invalid_request', error_description: 'body.since must be at most 14 days before until (default: now)' }],
      [{ since: iso(now - 1000), extra: 1 }, 400, { error: 'invalid_request' }],
    ];
    for (const [payload, status, body] of cases) {
      const res = await recover(payload);
      expect({ payload, status: res.statusCode, body: res.json() }).toMatchObject({ payload, status, body });
    }
    const readOnly = await tokenOf(app, 'webhooks:read');
    expect((await recover({ since: iso(now - 1000) }, readOnly)).json()).toEqual({ error: 'forbidden', error_description: 'this action needs the scope webhooks:write' });
    const other = await partner(h, acme, [], PARTNER_SCOPES);
    expect((await recover({ since: iso(now - 1000) }, await tokenOf(other))).json()).toEqual({ error: 'not_found', error_description: `no webhook ${sub.id}` });
    await h.request({ method: 'PUT', url: `/v1/webhooks/${sub.id}`, headers: bearer(token), payload: { enabled: false } });
    expect((await recover({ since: iso(now - 1000) })).json()).toEqual({
      error: 'conflict',
      error_description: `webhook ${sub.id} is disabled; enable it (PUT {"enabled": true}) before recovering its deliveries`,
    });
    // Nothing to resend: completed at once, and said so.
    await h.request({ method: 'PUT', url: `/v1/webhooks/${sub.id}`, headers: bearer(token), payload: { enabled: true } });
    const empty = await recover({ since: iso(now - 14 * 86_400_000), until: iso(now) });
    expect(empty.statusCode).toBe(202);
    expect(empty.json()).toMatchObject({ deliveries: 0, status: 'completed', next_since: null });
    await waitForOperational('webhook.recover.completed', (b) => b.data.recovery_id === empty.json().recovery_id);
  });

  it('resends at most 1000 deliveries a request, and says where the next request starts', async () => {
    const sub = await subscribe(acme.adminToken, '/bulk');
    const base = h.clock.now() - 3600_000;
    // 1001 failed deliveries, a second apart, written as the engine leaves them.
    await h.runtime.orm.em.fork().getConnection().execute(
      `insert into webhook_deliveries (id, tenant_id, webhook_id, event_id, event_type, body, status, attempts, created_at, updated_at, error)
       select 'dlv_bulk_' || n, ?, ?, 'evt_bulk_' || n, 'incident.created', '{}', 'failed', 4, to_timestamp(? / 1000.0 + n), now(), 'the endpoint answered 500'
       from generate_series(0, 1000) as n`,
      [acme.tenantId, sub.id, base],
    );
    const res = await h.request({ method: 'POST', url: `/v1/webhooks/${sub.id}/recover`, headers: bearer(acme.adminToken), payload: { since: new Date(base - 1000).toISOString() } });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toMatchObject({ deliveries: 1000, status: 'in_progress', next_since: new Date(base + 1000_000).toISOString().replace(/\.\d{3}Z$/, 'Z') });
    const recoveryId = res.json().recovery_id;
    await receiver.waitFor(1000, at('/bulk'), 60_000);
    await expect
      .poll(async () => (await h.request({ method: 'GET', url: `/v1/webhooks/${sub.id}/recoveries/${recoveryId}`, headers: bearer(acme.adminToken) })).json(), { timeout: 30_000, interval: 200 })
      .toMatchObject({ status: 'completed', remaining: 0, succeeded: 1000, failed: 0 });
    const webhookIds = new Set(receiver.received.filter(at('/bulk')).map((r) => r.headers['webhook-id']));
    expect(webhookIds.size).toBe(1000);
    expect(webhookIds.has('evt_bulk_1000')).toBe(false);
    expect((await admin('DELETE', `/v1/webhooks/${sub.id}`)).statusCode).toBe(204);
  }, 90_000);

  it('is one of the incident-webhooks bundle\'s persisted operations', async () => {
    const app = await partner(h, acme, ['incident-webhooks'], PARTNER_SCOPES);
    const token = await tokenOf(app);
    const sub = await subscribe(token, '/graphql-recover');
    const since = new Date(h.clock.now() - 86_400_000).toISOString();
    const res = await gql(h, { token }, acme.tenantId, { documentId: RECOVER, variables: { id: sub.id, since } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().data.recoverWebhook).toEqual({ recoveryId: expect.stringMatching(/^rcv_/), deliveries: 0, nextSince: null, userErrors: [], __typename: 'RecoverWebhookPayload' });
    const wide = await gql(h, { token }, acme.tenantId, { documentId: RECOVER, variables: { id: sub.id, since: new Date(h.clock.now() - 30 * 86_400_000).toISOString() } });
    expect(wide.json().data.recoverWebhook).toMatchObject({ recoveryId: null, userErrors: [{ field: 'since', code: 'INVALID', message: 'since must be at most 14 days before until (default: now)' }] });
  });
});

describe('a subscription disabled by its receiver', () => {
  it('is told to the tenant admin\'s subscription as webhook.endpoint.disabled, and audited', async () => {
    const app = await partner(h, acme, [], PARTNER_SCOPES);
    const sub = await subscribe(await tokenOf(app), '/gone');
    receiver.respond = (r) => ({ status: r.path === '/gone' ? 410 : 204 });
    await createIncident('to a receiver that is gone');
    const disabled = await waitForOperational('webhook.endpoint.disabled', (b) => b.data.webhook_id === sub.id);
    expect(disabled.data).toEqual({ webhook_id: sub.id, owner_client_id: app.clientId, reason: 'the endpoint answered 410 Gone', disabled_at: expect.any(String) });
    expect(await auditActions('webhook.disabled', sub.id)).toHaveLength(1);
  });
});

describe('a subscription\'s rate_limit', () => {
  it('is set, shown and changed through REST, within bounds', async () => {
    const sub = await subscribe(acme.adminToken, '/limits', { rate_limit: 5 });
    const get = async () => (await h.request({ method: 'GET', url: `/v1/webhooks/${sub.id}`, headers: bearer(acme.adminToken) })).json().rate_limit;
    expect(await get()).toBe(5);
    const put = (rate: unknown) => h.request({ method: 'PUT', url: `/v1/webhooks/${sub.id}`, headers: bearer(acme.adminToken), payload: { rate_limit: rate } });
    expect((await put(0)).json()).toEqual({ error: 'invalid_request', error_description: 'body.rate_limit must be >= 1' });
    expect((await put(1001)).statusCode).toBe(400);
    expect((await put('10')).statusCode).toBe(400);
    expect((await put(null)).statusCode).toBe(200);
    expect(await get()).toBeNull();
    expect((await admin('DELETE', `/v1/webhooks/${sub.id}`)).statusCode).toBe(204);
  });

  it('holds a receiver to its rate within 10 %, with two worker processes sharing the deliveries', async () => {
    const rate = 10;
    const count = 40;
    const paced = await new Receiver().start(); // arrivals by the real clock: the throttle paces real time
    const second = await startRuntime(h.config, { embeddedMode: 'own', background: true, worker: true, clock: h.clock });
    const secondApp = await buildApp(h.config, second);
    try {
      const res = await h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(acme.adminToken), payload: { url: `${paced.url}/paced`, events: ['incident.created'], rate_limit: rate } });
      expect(res.statusCode, res.body).toBe(201);
      const token = await tokenOf(sync, 'incidents:write');
      // An incident storm: every change at once, half through each api.
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          (i % 2 ? secondApp.inject.bind(secondApp) : h.request)({
            method: 'POST',
            url: '/graphql',
            headers: { ...bearer(token), 'content-type': 'application/json', 'x-tenant-id': acme.tenantId },
            payload: { documentId: CREATE, variables: { input: { title: `storm ${i}`, severity: 'SEV2' } } },
          }),
        ),
      );
      const arrived = (await paced.waitFor(count, () => true, 30_000)).map((r) => r.at).sort((a, b) => a - b);
      expect(new Set(paced.received.map((r) => r.headers['webhook-id'])).size).toBe(count);
      // The whole run, and every two-second window of it, within 10 % of the rate (a window of two seconds, so that a
      // timer this busy test machine fires a little late does not count as a burst).
      const span = (arrived[count - 1]! - arrived[0]!) / 1000;
      expect((count - 1) / span).toBeLessThanOrEqual(rate * 1.1);
      const busiest = Math.max(...arrived.map((start) => arrived.filter((t) => t >= start && t < start + 2000).length));
      expect(busiest).toBeLessThanOrEqual(2 * rate * 1.1);
      await h.request({ method: 'DELETE', url: `/v1/webhooks/${res.json().id}`, headers: bearer(acme.adminToken) });
    } finally {
      await secondApp.close();
      await second.close();
      await paced.stop();
    }
  }, 60_000);
});
