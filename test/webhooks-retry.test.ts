// Retries and their ends: a receiver's Retry-After (429, 503) within bounds, a schedule run to the end, and the
// auto-disable after 5 days of failures, with its audit event, no deliveries while disabled, and re-enabling.
// Time is moved, never waited for: the harness's clock jumps, and the retry jobs the queue holds jump with it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gql, operationId, type Partner } from './helpers/graphql.js';
import { bearer, tokenRequest, type Harness, type TenantFixture } from './helpers/harness.js';
import { until } from './helpers/poll.js';
import type { Receiver, Received } from './helpers/receiver.js';
import { startWebhookFixture } from './helpers/webhooks.js';

let h: Harness;
let acme: TenantFixture;
let sync: Partner;
let receiver: Receiver;

const CREATE = operationId('incident-sync', 'CreateIncident');

beforeAll(async () => {
  ({ h, acme, sync, receiver } = await startWebhookFixture(2));
});
afterAll(async () => {
  await receiver?.stop();
  await h?.close();
});
beforeEach(() => {
  receiver.respond = () => ({ status: 204 });
});

async function subscribe(path: string): Promise<string> {
  const res = await h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(acme.adminToken), payload: { url: `${receiver.url}${path}`, events: ['incident.created'] } });
  expect(res.statusCode).toBe(201);
  return res.json().id;
}

/** Created by the partner, with a token it gets just before (the clock here may have moved past older ones). */
async function createIncident(title: string): Promise<string> {
  const token = await tokenRequest(h, { grant_type: 'client_credentials', scope: 'incidents:write' }, { id: sync.clientId, secret: sync.secret });
  const res = await gql(h, { token: token.json().access_token }, acme.tenantId, { documentId: `sha256:${CREATE}`, variables: { input: { title, severity: 'SEV3' } } });
  expect(res.statusCode).toBe(200);
  return res.json().data.createIncident.incident.id;
}

type DeliveryView = { id: string; status: string; attempts: number; attempted_at: string | null; next_attempt_at: string | null; response_status: number | null; error: string | null };

async function deliveries(webhookId: string): Promise<DeliveryView[]> {
  const res = await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}/deliveries?limit=100`, headers: bearer(acme.adminToken) });
  expect(res.statusCode).toBe(200);
  return res.json().deliveries;
}

async function webhook(webhookId: string) {
  return (await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}`, headers: bearer(acme.adminToken) })).json();
}

async function failingSince(webhookId: string): Promise<Date | null> {
  const [row] = await h.runtime.orm.em.fork().getConnection().execute('select failing_since from webhook_subscriptions where id = ?', [webhookId]);
  return row.failing_since ? new Date(row.failing_since) : null;
}

/** The time between two arrivals, by the harness's clock: it includes the time the test moved. */
const gap = (requests: Received[], i: number) => requests[i]!.at - requests[i - 1]!.at;

/**
 * The wait the service chose after the latest failed attempt (the `attempts`-th), to the millisecond
 * (next_attempt_at minus the attempt's start, read while the delivery is `retrying`); the REST view rounds to
 * seconds.
 */
async function chosenWait(webhookId: string, attempts = 1): Promise<number> {
  const connection = h.runtime.orm.em.fork().getConnection();
  const [row] = await until(
    () => connection.execute(`select status, attempts, last_attempt_at, next_attempt_at from webhook_deliveries where webhook_id = ?`, [webhookId]),
    ([found]) => found?.status === 'retrying' && found.attempts === attempts,
  );
  if (row?.status !== 'retrying' || row.attempts !== attempts) throw new Error(`no delivery of ${webhookId} was retrying after attempt ${attempts} within 10 s`);
  return new Date(row.next_attempt_at).getTime() - new Date(row.last_attempt_at).getTime();
}

/**
 * Moves time to 300 ms before the retry is due: the retry must still wait those, so the receiver sees it no
 * sooner than the wait chosen (the worker looks for due jobs every 100 ms here).
 */
