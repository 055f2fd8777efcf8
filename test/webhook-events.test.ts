// The webhook event catalog: every body a subscriber receives is signed (Standard Webhooks) and valid against the
// JSON Schema GET /v1/webhooks/event-types publishes for its type, which is the one the OpenAPI document's
// `webhooks` shows too. The schemas refuse unknown fields, so a field sent but not published (or the reverse) fails
// here. Who may subscribe to the operational events (tenant admins only) is checked as well.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INCIDENT_SEVERITIES, INCIDENT_STATUSES } from '../src/incidents/entities.js';
import { EVENT_TYPES, TEST_EVENT } from '../src/webhooks/catalog.js';
import { bearer, type Harness, type TenantFixture } from './helpers/harness.js';
import { gql, operationId, partner, type Partner } from './helpers/graphql.js';
import type { Received, Receiver } from './helpers/receiver.js';
import { EventCatalog, expectValidDelivery, type DeliveryBody } from './helpers/webhook-events.js';
import { startWebhookFixture } from './helpers/webhooks.js';

let h: Harness;
let acme: TenantFixture;
let receiver: Receiver;
/** A partner app that changes incidents through persisted operations and subscribes to their events. */
let app: Partner;
let catalog: EventCatalog;

const INCIDENT_EVENTS = ['incident.created', 'incident.updated', 'incident.closed'];
const OPERATIONAL_EVENTS = ['webhook.endpoint.disabled', 'webhook.deliveries.held', 'webhook.deliveries.released', 'webhook.recover.completed', 'integration_request.decided'];

const op = (name: string) => `sha256:${operationId('incident-sync', name)}`;

beforeAll(async () => {
  ({ h, acme, receiver } = await startWebhookFixture(1));
  app = await partner(h, acme, ['incident-sync'], ['incidents:read', 'incidents:write', 'webhooks:read', 'webhooks:write']);
  catalog = await EventCatalog.fetch(h, app.token);
});
afterAll(async () => {
  await receiver?.stop();
  await h?.close();
});

async function subscribe(token: string, path: string, events: string[]) {
  return h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(token), payload: { url: `${receiver.url}${path}`, events } });
}

/** Runs a persisted incident-sync operation as the app and answers its payload, expecting no user errors. */
async function mutate(name: string, field: string, variables: Record<string, unknown>) {
  const res = await gql(h, app, acme.tenantId, { documentId: op(name), variables });
  expect(res.statusCode, res.body).toBe(200);
  const payload = res.json().data[field];
  expect(payload.userErrors).toEqual([]);
  return payload;
}

/** A received delivery body with `change` applied to a copy. */
function altered(body: DeliveryBody, change: (copy: DeliveryBody & Record<string, unknown>) => void): unknown {
  const copy = structuredClone(body) as DeliveryBody & Record<string, unknown>;
  change(copy);
  return copy;
}

