// The JSON Schemas of the webhook deliveries: for each event type, the whole body a subscriber receives, as
// outbox.ts `eventBody()` writes it ({id, type, created_at, tenant_id, data}). They are published by
// GET /v1/webhooks/event-types and in the OpenAPI document's `webhooks` (OpenAPI 3.1, whose schema dialect is JSON
// Schema 2020-12), so that a receiver can validate what it gets and generate types from it.
//
// Envelope and `data` refuse unknown fields (`additionalProperties: false`): a field sent but not published, or
// published but no longer sent, fails test/webhook-events.test.ts instead of drifting silently. Adding a field is
// then a change made here first, on purpose.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Nullable, stringEnum } from '../http/schemas.js';

/** An instant as `Date.prototype.toISOString()` writes it: UTC, with milliseconds. */
const Instant = (description: string) => Type.String({ format: 'date-time', description, examples: ['2026-03-24T10:00:00.000Z'] });

/** An identifier of ids.ts: its type prefix, then a random URL-safe part. */
const Id = (prefix: string, description: string) => Type.String({ pattern: `^${prefix}_[A-Za-z0-9_-]+$`, description });

const strict = { additionalProperties: false } as const;

// The incident's values, repeated here rather than imported: the webhooks module does not read another feature's
// entities (.dependency-cruiser.cjs). test/webhook-events.test.ts checks that they still match the incidents'.
const INCIDENT_STATUSES = ['OPEN', 'INVESTIGATING', 'MITIGATED', 'RESOLVED', 'CLOSED'] as const;
const INCIDENT_SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4'] as const;
/** What `incident.updated` lists in `changes`: the incident fields an update may change, or `notes`. */
const INCIDENT_CHANGES = ['title', 'summary', 'status', 'severity', 'labels', 'notes'] as const;

/** The incident as every incident event carries it (incidents/service.ts `incidentPayload()`), after the change. */
export const IncidentPayload = Type.Object(
  {
    id: Id('inc', 'The incident id'),
    number: Type.Integer({ minimum: 1, description: "The incident's number in its tenant: 1, 2, 3..." }),
    title: Type.String({ minLength: 1, maxLength: 200, description: 'The title' }),
    summary: Type.String({ maxLength: 10_000, description: 'The summary; empty when none was given' }),
    status: stringEnum(INCIDENT_STATUSES, { description: 'The status; CLOSED only once closed (incident.closed)' }),
    severity: stringEnum(INCIDENT_SEVERITIES, { description: 'The severity, SEV1 the most severe' }),
    labels: Type.Array(Type.String({ pattern: '^[a-z0-9][a-z0-9:._-]{0,49}$' }), { maxItems: 20, description: 'Lowercase labels, at most 20' }),
    created_at: Instant('When the incident was opened'),
    updated_at: Instant('When the incident last changed (a note added counts)'),
    closed_at: Nullable(Instant('When the incident was closed; null while it is open')),
  },
  { ...strict, description: 'The incident after the change' },
);

/** The whole delivery body of an event of `type` carrying `data`. */
function delivery<T extends string, D extends TSchema>(type: T, data: D, description: string) {
  return Type.Object(
    {
      id: Id('evt', "The event id, the same in every attempt and redelivery and sent as the webhook-id header: the receiver's idempotency key"),
      type: Type.Literal(type, { description: 'The event type' }),
      created_at: Instant('When the event happened'),
      tenant_id: Id('ten', 'The tenant the event belongs to'),
      data,
    },
    { ...strict, title: type, description },
  );
}

const incidentOnly = (description: string) => Type.Object({ incident: IncidentPayload }, { ...strict, description });

export const IncidentCreated = delivery('incident.created', incidentOnly('The incident as opened'), 'An incident was opened');

export const IncidentUpdated = delivery(
  'incident.updated',
  Type.Object(
    {
      incident: IncidentPayload,
      changes: Type.Array(stringEnum(INCIDENT_CHANGES), {
        minItems: 1,
        uniqueItems: true,
        description: 'The fields that changed, or ["notes"] when a note was added',
      }),
      note: Type.Optional(
        Type.Object(
          {
            id: Id('note', 'The note id'),
            author: Type.String({ description: 'The user id, or the client id of a machine, that wrote the note' }),
            body: Type.String({ minLength: 1, maxLength: 10_000, description: 'The text of the note' }),
            created_at: Instant('When the note was added'),
          },
          { ...strict, description: 'The note added; present only when changes is ["notes"]' },
        ),
      ),
    },
    { ...strict, description: 'The incident after the change, and what changed' },
  ),
  'An incident changed: some of its fields, or a note was added',
);

