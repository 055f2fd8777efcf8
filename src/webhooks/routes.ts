// REST /v1/webhooks: subscriptions, delivery history, redelivery and test sends (the public contract); and delivery
// attempts per hour, of a subscription and of an app's subscriptions (activity.ts).
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { InvalidRequest } from '../errors.js';
import { authenticate, requireTenant } from '../http/auth.js';
import { isoSeconds } from '../http/pagination.js';
import { bearerSecurity as security, ErrorBody, errorResponses as errors, NextCursor, Nullable, Pagination, Timestamp } from '../http/schemas.js';
import type { TokenService } from '../keys/tokens.js';
import { MAX_ACTIVITY_DAYS, type AttemptActivity, type AttemptCounts, type DeliveryActivity } from './activity.js';
import { EVENT_CATALOG, TEST_EVENT_DEFINITION, type DocumentedEvent } from './catalog.js';
import type { DeliveryStatus, SubscriptionService, WebhookAttempt, WebhookDelivery, WebhookRecovery, WebhookSubscription } from './subscriptions.js';

const tags = ['Webhooks'];

const WebhookView = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  disabled_reason: Nullable(Type.String()),
  rate_limit: Type.Union([Type.Integer(), Type.Null()], { description: 'Deliveries per second at most; null: no limit' }),
  held_since: Nullable(Timestamp),
  previous_secret_expires_at: Nullable(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const CreatedWebhook = Type.Composite([WebhookView, Type.Object({ secret: Type.Optional(Type.String({ description: 'Shown once, only when Tessera generated it' })) })]);

const WebhookBody = {
  url: Type.String({ minLength: 1, maxLength: 2000 }),
  events: Type.Array(Type.String({ maxLength: 100 }), { minItems: 1, maxItems: 50 }),
  secret: Type.String({ maxLength: 200, description: 'whsec_ + base64 of 24 to 64 random bytes; generated when absent' }),
  enabled: Type.Boolean(),
  // One type list, not an anyOf: a refusal then says what is wrong in one sentence.
  rate_limit: Type.Unsafe<number | null>({
    type: ['integer', 'null'],
    minimum: 1,
    maximum: 1000,
    description: 'Deliveries per second at most, across every worker (1 to 1000); null lifts the limit',
  }),
};
const CreateBody = Type.Object(
  {
    url: WebhookBody.url,
    events: WebhookBody.events,
    secret: Type.Optional(WebhookBody.secret),
    enabled: Type.Optional(WebhookBody.enabled),
    rate_limit: Type.Optional(WebhookBody.rate_limit),
  },
  { additionalProperties: false },
);
const UpdateBody = Type.Object(
  {
    url: Type.Optional(WebhookBody.url),
    events: Type.Optional(WebhookBody.events),
    secret: Type.Optional(WebhookBody.secret),
    enabled: Type.Optional(WebhookBody.enabled),
    rate_limit: Type.Optional(WebhookBody.rate_limit),
  },
  { additionalProperties: false, minProperties: 1 },
);

const WebhookParams = Type.Object({ webhook_id: Type.String({ maxLength: 100 }) });
const DeliveryParams = Type.Object({ webhook_id: Type.String({ maxLength: 100 }), delivery_id: Type.String({ maxLength: 100 }) });

const DELIVERY_STATUSES = ['queued', 'retrying', 'succeeded', 'failed', 'held'];

const DeliveryView = Type.Object({
  id: Type.String(),
  event_id: Type.String(),
  event_type: Type.String(),
  status: Type.String({ enum: DELIVERY_STATUSES, description: 'held: the app that owns the subscription is suspended; it is sent, in order, once resumed' }),
  attempts: Type.Integer(),
  attempted_at: Nullable(Timestamp),
  response_status: Type.Union([Type.Integer(), Type.Null()]),
  latency_ms: Type.Union([Type.Integer(), Type.Null()]),
  next_attempt_at: Nullable(Timestamp),
  error: Nullable(Type.String()),
});

/** A JSON Schema or an example: any JSON object, passed through whole. */
const AnyObject = (description: string) => Type.Object({}, { additionalProperties: true, description });

const DocumentedEventView = {
  type: Type.String({ description: "The event type, as the body's `type` says" }),
  description: Type.String(),
  schema: AnyObject('JSON Schema (2020-12, as in OpenAPI 3.1) of the whole delivery body {id, type, created_at, tenant_id, data}'),
  example: AnyObject('A delivery body the schema accepts'),
};

const EventTypes = Type.Object({
  event_types: Type.Array(
    Type.Object({ ...DocumentedEventView, scope: Type.String({ description: 'The scope a caller needs to subscribe to it (platform:admin: tenant admins only)' }) }),
    { description: 'Every event type that can be subscribed to' },
  ),
  test_event: Type.Object(DocumentedEventView, { description: 'The event POST /v1/webhooks/{webhook_id}/test sends; it cannot be subscribed to' }),
});

const documentedView = ({ type, description, schema, example }: DocumentedEvent) => ({ type, description, schema, example });

const Queued = Type.Object({ delivery_id: Type.String(), status: Type.Literal('queued') });

const RecoverBody = Type.Object(
  {
    since: Type.String({ format: 'date-time', description: 'Deliveries created at or after this time' }),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Deliveries created before this time; default now. At most 14 days after since' })),
  },
  { additionalProperties: false },
);

const RecoveryQueued = Type.Object({
  recovery_id: Type.String(),
  webhook_id: Type.String(),
  since: Timestamp,
  until: Timestamp,
  deliveries: Type.Integer({ description: 'How many deliveries are sent again (at most 1000 a request)' }),
  status: Type.String({ enum: ['in_progress', 'completed'] }),
  /** When more deliveries matched than one request resends: the `since` of the next request. */
  next_since: Nullable(Timestamp),
});

const RecoveryView = Type.Object({
  id: Type.String(),
  webhook_id: Type.String(),
  since: Timestamp,
  until: Timestamp,
  deliveries: Type.Integer(),
  remaining: Type.Integer({ description: 'Deliveries that have not had their new attempt yet' }),
  succeeded: Type.Integer(),
  failed: Type.Integer(),
  status: Type.String({ enum: ['in_progress', 'completed'] }),
  created_at: Timestamp,
  completed_at: Nullable(Timestamp),
});

const RecoveryParams = Type.Object({ webhook_id: Type.String({ maxLength: 100 }), recovery_id: Type.String({ maxLength: 100 }) });

const ActivityQuery = Type.Object(
  { days: Type.Integer({ minimum: 1, maximum: MAX_ACTIVITY_DAYS, default: 7, description: 'Whole days of hours, ending with the current hour' }) },
  { additionalProperties: false },
);

const Latency = (p: string) => Type.Union([Type.Integer(), Type.Null()], { description: `The ${p} of the receiver's time to answer (or to fail), over every attempt; null without attempts` });
const AttemptCountsView = {
  attempts: Type.Integer(),
  succeeded: Type.Integer({ description: 'Attempts answered with a 2xx' }),
  failed: Type.Integer({ description: 'Attempts answered otherwise, timed out or refused (a retry may follow)' }),
  p50_latency_ms: Latency('median'),
  p95_latency_ms: Latency('95th percentile'),
  p99_latency_ms: Latency('99th percentile'),
};
const ActivityWindow = {
  since: Type.String({ format: 'date-time', description: 'The start of the first hour of the window (UTC)' }),
  until: Timestamp,
  ...AttemptCountsView,
  hours: Type.Array(Type.Object({ hour: Timestamp, ...AttemptCountsView }), { description: 'Each hour (UTC) with at least one attempt, oldest first' }),
};
const TimelineView = Type.Object({ webhook_id: Type.String(), ...ActivityWindow });
const AppDeliveryActivityView = Type.Object({
  client_id: Type.String(),
  ...ActivityWindow,
  webhooks: Type.Array(Type.Object({ id: Type.String(), url: Type.String(), ...AttemptCountsView }), { description: "The app's own subscriptions, oldest first" }),
});

const ClientParams = Type.Object({ client_id: Type.String({ maxLength: 100 }) });

function countsView(c: AttemptCounts): AttemptCounts {
  return { attempts: c.attempts, succeeded: c.succeeded, failed: c.failed, p50_latency_ms: c.p50_latency_ms, p95_latency_ms: c.p95_latency_ms, p99_latency_ms: c.p99_latency_ms };
}

function activityWindowView(a: AttemptActivity) {
  return { since: isoSeconds(a.since), until: isoSeconds(a.until), ...countsView(a), hours: a.hours.map((h) => ({ hour: isoSeconds(h.hour), ...countsView(h) })) };
}

/** A timestamp of a JSON body, validated as `date-time` by its schema (and a time JavaScript can hold). */
function instant(value: string, field: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw InvalidRequest.field(field, 'must be an ISO 8601 date and time');
  return date;
}

function recoveryView(r: WebhookRecovery) {
  return {
    id: r.id,
    webhook_id: r.webhookId,
    since: isoSeconds(r.since),
    until: isoSeconds(r.until),
    deliveries: r.deliveries,
    remaining: r.remaining,
    succeeded: r.succeeded,
    failed: r.failed,
    status: r.completedAt ? ('completed' as const) : ('in_progress' as const),
    created_at: isoSeconds(r.createdAt),
    completed_at: isoSeconds(r.completedAt),
  };
}

function webhookView(w: WebhookSubscription, now: Date) {
  return {
    id: w.id,
    url: w.url,
    events: w.events,
    enabled: w.enabled,
    disabled_reason: w.disabledReason ?? null,
    rate_limit: w.rateLimit ?? null,
    held_since: isoSeconds(w.heldSince),
    previous_secret_expires_at: w.previousSecretExpiresAt && w.previousSecretExpiresAt > now ? isoSeconds(w.previousSecretExpiresAt) : null,
    created_at: isoSeconds(w.createdAt),
    updated_at: isoSeconds(w.updatedAt),
  };
}

function deliveryView(d: WebhookDelivery) {
  return {
    id: d.id,
    event_id: d.eventId,
    event_type: d.eventType,
    status: d.status,
    attempts: d.attempts,
    attempted_at: isoSeconds(d.lastAttemptAt),
    response_status: d.responseStatus ?? null,
    latency_ms: d.latencyMs ?? null,
    next_attempt_at: isoSeconds(d.nextAttemptAt),
    error: d.error ?? null,
  };
}

function attemptView(a: WebhookAttempt) {
  return {
    number: a.number,
    attempted_at: isoSeconds(a.attemptedAt),
    response_status: a.responseStatus ?? null,
    latency_ms: a.latencyMs,
    error: a.error ?? null,
    response_snippet: a.responseSnippet ?? null,
  };
}

export function registerWebhookRoutes(root: FastifyInstance, webhooks: SubscriptionService, activity: DeliveryActivity, tokens: TokenService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const preHandler = [authenticate(tokens), requireTenant];
  const view = (w: WebhookSubscription) => webhookView(w, webhooks.now());

  app.get(
    '/v1/webhooks/event-types',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: 'The event catalog',
        description: 'Each event type with the scope needed to subscribe to it, the JSON Schema of its delivery body and an example.',
        response: { 200: EventTypes, ...errors },
      },
    },
    async () => ({ event_types: EVENT_CATALOG.map((e) => ({ ...documentedView(e), scope: e.scope })), test_event: documentedView(TEST_EVENT_DEFINITION) }),
  );

  app.post(
    '/v1/webhooks',
    {
      preHandler,
      schema: { tags, security, summary: 'Create a webhook subscription', body: CreateBody, response: { 201: CreatedWebhook, ...errors } },
    },
    async (request, reply) => {
      const { subscription, secret } = await webhooks.create(request.em, request.principal!, request.body);
      return reply.code(201).send({ ...view(subscription), ...(secret ? { secret } : {}) });
    },
  );

  app.get(
    '/v1/webhooks',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: 'List webhook subscriptions',
        querystring: Pagination,
        response: { 200: Type.Object({ webhooks: Type.Array(WebhookView), next_cursor: NextCursor }), ...errors },
      },
    },
    async (request) => {
      const page = await webhooks.list(request.em, request.principal!, request.query.limit, request.query.cursor);
      return { webhooks: page.items.map(view), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/webhooks/:webhook_id',
    { preHandler, schema: { tags, security, summary: 'Inspect a webhook', params: WebhookParams, response: { 200: WebhookView, ...errors } } },
    async (request) => view(await webhooks.get(request.em, request.principal!, request.params.webhook_id)),
  );

  app.put(
    '/v1/webhooks/:webhook_id',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: 'Update a webhook',
        description: 'Changes url, events, secret or enabled. A new secret overlaps the old one for 24 h: both signatures are sent.',
        params: WebhookParams,
        body: UpdateBody,
        response: { 200: WebhookView, ...errors },
      },
    },
    async (request) => view(await webhooks.update(request.em, request.principal!, request.params.webhook_id, request.body)),
  );

  app.delete(
    '/v1/webhooks/:webhook_id',
    { preHandler, schema: { tags, security, summary: 'Delete a webhook', params: WebhookParams, response: { 204: { type: 'null' }, ...errors } } },
    async (request, reply) => {
      await webhooks.remove(request.em, request.principal!, request.params.webhook_id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/webhooks/:webhook_id/deliveries',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: 'Review delivery attempts',
        params: WebhookParams,
        querystring: Type.Object({ ...Pagination.properties, status: Type.Optional(Type.String({ enum: DELIVERY_STATUSES })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ deliveries: Type.Array(DeliveryView), next_cursor: NextCursor }), ...errors },
      },
    },
    async (request) => {
      const { status, limit, cursor } = request.query;
      const page = await webhooks.deliveries(request.em, request.principal!, request.params.webhook_id, status as DeliveryStatus | undefined, limit, cursor);
      return { deliveries: page.items.map(deliveryView), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/webhooks/:webhook_id/deliveries/:delivery_id',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: 'One delivery with every attempt',
        params: DeliveryParams,
        response: {
          200: Type.Composite([
            DeliveryView,
            Type.Object({
              payload: Type.Unknown(),
              attempt_history: Type.Array(
                Type.Object({
                  number: Type.Integer(),
                  attempted_at: Timestamp,
                  response_status: Type.Union([Type.Integer(), Type.Null()]),
                  latency_ms: Type.Integer(),
                  error: Nullable(Type.String()),
                  response_snippet: Nullable(Type.String({ description: 'At most 2 KB of the response body' })),
                }),
              ),
            }),
          ]),
          ...errors,
        },
      },
    },
    async (request) => {
      const { delivery, attempts } = await webhooks.delivery(request.em, request.principal!, request.params.webhook_id, request.params.delivery_id);
      return { ...deliveryView(delivery), payload: JSON.parse(delivery.body), attempt_history: attempts.map(attemptView) };
    },
  );

  app.post(
    '/v1/webhooks/:webhook_id/deliveries/:delivery_id/redeliver',
    { preHandler, schema: { tags, security, summary: 'Deliver again', params: DeliveryParams, response: { 202: Queued, ...errors } } },
    async (request, reply) => {
      const delivery = await webhooks.redeliver(request.em, request.principal!, request.params.webhook_id, request.params.delivery_id);
      return reply.code(202).send({ delivery_id: delivery.id, status: 'queued' as const });
    },
  );

  app.post(
    '/v1/webhooks/:webhook_id/recover',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: 'Recover failed deliveries',
        description:
          'Sends again, once each, every delivery of this webhook that failed or is still retrying and was created in [since, until): ' +
          'new attempts of the same deliveries, with the same webhook-id. At most 14 days and 1000 deliveries a request (next_since says where to go on). ' +
          'webhook.recover.completed is sent when each has had its attempt.',
        params: WebhookParams,
        body: RecoverBody,
        response: { 202: RecoveryQueued, ...errors, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const { since, until } = request.body;
      const { recovery, nextSince } = await webhooks.recover(request.em, request.principal!, request.params.webhook_id, {
        since: instant(since, 'body.since'),
        until: until === undefined ? undefined : instant(until, 'body.until'),
      });
      const view = recoveryView(recovery);
      return reply.code(202).send({
        recovery_id: view.id,
        webhook_id: view.webhook_id,
        since: view.since,
        until: view.until,
        deliveries: view.deliveries,
        status: view.status,
        next_since: isoSeconds(nextSince),
      });
    },
  );

  app.get(
    '/v1/webhooks/:webhook_id/recoveries/:recovery_id',
    {
      preHandler,
      schema: { tags, security, summary: 'A recover request and its progress', params: RecoveryParams, response: { 200: RecoveryView, ...errors } },
    },
    async (request) => recoveryView(await webhooks.recovery(request.em, request.principal!, request.params.webhook_id, request.params.recovery_id)),
  );

  app.post(
    '/v1/webhooks/:webhook_id/test',
    { preHandler, schema: { tags, security, summary: 'Send a test webhook', params: WebhookParams, response: { 202: Queued, ...errors } } },
    async (request, reply) => {
      const delivery = await webhooks.sendTest(request.em, request.principal!, request.params.webhook_id);
      return reply.code(202).send({ delivery_id: delivery.id, status: 'queued' as const });
    },
  );

  app.get(
    '/v1/webhooks/:webhook_id/timeline',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: "A webhook's delivery attempts per hour",
        description: 'Attempts, successes, failures and latency percentiles of the subscription over the last `days` days: per hour (UTC) and in all.',
        params: WebhookParams,
        querystring: ActivityQuery,
        response: { 200: TimelineView, ...errors },
      },
    },
    async (request) => {
      const timeline = await activity.timeline(request.em, request.principal!, request.params.webhook_id, request.query.days);
      return { webhook_id: request.params.webhook_id, ...activityWindowView(timeline) };
    },
  );

  app.get(
    '/v1/platform/apps/:client_id/activity/webhooks',
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: "Delivery attempts of the app's webhooks per hour",
        description:
          "Attempts, successes, failures and latency percentiles of the app's own subscriptions over the last `days` days: per hour (UTC), per " +
          'subscription and in all. For the tenant admin, or the app itself with webhooks:read.',
        params: ClientParams,
        querystring: ActivityQuery,
        response: { 200: AppDeliveryActivityView, ...errors },
      },
    },
    async (request) => {
      const found = await activity.ofApp(request.em, request.principal!, request.params.client_id, request.query.days);
      return {
        client_id: request.params.client_id,
        ...activityWindowView(found),
        webhooks: found.webhooks.map((w) => ({ id: w.id, url: w.url, ...countsView(w) })),
      };
    },
  );
}