const untilJustBefore = (wait: number) => h.clock.advance(Math.max(0, wait - 300));

/** Jobs the queue holds for a delivery (its next retry, a redelivery, a test send) that no worker runs yet. */
async function pendingJobsFor(deliveryId: string): Promise<number> {
  const [{ n }] = await h.runtime.orm.em
    .fork()
    .getConnection()
    .execute(`select count(*)::int as n from graphile_worker._private_jobs where key = ? and locked_at is null`, [deliveryId]);
  return n;
}

describe('Retry-After', () => {
  it('waits as long as a 429 asks (Retry-After: 2) rather than the 1 s schedule', async () => {
    const webhookId = await subscribe('/busy');
    let calls = 0;
    receiver.respond = (r) => (r.path === '/busy' && ++calls === 1 ? { status: 429, headers: { 'retry-after': '2' }, body: 'slow down' } : { status: 204 });
    const incident = await createIncident('Rate limited receiver');
    // The schedule alone says 1 s (900 to 1100 ms with jitter); the receiver asked for 2 s.
    const wait = await chosenWait(webhookId);
    expect(wait).toBeGreaterThanOrEqual(2000);
    expect(wait).toBeLessThan(2500);
    await untilJustBefore(wait);
    const requests = await receiver.waitFor(2, (r) => r.path === '/busy' && r.body.includes(incident));
    expect(requests[1]!.headers['webhook-id']).toBe(requests[0]!.headers['webhook-id']);
    expect(gap(requests, 1)).toBeGreaterThanOrEqual(1950); // and it did not come back sooner
    await expect.poll(async () => (await deliveries(webhookId))[0]?.status).toBe('succeeded');
  });

  it('waits as long as a 503 asks with an HTTP-date Retry-After', async () => {
    const webhookId = await subscribe('/maintenance');
    let calls = 0;
    let asked = 0;
    receiver.respond = (r) => {
      if (r.path !== '/maintenance' || ++calls > 1) return { status: 204 };
      const back = new Date(h.clock.now() + 3000);
      asked = Math.floor(back.getTime() / 1000) * 1000; // an HTTP-date has 1 s resolution
      return { status: 503, headers: { 'retry-after': back.toUTCString() } };
    };
    const incident = await createIncident('Receiver in maintenance');
    const wait = await chosenWait(webhookId);
    expect(wait).toBeGreaterThanOrEqual(1900); // 2 to 3 s from when it was asked
    expect(wait).toBeLessThan(3200);
    await untilJustBefore(wait);
    const requests = await receiver.waitFor(2, (r) => r.path === '/maintenance' && r.body.includes(incident));
    expect(requests[1]!.at).toBeGreaterThanOrEqual(asked - 50);
  });

  it('records the wait it chose, and does not let a receiver park a delivery for a day', async () => {
    const webhookId = await subscribe('/park');
    receiver.respond = (r) => (r.path === '/park' ? { status: 429, headers: { 'retry-after': '86400' } } : { status: 204 });
    await createIncident('Receiver asks for a day');
    const wait = await chosenWait(webhookId);
    expect(wait).toBeGreaterThanOrEqual(1000); // at least the 1 s floor
    expect(wait).toBeLessThan(86_400_000); // bounded: the receiver cannot park it for the day it asked for
    const [delivery] = await deliveries(webhookId);
    expect(delivery).toMatchObject({ attempts: 1, response_status: 429, error: 'the endpoint answered 429', next_attempt_at: expect.stringMatching(/Z$/) });
    receiver.respond = () => ({ status: 204 });
  });

  it('ignores Retry-After on other statuses (a 500 follows the schedule)', async () => {
    const webhookId = await subscribe('/broken');
    let calls = 0;
    receiver.respond = (r) => (r.path === '/broken' && ++calls === 1 ? { status: 500, headers: { 'retry-after': '5' } } : { status: 204 });
    const incident = await createIncident('Broken receiver with Retry-After');
    const wait = await chosenWait(webhookId);
    expect(wait).toBeGreaterThanOrEqual(850); // 1 s ± 10% jitter
    expect(wait).toBeLessThan(1300);
    await untilJustBefore(wait);
    const requests = await receiver.waitFor(2, (r) => r.path === '/broken' && r.body.includes(incident));
    expect(gap(requests, 1)).toBeLessThan(4000);
  });
});