export const IncidentClosed = delivery('incident.closed', incidentOnly('The incident as closed: status CLOSED, closed_at set'), 'An incident was closed');

export const WebhookEndpointDisabled = delivery(
  'webhook.endpoint.disabled',
  Type.Object(
    {
      webhook_id: Id('wh', 'The subscription disabled'),
      owner_client_id: Nullable(Type.String({ description: 'The app that owns the subscription; null for a tenant admin\'s' })),
      reason: Type.String({ description: 'Why it was disabled, as its disabled_reason says' }),
      disabled_at: Instant('When it was disabled'),
    },
    { ...strict, description: 'The subscription disabled and why' },
  ),
  'A webhook subscription was disabled automatically: its endpoint answered 410 Gone, or failed for days',
);

export const WebhookDeliveriesHeld = delivery(
  'webhook.deliveries.held',
  Type.Object(
    {
      client_id: Type.String({ description: 'The app suspended' }),
      webhook_ids: Type.Array(Id('wh', 'A subscription of the app'), { description: "The app's subscriptions whose deliveries are held" }),
      reason: Type.Literal('app_suspended', { description: 'Why the deliveries are held' }),
      held_since: Instant('Since when the deliveries are held'),
    },
    { ...strict, description: 'The app and its subscriptions whose deliveries are held' },
  ),
  "An app was suspended: deliveries to its subscriptions are held, not attempted, until it is resumed",
);

export const WebhookDeliveriesReleased = delivery(
  'webhook.deliveries.released',
  Type.Object(
    {
      client_id: Type.String({ description: 'The app resumed' }),
      webhook_ids: Type.Array(Id('wh', 'A subscription of the app'), { description: "The app's subscriptions whose deliveries are released" }),
      released: Type.Integer({ minimum: 0, description: 'How many held deliveries are being sent' }),
      released_at: Instant('When they were released'),
    },
    { ...strict, description: 'The app and what was released' },
  ),
  "An app was resumed: its held deliveries are being sent, in order",
);

export const WebhookRecoverCompleted = delivery(
  'webhook.recover.completed',
  Type.Object(
    {
      recovery_id: Type.String({ description: 'The recover request (POST /v1/webhooks/{webhook_id}/recover)' }),
      webhook_id: Id('wh', 'The subscription recovered'),
      since: Instant('The start of the period recovered'),
      until: Instant('The end of the period recovered'),
      deliveries: Type.Integer({ minimum: 0, description: 'How many deliveries were attempted again' }),
      succeeded: Type.Integer({ minimum: 0, description: 'How many of them succeeded' }),
      failed: Type.Integer({ minimum: 0, description: 'How many of them failed' }),
      completed_at: Instant('When the last of them had its attempt'),
    },
    { ...strict, description: 'The recover request and its outcome' },
  ),
  'Every delivery of a recover request (POST /v1/webhooks/{webhook_id}/recover) has had its new attempt',
);

// The integration requests' values, repeated here for the same reason as the incident's (the webhooks module reads no
// other feature's code); test/integration-requests.test.ts checks every event sent against this schema.
const REQUEST_KINDS = ['bundle', 'scopes', 'federation', 'sandbox', 'platform_access'] as const;