describe('the published catalog', () => {
  it('lists every subscribable type with its scope, schema and example, and the test event apart', () => {
    expect(catalog.published.event_types.map((e) => [e.type, e.scope])).toEqual([
      ['incident.created', 'incidents:read'],
      ['incident.updated', 'incidents:read'],
      ['incident.closed', 'incidents:read'],
      ['webhook.endpoint.disabled', 'platform:admin'],
      ['webhook.deliveries.held', 'platform:admin'],
      ['webhook.deliveries.released', 'platform:admin'],
      ['webhook.recover.completed', 'platform:admin'],
      ['integration_request.decided', 'platform:admin'],
    ]);
    expect(catalog.published.event_types.map((e) => e.type)).toEqual([...EVENT_TYPES]);
    expect(catalog.published.test_event).toMatchObject({ type: TEST_EVENT, description: expect.any(String) });
    expect(catalog.published.test_event).not.toHaveProperty('scope');
    for (const event of catalog.events) {
      expect(event.description, event.type).toMatch(/\w/);
      expect(event.schema, event.type).toMatchObject({ type: 'object', additionalProperties: false, required: ['id', 'type', 'created_at', 'tenant_id', 'data'] });
      expect(event.schema.properties, event.type).toMatchObject({ type: { const: event.type }, data: { type: 'object', additionalProperties: false } });
    }
  });

  it('gives each type an example its schema accepts', () => {
    for (const event of catalog.events) {
      expect(event.example.type, event.type).toBe(event.type);
      expect(catalog.problems(event.example), event.type).toEqual([]);
    }
  });

  it("publishes the incident's statuses and severities as the incidents module has them", () => {
    for (const type of INCIDENT_EVENTS) {
      const incident = (catalog.event(type).schema as { properties: { data: { properties: { incident: { properties: Record<string, { enum?: string[] }> } } } } }).properties.data.properties.incident;
      expect(incident.properties.status!.enum, type).toEqual([...INCIDENT_STATUSES]);
      expect(incident.properties.severity!.enum, type).toEqual([...INCIDENT_SEVERITIES]);
    }
  });

  it('shows the same schemas in the OpenAPI document, as its webhooks, with the Standard Webhooks headers', async () => {
    const res = await h.request({ method: 'GET', url: '/api/docs' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.webhooks).sort()).toEqual([...EVENT_TYPES, TEST_EVENT].sort());
    for (const event of catalog.events) {
      const post = doc.webhooks[event.type].post;
      expect(post.requestBody, event.type).toEqual({ required: true, content: { 'application/json': { schema: event.schema, example: event.example } } });
      expect(post.parameters.map((p: { name: string; in: string; required: boolean }) => [p.name, p.in, p.required]), event.type).toEqual([
        ['webhook-id', 'header', true],
        ['webhook-timestamp', 'header', true],
        ['webhook-signature', 'header', true],
      ]);
      expect(post.responses['2XX'].description, event.type).toMatch(/^Acknowledged/);
      if (event.scope) expect(post.description, event.type).toContain(event.scope);
    }
    // The route's own response schema describes the catalog.
    const documented = doc.paths['/v1/webhooks/event-types'].get.responses['200'].content['application/json'].schema;
    expect(Object.keys(documented.properties)).toEqual(['event_types', 'test_event']);
    expect(Object.keys(documented.properties.event_types.items.properties).sort()).toEqual(['description', 'example', 'schema', 'scope', 'type']);
  });
});