describe('the end of the schedule', () => {
  it('marks a delivery failed, with no next attempt, after the first try and every scheduled retry', async () => {
    const webhookId = await subscribe('/down');
    receiver.respond = (r) => (r.path === '/down' ? { status: 500, body: 'down' } : { status: 204 });
    const incident = await createIncident('Receiver stays down');
    // Each of the 3 retries of '1,1,1' is due a second (± 10 %) after the attempt before it.
    for (let attempt = 1; attempt <= 3; attempt++) await h.clock.advance(await chosenWait(webhookId, attempt));
    await expect.poll(async () => (await deliveries(webhookId))[0]?.status).toBe('failed');
    const [delivery] = await deliveries(webhookId);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 4, next_attempt_at: null, response_status: 500, error: 'the endpoint answered 500' });
    const requests = receiver.received.filter((r) => r.path === '/down' && r.body.includes(incident));
    expect(requests).toHaveLength(4); // 1 + the 3 retries of '1,1,1'
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    const detail = (await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}/deliveries/${delivery!.id}`, headers: bearer(acme.adminToken) })).json();
    expect(detail.attempt_history.map((a: { number: number }) => a.number)).toEqual([1, 2, 3, 4]);
    // No fifth attempt comes: the queue holds nothing more for it, however much time passes.
    expect(await pendingJobsFor(delivery!.id)).toBe(0);
    await h.clock.advance(3600_000);
    expect(await pendingJobsFor(delivery!.id)).toBe(0);
    expect(receiver.received.filter((r) => r.path === '/down' && r.body.includes(incident))).toHaveLength(4);
    // One failed delivery alone does not disable the subscription.
    expect((await webhook(webhookId)).enabled).toBe(true);
  });
});

describe('failing_since and the 5-day auto-disable', () => {
  it('a success clears failing_since', async () => {
    const webhookId = await subscribe('/recovers');
    let calls = 0;
    receiver.respond = (r) => (r.path === '/recovers' ? (++calls === 1 ? { status: 500 } : { status: 200 }) : { status: 204 });
    const started = new Date(h.clock.now());
    await createIncident('Receiver recovers');
    const wait = await chosenWait(webhookId); // the first attempt failed; the retry is a second away
    // The failure started a run of failures...
    const since = await failingSince(webhookId);
    expect(since).not.toBeNull();
    expect(since!.getTime()).toBeGreaterThanOrEqual(started.getTime() - 1000);
    // ...which the successful retry ends.
    await h.clock.advance(wait);
    await expect.poll(async () => (await deliveries(webhookId))[0]?.status, { timeout: 10_000 }).toBe('succeeded');
    expect(await failingSince(webhookId)).toBeNull();
  });

  it('disables after 5 days of failures with a reason and an audit event, delivers nothing while disabled, and can be re-enabled', async () => {
    const webhookId = await subscribe('/dead');
    receiver.respond = (r) => (r.path === '/dead' ? { status: 500 } : { status: 204 });
    await createIncident('Receiver dead for days');
    await chosenWait(webhookId); // the first attempt failed and set failing_since
    const since = await failingSince(webhookId);
    expect(since).not.toBeNull();

    // Six days of failures pass: the retry comes, and fails once more.
    await h.clock.advance(6 * 86_400_000);

    // That failure disables the subscription and ends the delivery.
    await expect.poll(async () => (await webhook(webhookId)).enabled, { timeout: 10_000 }).toBe(false);
    const disabled = await webhook(webhookId);
    expect(disabled.disabled_reason).toBe('every delivery failed for 5 day(s)');
    await expect.poll(async () => (await deliveries(webhookId))[0]?.status).toBe('failed');
    expect((await deliveries(webhookId))[0]).toMatchObject({ status: 'failed', attempts: 2, next_attempt_at: null });

    const audit = await h.request({ method: 'GET', url: '/v1/platform/audit-events?action=webhook.disabled', headers: bearer(acme.adminToken) });
    expect(audit.statusCode).toBe(200);
    const events = audit.json().events.filter((e: { target_id: string }) => e.target_id === webhookId);
    expect(events).toEqual([
      expect.objectContaining({ actor: 'system', action: 'webhook.disabled', target_type: 'webhook', target_id: webhookId, details: { reason: 'every delivery failed for 5 day(s)' } }),
    ]);

    // Disabled: a new event gets no delivery (the event's statement wrote none), so nothing can be sent.
    const before = receiver.received.filter((r) => r.path === '/dead').length;
    const [onlyDelivery] = await deliveries(webhookId);
    const quiet = await createIncident('While disabled');
    expect((await deliveries(webhookId)).map((d) => d.id)).toEqual([onlyDelivery!.id]);
    expect(await pendingJobsFor(onlyDelivery!.id)).toBe(0);
    expect(receiver.received.filter((r) => r.path === '/dead')).toHaveLength(before);
    expect(receiver.received.some((r) => r.path === '/dead' && r.body.includes(quiet))).toBe(false);

    // Re-enabled by its owner: the reason and the run of failures are cleared, deliveries resume.
    receiver.respond = () => ({ status: 204 });
    const put = await h.request({ method: 'PUT', url: `/v1/webhooks/${webhookId}`, headers: bearer(acme.adminToken), payload: { enabled: true } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ id: webhookId, enabled: true, disabled_reason: null });
    expect(await failingSince(webhookId)).toBeNull();
    const revived = await createIncident('After re-enabling');
    await receiver.waitFor(1, (r) => r.path === '/dead' && r.body.includes(revived));
    await expect.poll(async () => (await deliveries(webhookId))[0]?.status).toBe('succeeded');
    expect(await deliveries(webhookId)).toHaveLength(2);
    expect((await webhook(webhookId)).enabled).toBe(true);
  });
});

describe('fan-out', () => {
  it('sends an event to every subscription with one webhook-id, and a dispatch run again resends nothing already attempted', async () => {
    receiver.respond = (request) => ({ status: request.path === '/fan/b' ? 500 : 204 });
    const paths = ['/fan/a', '/fan/b', '/fan/c'];
    const webhookIds = await Promise.all(paths.map(subscribe));
    await createIncident('Fan-out');

    const first = await receiver.waitFor(3, (r) => paths.includes(r.path));
    expect(new Set(first.map((r) => r.headers['webhook-id'])).size).toBe(1);
    await expect.poll(async () => Promise.all(webhookIds.map(async (id) => (await deliveries(id))[0]?.attempts ?? 0))).toEqual([1, 1, 1]);
    const views = await Promise.all(webhookIds.map(async (id) => (await deliveries(id))[0]!));
    expect(views.map((v) => v.status)).toEqual(['succeeded', expect.stringMatching(/^(retrying|failed)$/), 'succeeded']);

    // The event's dispatch job running again (as after a crash once it had recorded its outcomes)
    // attempts nothing: the successes are done and the failure belongs to its own retry job.
    expect(await h.runtime.services.deliveries.dispatch(views.map((v) => v.id))).toEqual([]);
    expect(receiver.received.filter((r) => r.path === '/fan/a' || r.path === '/fan/c')).toHaveLength(2);

    for (const id of webhookIds) {
      expect((await h.request({ method: 'DELETE', url: `/v1/webhooks/${id}`, headers: bearer(acme.adminToken) })).statusCode).toBe(204);
    }
  });
});
