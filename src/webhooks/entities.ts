import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const WebhookSubscription = defineEntity({
  name: 'WebhookSubscription',
  tableName: 'webhook_subscriptions',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    /** The app whose token created it; null when a tenant admin did. An app sees only its own. */
    ownerClientId: p.string().nullable(),
    createdBy: p.string(),
    url: p.text(),
    events: p.json<string[]>(),
    enabled: p.boolean(),
    disabledReason: p.text().nullable(),
    secretSealed: p.text().hidden(),
    previousSecretSealed: p.text().nullable(),
    previousSecretExpiresAt: p.datetime().nullable(),
    /** Start of the current run of failures; cleared by a success, and when held deliveries are released. */
    failingSince: p.datetime().nullable(),
    /** Set while the owning app is suspended: deliveries are held, not attempted (README "App states"). */
    heldSince: p.datetime().nullable(),
    /**
     * Deliveries per second at most, across every worker process; null: as fast as they come. (The throttle's state,
     * `throttle_next_at`, is the delivery engine's alone: delivery-store.ts, not mapped here.)
     */
    rateLimit: p.integer().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  },
});
export type WebhookSubscription = InferEntity<typeof WebhookSubscription>;

/** `held`: its subscription's app is suspended; it is sent, in order, once the app is resumed. */
export type DeliveryStatus = 'queued' | 'retrying' | 'succeeded' | 'failed' | 'held';

export const WebhookDelivery = defineEntity({
  name: 'WebhookDelivery',
  tableName: 'webhook_deliveries',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    webhookId: p.string(),
    /** The event id: the `webhook-id` header, stable across retries and redeliveries. */
    eventId: p.string(),
    eventType: p.string(),
    /** The exact JSON body sent on every attempt. */
    body: p.text(),
    status: p.string().$type<DeliveryStatus>(),
    attempts: p.integer(),
    lastAttemptAt: p.datetime().nullable(),
    nextAttemptAt: p.datetime().nullable(),
    responseStatus: p.integer().nullable(),
    latencyMs: p.integer().nullable(),
    error: p.text().nullable(),
    /** The recover request its next attempt counts toward; cleared by that attempt. */
    recoveryId: p.string().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  },
});
export type WebhookDelivery = InferEntity<typeof WebhookDelivery>;

/** A recover request: resends of a subscription's failed and retrying deliveries of a window, once each. */
export const WebhookRecovery = defineEntity({
  name: 'WebhookRecovery',
  tableName: 'webhook_recoveries',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    webhookId: p.string(),
    since: p.datetime(),
    until: p.datetime(),
    /** How many deliveries it resends; `remaining` of them have not had their new attempt yet. */
    deliveries: p.integer(),
    remaining: p.integer(),
    succeeded: p.integer(),
    failed: p.integer(),
    requestedBy: p.string(),
    createdAt: p.datetime(),
    completedAt: p.datetime().nullable(),
  },
});
export type WebhookRecovery = InferEntity<typeof WebhookRecovery>;

export const WebhookAttempt = defineEntity({
  name: 'WebhookAttempt',
  tableName: 'webhook_attempts',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    deliveryId: p.string(),
    /** Its delivery's subscription, written with the attempt: a subscription's recent attempts are one index range (activity.ts). */
    webhookId: p.string(),
    number: p.integer(),
    attemptedAt: p.datetime(),
    responseStatus: p.integer().nullable(),
    latencyMs: p.integer(),
    error: p.text().nullable(),
    /** At most 2 KB of the response body. */
    responseSnippet: p.text().nullable(),
  },
});
export type WebhookAttempt = InferEntity<typeof WebhookAttempt>;

/** An event of the outbox: what happened, written in the same statement as the change it describes. */
export const DomainEvent = defineEntity({
  name: 'DomainEvent',
  tableName: 'domain_events',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    type: p.string(),
    data: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
    /** When the event was fanned out to the tenant's subscriptions. */
    dispatchedAt: p.datetime().nullable(),
    /** The W3C trace context of the change that wrote it (webhooks/outbox.ts), for its delivery attempts' spans. */
    traceparent: p.string().nullable(),
  },
});
export type DomainEvent = InferEntity<typeof DomainEvent>;
