// The incident-webhooks bundle: webhook configuration through persisted GraphQL operations.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { gql, operationId, partner, publishShippedBundles, type Partner } from './helpers/graphql.js';
import { Receiver } from './helpers/receiver.js';

let h: Harness;
let acme: TenantFixture;
let app: Partner;
let receiver: Receiver;

const op = (name: string) => `sha256:${operationId('incident-webhooks', name)}`;
const SCOPES = ['incidents:read', 'incidents:write', 'webhooks:read', 'webhooks:write'];

beforeAll(async () => {
  h = await startHarness({ WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WEBHOOK_HTTP_HOSTS: '127.0.0.1' }, { worker: true });
  acme = await h.tenant('acme');
  await publishShippedBundles(h);
  app = await partner(h, acme, ['incident-webhooks', 'incident-sync'], SCOPES);
  receiver = await new Receiver().start();
});
afterAll(async () => {
  await receiver?.stop();
  await h?.close();
});

describe('incident webhook configuration over GraphQL', () => {
  it('creates, lists, tests, reviews, updates and deletes a subscription', async () => {
    const created = await gql(h, app, acme.tenantId, { documentId: op('CreateWebhook'), variables: { input: { url: `${receiver.url}/gql`, events: ['incident.created', 'incident.closed'] } } });
    expect(created.statusCode).toBe(200);
    const payload = created.json().data.createWebhook;
    expect(payload.userErrors).toEqual([]);
    expect(payload.secret).toMatch(/^whsec_/);
    const id = payload.webhook.id;

    const list = await gql(h, app, acme.tenantId, { documentId: op('ListWebhooks') });
    expect(list.json().data.webhooks).toEqual([expect.objectContaining({ id, events: ['incident.created', 'incident.closed'], enabled: true })]);
    // The same subscription is visible through REST.
    const rest = await h.request({ method: 'GET', url: `/v1/webhooks/${id}`, headers: bearer(app.token) });
    expect(rest.statusCode).toBe(200);

    const test = await gql(h, app, acme.tenantId, { documentId: op('SendTestWebhook'), variables: { id } });
    expect(test.json().data.sendTestWebhook.deliveryId).toMatch(/^dlv_/);
    const [request] = await receiver.waitFor(1, (r) => r.path === '/gql');
    expect(new Webhook(payload.secret).verify(request!.body, request!.headers as Record<string, string>)).toMatchObject({ type: 'webhook.test' });
    await expect.poll(async () => (await gql(h, app, acme.tenantId, { documentId: op('WebhookDeliveries'), variables: { id } })).json().data.webhook.deliveries[0]?.status).toBe('succeeded');

    const updated = await gql(h, app, acme.tenantId, { documentId: op('UpdateWebhook'), variables: { id, input: { enabled: false } } });
    expect(updated.json().data.updateWebhook.webhook).toMatchObject({ enabled: false, disabledReason: 'disabled by a user' });

    const deleted = await gql(h, app, acme.tenantId, { documentId: op('DeleteWebhook'), variables: { id } });
    expect(deleted.json().data.deleteWebhook).toEqual({ deletedId: id, userErrors: [], __typename: 'DeleteWebhookPayload' });
    expect((await h.request({ method: 'GET', url: `/v1/webhooks/${id}`, headers: bearer(app.token) })).statusCode).toBe(404);
  });

  it('answers invalid input as user errors, naming the field', async () => {
    const res = await gql(h, app, acme.tenantId, { documentId: op('CreateWebhook'), variables: { input: { url: 'http://integrator.example/x', events: ['incident.created'] } } });
    expect(res.json().data.createWebhook).toMatchObject({
      webhook: null,
      userErrors: [{ field: 'url', code: 'INVALID', message: 'url must use https; http is not allowed for integrator.example' }],
    });
    const missing = await gql(h, app, acme.tenantId, { documentId: op('DeleteWebhook'), variables: { id: 'wh_missing' } });
    expect(missing.json().data.deleteWebhook.userErrors).toEqual([{ field: 'id', code: 'NOT_FOUND', message: 'no webhook wh_missing', __typename: 'UserError' }]);
  });

  it('refuses the operations without the webhook scopes, before anything runs', async () => {
    const readOnly = await partner(h, acme, ['incident-webhooks'], ['incidents:read', 'webhooks:read']);
    const res = await gql(h, readOnly, acme.tenantId, { documentId: op('CreateWebhook'), variables: { input: { url: `${receiver.url}/nope`, events: ['incident.created'] } } });
    expect(res.statusCode).toBe(403);
    expect(res.json().errors[0]).toMatchObject({ message: 'the token lacks the scopes this operation needs: webhooks:write', extensions: { code: 'FORBIDDEN' } });
    const list = await gql(h, readOnly, acme.tenantId, { documentId: op('ListWebhooks') });
    expect(list.statusCode).toBe(200);
  });

  it('holds at most 100 subscriptions a tenant, so that webhooks lists them all; the last place goes to one of several racing creations', async () => {
    const initech = await h.tenant('initech');
    const partnerApp = await partner(h, initech, ['incident-webhooks'], SCOPES);
    const create = (token: string, n: number) => h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(token), payload: { url: `${receiver.url}/cap/${n}`, events: ['incident.created'] } });
    for (let n = 0; n < 60; n++) expect((await create(initech.adminToken, n)).statusCode).toBe(201);
    for (let n = 60; n < 99; n++) expect((await create(partnerApp.token, n)).statusCode).toBe(201);

    const racing = await Promise.all(Array.from({ length: 8 }, (_, i) => create(initech.adminToken, 99 + i)));
    expect(racing.map((res) => res.statusCode).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    const full = { error: 'conflict', error_description: 'a tenant holds at most 100 webhooks; delete one before adding another' };
    for (const res of racing.filter((r) => r.statusCode === 409)) expect(res.json()).toEqual(full);

    const overGraphQL = await gql(h, partnerApp, initech.tenantId, { documentId: op('CreateWebhook'), variables: { input: { url: `${receiver.url}/cap/x`, events: ['incident.created'] } } });
    expect(overGraphQL.json().data.createWebhook).toMatchObject({ webhook: null, userErrors: [{ field: 'input', code: 'CONFLICT', message: full.error_description }] });
    const counted = await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from webhook_subscriptions where tenant_id = ?', [initech.tenantId]);
    expect(counted).toEqual([{ n: 100 }]);

    // The partner's own list is whole: its 39, never cut at a page.
    const listed = await gql(h, partnerApp, initech.tenantId, { documentId: op('ListWebhooks') });
    expect(listed.json().data.webhooks).toHaveLength(39);
    // Another tenant's room is its own.
    expect((await create(acme.adminToken, 0)).statusCode).toBe(201);

    const one = (await h.request({ method: 'GET', url: '/v1/webhooks?limit=1', headers: bearer(initech.adminToken) })).json().webhooks[0];
    expect((await h.request({ method: 'DELETE', url: `/v1/webhooks/${one.id}`, headers: bearer(initech.adminToken) })).statusCode).toBe(204);
    expect((await create(partnerApp.token, 200)).statusCode).toBe(201);
  });
});
