// Outbound webhooks against a real receiver on 127.0.0.1: signatures (standardwebhooks), retries,
// 410, timeouts, test sends, redelivery, history, pagination, scopes and tenant isolation.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bearer, type Harness, type TenantFixture } from './helpers/harness.js';
import { gql, operationId, partner, type Partner } from './helpers/graphql.js';
import type { Receiver } from './helpers/receiver.js';
import { startWebhookFixture } from './helpers/webhooks.js';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;
let receiver: Receiver;
let sync: Partner;

const CREATE = operationId('incident-sync', 'CreateIncident');

beforeAll(async () => {
  ({ h, acme, sync, receiver } = await startWebhookFixture(1));
  globex = await h.tenant('globex');
});
afterAll(async () => {
  await receiver?.stop();
  await h?.close();
});
beforeEach(() => {
  receiver.respond = () => ({ status: 204 });
});

async function subscribe(token: string, body: Record<string, unknown>) {
  return h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(token), payload: body });
}

async function createIncident(title: string) {
  const res = await gql(h, sync, acme.tenantId, { documentId: `sha256:${CREATE}`, variables: { input: { title, severity: 'SEV2' } } });
  return res.json().data.createIncident.incident as { id: string };
}

async function deliveriesOf(webhookId: string, token = acme.adminToken, query = '') {
  return (await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}/deliveries${query}`, headers: bearer(token) })).json();
}

describe('subscriptions', () => {
  it('creates a subscription with a generated whsec_ secret shown once', async () => {
    const res = await subscribe(acme.adminToken, { url: `${receiver.url}/hooks/a`, events: ['incident.created'] });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({ id: expect.stringMatching(/^wh_/), url: `${receiver.url}/hooks/a`, events: ['incident.created'], enabled: true, disabled_reason: null });
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const again = await h.request({ method: 'GET', url: `/v1/webhooks/${body.id}`, headers: bearer(acme.adminToken) });
    expect(again.json()).not.toHaveProperty('secret');
    expect(again.body).not.toContain(body.secret.slice(6));
    const stored = await h.runtime.orm.em.fork().getConnection().execute('select secret_sealed from webhook_subscriptions where id = ?', [body.id]);
    expect(stored[0].secret_sealed).not.toContain(body.secret.slice(6));
  });

  it.each([
    [{ url: 'https://integrator.example/hook', events: ['incident.exploded'] }, 400, 'body.events names unknown events: incident.exploded (known: incident.created, incident.updated, incident.closed, webhook.endpoint.disabled, webhook.deliveries.held, webhook.deliveries.released, webhook.recover.completed, integration_request.decided)'],
    [{ url: 'http://integrator.example/hook', events: ['incident.created'] }, 400, 'body.url must use https; http is not allowed for integrator.example'],
    [{ url: 'https://user:pw@integrator.example/hook', events: ['incident.created'] }, 400, 'body.url must not contain credentials'],
    [{ url: 'ftp://integrator.example/hook', events: ['incident.created'] }, 400, 'body.url must use https'],
    [{ url: 'https://10.0.0.7/hook', events: ['incident.created'] }, 400, 'body.url is not reachable for webhooks: 10.0.0.7 is a private address'],
    [{ url: 'https://169.254.169.254/latest/meta-data', events: ['incident.created'] }, 400, 'body.url is not reachable for webhooks: 169.254.169.254 is a linkLocal address'],
    [{ url: 'https://[fd00::1]/hook', events: ['incident.created'] }, 400, 'body.url is not reachable for webhooks: fd00::1 is a uniqueLocal address'],
    [{ url: 'https://integrator.example/hook', events: ['incident.created'], secret: 'hunter2' }, 400, 'body.secret must look like whsec_<base64 of 24 to 64 random bytes>'],
    [{ url: 'https://integrator.example/hook', events: ['incident.created'], secret: `whsec_${Buffer.alloc(8, 1).toString('base64')}` }, 400, 'body.secret is too weak: 8 bytes, at least 24 random bytes are needed'],
    [{ url: 'https://integrator.example/hook', events: [] }, 400, 'body.events must NOT have fewer than 1 items'],
  ])('refuses %j', async (payload, status, description) => {
    const res = await subscribe(acme.adminToken, payload);
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ error: 'invalid_request', error_description: description });
  });

  it('needs webhooks:write to change, webhooks:read to read, and the reading scope of each event', async () => {
    const readOnly = await partner(h, acme, [], ['webhooks:read']);
    const refused = await subscribe(readOnly.token, { url: `${receiver.url}/x`, events: ['incident.created'] });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toEqual({ error: 'forbidden', error_description: 'this action needs the scope webhooks:write' });

    const noIncidents = await partner(h, acme, [], ['webhooks:read', 'webhooks:write']);
    const blind = await subscribe(noIncidents.token, { url: `${receiver.url}/x`, events: ['incident.closed'] });
    expect(blind.statusCode).toBe(403);
    expect(blind.json()).toEqual({ error: 'forbidden', error_description: 'subscribing to incident.closed needs the scope incidents:read' });

    const writer = await partner(h, acme, [], ['webhooks:write', 'incidents:read']);
    const created = await subscribe(writer.token, { url: `${receiver.url}/x`, events: ['incident.closed'] });
    expect(created.statusCode).toBe(201);
    const list = await h.request({ method: 'GET', url: '/v1/webhooks', headers: bearer(writer.token) });
    expect(list.statusCode).toBe(403);
  });

  it('shows an app only its own subscriptions and a tenant only its own', async () => {
    const app = await partner(h, acme, [], ['webhooks:read', 'webhooks:write', 'incidents:read']);
    const mine = (await subscribe(app.token, { url: `${receiver.url}/mine`, events: ['incident.created'] })).json();
    const admins = (await subscribe(acme.adminToken, { url: `${receiver.url}/admins`, events: ['incident.created'] })).json();
    const list = (await h.request({ method: 'GET', url: '/v1/webhooks?limit=100', headers: bearer(app.token) })).json();
    expect(list.webhooks.map((w: { id: string }) => w.id)).toEqual([mine.id]);
    expect((await h.request({ method: 'GET', url: `/v1/webhooks/${admins.id}`, headers: bearer(app.token) })).statusCode).toBe(404);

    const all = (await h.request({ method: 'GET', url: '/v1/webhooks?limit=100', headers: bearer(acme.adminToken) })).json();
    expect(all.webhooks.map((w: { id: string }) => w.id)).toEqual(expect.arrayContaining([mine.id, admins.id]));

    for (const [method, url] of [
      ['GET', `/v1/webhooks/${mine.id}`],
      ['PUT', `/v1/webhooks/${mine.id}`],
      ['DELETE', `/v1/webhooks/${mine.id}`],
      ['GET', `/v1/webhooks/${mine.id}/deliveries`],
      ['POST', `/v1/webhooks/${mine.id}/test`],
    ] as const) {
      const res = await h.request({ method, url, headers: bearer(globex.adminToken), ...(method === 'PUT' ? { payload: { enabled: false } } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
    }
    const globexList = (await h.request({ method: 'GET', url: '/v1/webhooks?limit=100', headers: bearer(globex.adminToken) })).json();
    expect(globexList.webhooks).toEqual([]);
  });
});

describe('delivery', () => {
  it('delivers incident events signed per Standard Webhooks, within moments of the change', async () => {
    const { id: webhookId, secret } = (await subscribe(acme.adminToken, { url: `${receiver.url}/signed`, events: ['incident.created'] })).json();
    const incident = await createIncident('Signed delivery');
    const [request] = await receiver.waitFor(1, (r) => r.path === '/signed' && r.body.includes(incident.id));
    const payload = new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>) as Record<string, unknown>;
    expect(payload).toMatchObject({ type: 'incident.created', tenant_id: acme.tenantId, data: { incident: { id: incident.id, title: 'Signed delivery' } } });
    expect(payload.id).toMatch(/^evt_/);
    expect(request!.headers['webhook-id']).toBe(payload.id);
    expect(request!.headers['user-agent']).toMatch(/^Tessera-Webhooks\//);
    expect(request!.headers['content-type']).toBe('application/json');
    await expect.poll(async () => (await deliveriesOf(webhookId)).deliveries[0]?.status).toBe('succeeded');
    const [delivery] = (await deliveriesOf(webhookId)).deliveries;
    expect(delivery).toMatchObject({ event_id: payload.id, event_type: 'incident.created', attempts: 1, response_status: 204, error: null, next_attempt_at: null });
    // The attempt's id is made by the statement that records it, in the format of every other id.
    const attempts = await h.runtime.orm.em.getConnection().execute('select id, number from webhook_attempts where delivery_id = ?', [delivery.id]);
    expect(attempts).toEqual([{ id: expect.stringMatching(/^att_[A-Za-z0-9_-]{20}$/), number: 1 }]);
  });

  it('retries after a 500 with the same webhook-id, then succeeds', async () => {
    const { id: webhookId } = (await subscribe(acme.adminToken, { url: `${receiver.url}/flaky`, events: ['incident.created'] })).json();
    let calls = 0;
    receiver.respond = (r) => (r.path === '/flaky' && ++calls === 1 ? { status: 500, body: 'boom' } : { status: 200, body: 'ok' });
    const incident = await createIncident('Flaky receiver');
    const requests = await receiver.waitFor(2, (r) => r.path === '/flaky' && r.body.includes(incident.id));
    expect(requests[0]!.headers['webhook-id']).toBe(requests[1]!.headers['webhook-id']);
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(800); // first retry after ~1 s (± jitter)
    await expect.poll(async () => (await deliveriesOf(webhookId)).deliveries[0]?.status).toBe('succeeded');
    const listed = (await deliveriesOf(webhookId)).deliveries[0];
    const detail = (await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}/deliveries/${listed.id}`, headers: bearer(acme.adminToken) })).json();
    expect(detail.attempts).toBe(2);
    expect(detail.attempt_history).toEqual([
      expect.objectContaining({ number: 1, response_status: 500, error: 'the endpoint answered 500', response_snippet: 'boom' }),
      expect.objectContaining({ number: 2, response_status: 200, error: null, response_snippet: 'ok' }),
    ]);
    expect(detail.payload).toMatchObject({ type: 'incident.created' });
  });

  it('counts a timeout as a failure and keeps at most 2 KB of a response', async () => {
    const { id: webhookId } = (await subscribe(acme.adminToken, { url: `${receiver.url}/slow`, events: ['incident.created'] })).json();
    let calls = 0;
    receiver.respond = (r) => (r.path !== '/slow' ? { status: 204 } : ++calls === 1 ? { status: 200, delayMs: 2500 } : { status: 500, body: 'x'.repeat(10_000) });
    await createIncident('Slow receiver');
    await expect.poll(async () => (await deliveriesOf(webhookId)).deliveries[0]?.attempts, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    const listed = (await deliveriesOf(webhookId)).deliveries[0];
    const detail = (await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}/deliveries/${listed.id}`, headers: bearer(acme.adminToken) })).json();
    expect(detail.attempt_history[0]).toMatchObject({ response_status: null, error: 'no response within 1000 ms' });
    expect(detail.attempt_history[1].response_snippet).toHaveLength(2048);
  });

  it('disables the subscription on 410 Gone and writes it to the audit log', async () => {
    const { id: webhookId } = (await subscribe(acme.adminToken, { url: `${receiver.url}/gone`, events: ['incident.created'] })).json();
    receiver.respond = (r) => (r.path === '/gone' ? { status: 410 } : { status: 204 });
    await createIncident('Gone receiver');
    await expect.poll(async () => (await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}`, headers: bearer(acme.adminToken) })).json().enabled).toBe(false);
    const webhook = (await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}`, headers: bearer(acme.adminToken) })).json();
    expect(webhook.disabled_reason).toBe('the endpoint answered 410 Gone');
    expect((await deliveriesOf(webhookId)).deliveries[0]).toMatchObject({ status: 'failed', response_status: 410 });
    const audit = (await h.request({ method: 'GET', url: `/v1/platform/audit-events?action=webhook.disabled&target_id=${webhookId}`, headers: bearer(acme.adminToken) })).json();
    expect(audit.events).toEqual([expect.objectContaining({ actor: 'system', details: { reason: 'the endpoint answered 410 Gone' } })]);
  });

  it('sends a signed webhook.test on POST /test, and redelivers on request', async () => {
    const { id: webhookId, secret } = (await subscribe(acme.adminToken, { url: `${receiver.url}/test`, events: ['incident.closed'] })).json();
    const res = await h.request({ method: 'POST', url: `/v1/webhooks/${webhookId}/test`, headers: bearer(acme.adminToken) });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ delivery_id: expect.stringMatching(/^dlv_/), status: 'queued' });
    const [request] = await receiver.waitFor(1, (r) => r.body.includes('webhook.test') && r.body.includes(webhookId));
    expect(new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>)).toMatchObject({ type: 'webhook.test' });

    await expect.poll(async () => (await deliveriesOf(webhookId)).deliveries[0]?.status).toBe('succeeded');
    const again = await h.request({ method: 'POST', url: `/v1/webhooks/${webhookId}/deliveries/${res.json().delivery_id}/redeliver`, headers: bearer(acme.adminToken) });
    expect(again.statusCode).toBe(202);
    const both = await receiver.waitFor(2, (r) => r.body.includes('webhook.test') && r.body.includes(webhookId));
    expect(both[1]!.headers['webhook-id']).toBe(both[0]!.headers['webhook-id']);
  });

  it('signs with both secrets while a rotated secret overlaps', async () => {
    const { id: webhookId, secret: oldSecret } = (await subscribe(acme.adminToken, { url: `${receiver.url}/rotate`, events: ['incident.created'] })).json();
    const newSecret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const put = await h.request({ method: 'PUT', url: `/v1/webhooks/${webhookId}`, headers: bearer(acme.adminToken), payload: { secret: newSecret } });
    expect(put.statusCode).toBe(200);
    expect(put.json().previous_secret_expires_at).toMatch(/Z$/);
    const incident = await createIncident('Rotated secret');
    const [request] = await receiver.waitFor(1, (r) => r.path === '/rotate' && r.body.includes(incident.id));
    expect(String(request!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [oldSecret, newSecret]) expect(() => new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>)).not.toThrow();
  });

  it('lists deliveries newest first, filtered by status, paginated', async () => {
    const { id: webhookId } = (await subscribe(acme.adminToken, { url: `${receiver.url}/many`, events: ['incident.created'] })).json();
    for (let i = 0; i < 3; i++) await createIncident(`Many ${i}`);
    await expect.poll(async () => (await deliveriesOf(webhookId, acme.adminToken, '?status=succeeded&limit=100')).deliveries.length, { timeout: 10_000 }).toBe(3);
    const first = await deliveriesOf(webhookId, acme.adminToken, '?limit=2');
    expect(first.deliveries).toHaveLength(2);
    const second = await deliveriesOf(webhookId, acme.adminToken, `?limit=2&cursor=${first.next_cursor}`);
    expect(second.deliveries).toHaveLength(1);
    expect(second.next_cursor).toBeNull();
    const ids = [...first.deliveries, ...second.deliveries].map((d: { id: string }) => d.id);
    expect(new Set(ids).size).toBe(3);
    expect((await deliveriesOf(webhookId, acme.adminToken, '?status=failed')).deliveries).toEqual([]);
    const bad = await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}/deliveries?status=lost`, headers: bearer(acme.adminToken) });
    expect(bad.statusCode).toBe(400);
  });
});