/** What an approval did, per kind; none for the kinds an operator sets up by hand (federation, platform access). */
const RequestResult = Type.Union(
  [
    Type.Object(
      {
        bundle: Type.String({ description: 'The bundle assigned' }),
        client_id: Type.String({ description: 'The app that now holds it' }),
        assigned: Type.Boolean({ description: 'false when the app already held it' }),
      },
      { ...strict, title: 'bundle', description: 'A bundle request: the bundle assigned to the app' },
    ),
    Type.Object(
      {
        scopes: Type.Array(Type.String(), { description: "The tenant's scopes after the approval" }),
        added: Type.Array(Type.String(), { description: 'The scopes the approval added (empty when the tenant already had them all)' }),
        restricted: Type.Boolean({ description: 'false: the tenant may use every published scope' }),
      },
      { ...strict, title: 'scopes', description: "A scopes request: the tenant's scopes now" },
    ),
    Type.Object(
      {
        tenant_id: Id('ten', 'The sandbox tenant'),
        tenant_slug: Type.String({ description: "The sandbox's slug" }),
        admin_user_id: Id('usr', "The sandbox's first admin"),
        admin_email: Type.String({ description: "The sandbox admin's email; the requester claims its password once" }),
        expires_at: Instant('When the sandbox expires (its tokens are refused from then on)'),
      },
      { ...strict, title: 'sandbox', description: 'A sandbox request: the sandbox tenant made' },
    ),
  ],
  { description: 'What the approval did; absent when the request was denied, and for federation and platform_access requests' },
);

export const IntegrationRequestDecided = delivery(
  'integration_request.decided',
  Type.Object(
    {
      request_id: Id('irq', 'The integration request'),
      kind: stringEnum(REQUEST_KINDS, { description: 'What was asked for' }),
      status: stringEnum(['approved', 'denied'] as const, { description: 'The decision' }),
      note: Nullable(Type.String({ description: "The operator's note: why it was denied, or what to do next" })),
      decided_at: Instant('When it was decided'),
      result: Type.Optional(RequestResult),
    },
    { ...strict, description: 'The request, the decision and what it did' },
  ),
  "An operator approved or denied one of the tenant's integration requests (POST /v1/platform/integration-requests)",
);

/** Sent by POST /v1/webhooks/{webhook_id}/test only. */
export const WebhookTest = delivery(
  'webhook.test',
  Type.Object(
    {
      webhook_id: Id('wh', 'The subscription tested'),
      message: Type.String({ description: 'A sentence saying this is a test' }),
    },
    { ...strict, description: 'The subscription tested' },
  ),
  'A test delivery, sent only when asked for by POST /v1/webhooks/{webhook_id}/test; it cannot be subscribed to',
);

/** The schema of every event type's delivery body, by type (catalog.ts names the subscribable ones). */
export const EVENT_SCHEMAS = {
  'incident.created': IncidentCreated,
  'incident.updated': IncidentUpdated,
  'incident.closed': IncidentClosed,
  'webhook.endpoint.disabled': WebhookEndpointDisabled,
  'webhook.deliveries.held': WebhookDeliveriesHeld,
  'webhook.deliveries.released': WebhookDeliveriesReleased,
  'webhook.recover.completed': WebhookRecoverCompleted,
  'integration_request.decided': IntegrationRequestDecided,
  'webhook.test': WebhookTest,
};
export type SchemaEventType = keyof typeof EVENT_SCHEMAS;

/** The body of a delivery of `T`, as its schema says. */
export type EventBody<T extends SchemaEventType> = Static<(typeof EVENT_SCHEMAS)[T]>;
/** The `data` of an event of `T`: what `EventOutbox.event()`/`record()` must be given for it. */
export type EventData<T extends SchemaEventType> = EventBody<T>['data'];

const TENANT = 'ten_8Wc1oJ3bQe5tHk2LmN7p';
const INCIDENT = {
  id: 'inc_Q2x7Lr9sVb4Kd1Nf6HtZ',
  number: 42,
  title: 'Checkout latency above 2 s',
  summary: 'p99 latency of the checkout API rose after the 10:00 deploy.',
  status: 'OPEN',
  severity: 'SEV2',
  labels: ['checkout', 'region:eu-west-1'],
  created_at: '2026-03-24T10:00:00.000Z',
  updated_at: '2026-03-24T10:00:00.000Z',
  closed_at: null,
} satisfies Static<typeof IncidentPayload>;

