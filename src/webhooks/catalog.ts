// The published event catalog: what can be subscribed to, the scope that reads each event, and the JSON Schema and an
// example of the body each delivers (event-schemas.ts). GET /v1/webhooks/event-types and the OpenAPI document's
// `webhooks` (openapi.ts) both publish it from here.
import type { TSchema } from '@sinclair/typebox';
import { SCOPE_ADMIN } from '../http/auth.js';
import { EVENT_EXAMPLES, EVENT_SCHEMAS, type EventBody, type SchemaEventType } from './event-schemas.js';

export const EVENT_TYPES = [
  'incident.created',
  'incident.updated',
  'incident.closed',
  'webhook.endpoint.disabled',
  'webhook.deliveries.held',
  'webhook.deliveries.released',
  'webhook.recover.completed',
  'integration_request.decided',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Sent by POST /v1/webhooks/{id}/test only; never subscribed to. */
export const TEST_EVENT = 'webhook.test';

/** An event type as published: what it means, and the body its deliveries carry. */
export interface DocumentedEvent<T extends SchemaEventType = SchemaEventType> {
  type: T;
  description: string;
  /** JSON Schema (2020-12, the dialect of OpenAPI 3.1) of the whole delivery body. */
  schema: TSchema;
  /** A body that the schema accepts. */
  example: EventBody<T>;
}

export interface EventDefinition<T extends EventType = EventType> extends DocumentedEvent<T> {
  /** Subscribing needs the scope that reads what the event carries. */
  scope: string;
}

function documented<T extends SchemaEventType>(type: T): DocumentedEvent<T> {
  const schema = EVENT_SCHEMAS[type];
  return { type, description: schema.description!, schema, example: EVENT_EXAMPLES[type] };
}

/**
 * Who may subscribe to each type. The operational events (webhook.*, integration_request.decided) tell about the
 * tenant's integrations as a whole, other apps' included, so only a tenant admin's own subscription may choose them.
 */
const SCOPES: { [T in EventType]: string } = {
  'incident.created': 'incidents:read',
  'incident.updated': 'incidents:read',
  'incident.closed': 'incidents:read',
  'webhook.endpoint.disabled': SCOPE_ADMIN,
  'webhook.deliveries.held': SCOPE_ADMIN,
  'webhook.deliveries.released': SCOPE_ADMIN,
  'webhook.recover.completed': SCOPE_ADMIN,
  'integration_request.decided': SCOPE_ADMIN,
};

export const EVENT_CATALOG: EventDefinition[] = EVENT_TYPES.map((type) => ({ ...documented(type), scope: SCOPES[type] }));

/** The test event, documented beside the catalog but not part of it: nobody subscribes to it. */
export const TEST_EVENT_DEFINITION: DocumentedEvent<typeof TEST_EVENT> = documented(TEST_EVENT);

export function eventDefinition(type: string): EventDefinition | undefined {
  return EVENT_CATALOG.find((e) => e.type === type);
}