describe('what a subscriber receives', () => {
  let received: DeliveryBody[];
  let first: Record<string, DeliveryBody>;

  beforeAll(async () => {
    const created = await subscribe(app.token, '/events', INCIDENT_EVENTS);
    expect(created.statusCode, created.body).toBe(201);
    const { id: webhookId, secret } = created.json();

    const { incident } = await mutate('CreateIncident', 'createIncident', {
      input: { title: 'Checkout latency', summary: 'p99 above 2 s', severity: 'SEV2', labels: ['checkout'] },
    });
    await mutate('UpdateIncident', 'updateIncident', { id: incident.id, input: { title: 'Checkout latency above 2 s', status: 'INVESTIGATING', labels: ['checkout', 'region:eu'] } });
    await mutate('AddIncidentNote', 'addIncidentNote', { incidentId: incident.id, body: 'Rolled back the 10:00 deploy.' });
    await mutate('CloseIncident', 'closeIncident', { id: incident.id });
    const test = await h.request({ method: 'POST', url: `/v1/webhooks/${webhookId}/test`, headers: bearer(app.token) });
    expect(test.statusCode).toBe(202);

    const deliveries: Received[] = await receiver.waitFor(5, (r) => r.path === '/events');
    received = deliveries.map((delivery) => expectValidDelivery(delivery, catalog, secret));
    first = Object.fromEntries([...received].reverse().map((body) => [body.type, body]));
  });

  it('validates every body against its published schema (incident events and the test event)', () => {
    expect(received.map((b) => b.type).sort()).toEqual(['incident.closed', 'incident.created', 'incident.updated', 'incident.updated', 'webhook.test']);
    expect(new Set(received.map((b) => b.id)).size).toBe(5);
    for (const body of received) expect(body.tenant_id).toBe(acme.tenantId);
  });

  it('carries what the changes were', () => {
    const updates = received.filter((b) => b.type === 'incident.updated').map((b) => b.data);
    expect(updates).toEqual(
      expect.arrayContaining([
        { incident: expect.objectContaining({ title: 'Checkout latency above 2 s', status: 'INVESTIGATING', labels: ['checkout', 'region:eu'] }), changes: ['title', 'status', 'labels'] },
        {
          incident: expect.objectContaining({ status: 'INVESTIGATING' }),
          changes: ['notes'],
          note: { id: expect.stringMatching(/^note_/), author: app.clientId, body: 'Rolled back the 10:00 deploy.', created_at: expect.any(String) },
        },
      ]),
    );
    expect(first['incident.created']!.data.incident).toMatchObject({ number: expect.any(Number), summary: 'p99 above 2 s', status: 'OPEN', closed_at: null });
    expect(first['incident.closed']!.data.incident).toMatchObject({ status: 'CLOSED', closed_at: expect.any(String) });
    expect(first['webhook.test']!.data).toEqual({ webhook_id: expect.stringMatching(/^wh_/), message: expect.any(String) });
  });

  it('refuses a body that lacks a field, adds one, or breaks a type: the schemas can fail', () => {
    const created = first['incident.created']!;
    const updated = received.find((b) => b.type === 'incident.updated' && b.data.note)!;
    const cases: Array<[string, unknown, string]> = [
      ['a missing envelope field', altered(created, (b) => delete (b as Partial<DeliveryBody>).tenant_id), "(body) must have required property 'tenant_id'"],
      ['an extra envelope field', altered(created, (b) => (b.version = 1)), '(body) must NOT have additional properties: version'],
      ['a missing incident field', altered(created, (b) => delete (b.data.incident as Record<string, unknown>).title), "/data/incident must have required property 'title'"],
      ['an extra incident field', altered(created, (b) => ((b.data.incident as Record<string, unknown>).assignee = 'usr_x')), '/data/incident must NOT have additional properties: assignee'],
      ['an extra data field', altered(created, (b) => (b.data.changes = ['title'])), '/data must NOT have additional properties: changes'],
      ['an extra note field', altered(updated, (b) => ((b.data.note as Record<string, unknown>).edited = true)), '/data/note must NOT have additional properties: edited'],
      ['a timestamp that is no date-time', altered(created, (b) => (b.created_at = 'yesterday')), '/created_at must match format "date-time"'],
      ['an unknown status', altered(created, (b) => ((b.data.incident as Record<string, unknown>).status = 'PANIC')), '/data/incident/status must be equal to one of the allowed values'],
      ['the data of another type', altered(created, (b) => (b.type = TEST_EVENT)), "/data must have required property 'webhook_id'"],
    ];
    for (const [what, body, problem] of cases) expect(catalog.problems(body), what).toContain(problem);
    expect(catalog.problems(altered(created, (b) => (b.type = 'incident.exploded')))).toEqual(['no published schema for the type "incident.exploded"']);
  });
});

describe('who may subscribe to the operational events', () => {
  it('refuses an app without platform:admin, and lets a tenant admin subscribe', async () => {
    for (const type of OPERATIONAL_EVENTS) {
      const refused = await subscribe(app.token, '/ops', [type]);
      expect(refused.statusCode, type).toBe(403);
      expect(refused.json()).toEqual({ error: 'forbidden', error_description: `subscribing to ${type} needs the scope platform:admin` });
    }
    const mixed = await subscribe(app.token, '/ops', ['incident.created', 'webhook.deliveries.held']);
    expect(mixed.statusCode).toBe(403);

    const admin = await subscribe(acme.adminToken, '/ops', [...OPERATIONAL_EVENTS, 'incident.created']);
    expect(admin.statusCode, admin.body).toBe(201);
    expect(admin.json().events).toEqual([...OPERATIONAL_EVENTS, 'incident.created']);
  });

  it('refuses the test event as a subscription', async () => {
    const res = await subscribe(acme.adminToken, '/ops', [TEST_EVENT]);
    expect(res.statusCode).toBe(400);
    expect(res.json().error_description).toMatch(/^body\.events names unknown events: webhook\.test/);
  });
});