/** An example body of each event type, typed by its schema (and checked against it by the tests). */
export const EVENT_EXAMPLES: { [T in SchemaEventType]: EventBody<T> } = {
  'incident.created': {
    id: 'evt_3GkP0sWm8Yc2Jr5Tq1Vd',
    type: 'incident.created',
    created_at: '2026-03-24T10:00:00.000Z',
    tenant_id: TENANT,
    data: { incident: INCIDENT },
  },
  'incident.updated': {
    id: 'evt_7HnR2uXo0Ae4Ls9Wv3Bf',
    type: 'incident.updated',
    created_at: '2026-03-24T10:12:30.250Z',
    tenant_id: TENANT,
    data: { incident: { ...INCIDENT, status: 'INVESTIGATING', severity: 'SEV1', updated_at: '2026-03-24T10:12:30.250Z' }, changes: ['status', 'severity'] },
  },
  'incident.closed': {
    id: 'evt_1DfT6yZq4Cg8Np3Xs7Hj',
    type: 'incident.closed',
    created_at: '2026-03-24T11:45:00.000Z',
    tenant_id: TENANT,
    data: { incident: { ...INCIDENT, status: 'CLOSED', updated_at: '2026-03-24T11:45:00.000Z', closed_at: '2026-03-24T11:45:00.000Z' } },
  },
  'webhook.endpoint.disabled': {
    id: 'evt_5JhV8aBs6Ei0Pt2Zu9Kl',
    type: 'webhook.endpoint.disabled',
    created_at: '2026-03-27T08:00:00.000Z',
    tenant_id: TENANT,
    data: { webhook_id: 'wh_9LmX0cDu8Gk2Rv4Bw1Np', owner_client_id: 'app_2NpZ4eFw0Im6Tx8Dy3Qr', reason: 'the endpoint answered 410 Gone', disabled_at: '2026-03-27T08:00:00.000Z' },
  },
  'webhook.deliveries.held': {
    id: 'evt_4QrB6gHy2Ko8Vz0Fa5St',
    type: 'webhook.deliveries.held',
    created_at: '2026-03-25T09:00:00.000Z',
    tenant_id: TENANT,
    data: { client_id: 'app_2NpZ4eFw0Im6Tx8Dy3Qr', webhook_ids: ['wh_9LmX0cDu8Gk2Rv4Bw1Np'], reason: 'app_suspended', held_since: '2026-03-25T09:00:00.000Z' },
  },
  'webhook.deliveries.released': {
    id: 'evt_6StD8iJa4Mq0Xb2Hc7Uv',
    type: 'webhook.deliveries.released',
    created_at: '2026-03-25T15:30:00.000Z',
    tenant_id: TENANT,
    data: { client_id: 'app_2NpZ4eFw0Im6Tx8Dy3Qr', webhook_ids: ['wh_9LmX0cDu8Gk2Rv4Bw1Np'], released: 17, released_at: '2026-03-25T15:30:00.000Z' },
  },
  'webhook.recover.completed': {
    id: 'evt_8UvF0kLc6Os2Zd4Je9Wx',
    type: 'webhook.recover.completed',
    created_at: '2026-03-26T12:05:00.000Z',
    tenant_id: TENANT,
    data: {
      recovery_id: 'rcv_0WxH2mNe8Qu4Bf6Lg1Yz',
      webhook_id: 'wh_9LmX0cDu8Gk2Rv4Bw1Np',
      since: '2026-03-25T00:00:00.000Z',
      until: '2026-03-26T00:00:00.000Z',
      deliveries: 12,
      succeeded: 11,
      failed: 1,
      completed_at: '2026-03-26T12:05:00.000Z',
    },
  },
  'integration_request.decided': {
    id: 'evt_9AbK1qRi3Uy7Fj0Ok5Cd',
    type: 'integration_request.decided',
    created_at: '2026-03-26T14:00:00.000Z',
    tenant_id: TENANT,
    data: {
      request_id: 'irq_1BcL3sTk5Wa9Hm2Pn7De',
      kind: 'bundle',
      status: 'approved',
      note: 'Approved for the case sync rollout.',
      decided_at: '2026-03-26T14:00:00.000Z',
      result: { bundle: 'incident-sync', client_id: 'app_2NpZ4eFw0Im6Tx8Dy3Qr', assigned: true },
    },
  },
  'webhook.test': {
    id: 'evt_2YzJ4oPg0Sw6Dh8Ni3Ab',
    type: 'webhook.test',
    created_at: '2026-03-24T09:55:00.000Z',
    tenant_id: TENANT,
    data: { webhook_id: 'wh_9LmX0cDu8Gk2Rv4Bw1Np', message: 'This is a test delivery from Tessera.' },
  },
};
