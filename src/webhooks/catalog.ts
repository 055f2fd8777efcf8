// The published event catalog: what can be subscribed to, and the scope that reads each event.
export const EVENT_TYPES = ['incident.created', 'incident.updated', 'incident.closed'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface EventDefinition {
  type: EventType;
  description: string;
  /** Subscribing needs the scope that reads what the event carries. */
  scope: string;
}

export const EVENT_CATALOG: EventDefinition[] = [
  { type: 'incident.created', description: 'An incident was opened', scope: 'incidents:read' },
  { type: 'incident.updated', description: 'An incident changed (fields or notes)', scope: 'incidents:read' },
  { type: 'incident.closed', description: 'An incident was closed', scope: 'incidents:read' },
];

/** Sent by POST /v1/webhooks/{id}/test only; never subscribed to. */
export const TEST_EVENT = 'webhook.test';

export function eventDefinition(type: string): EventDefinition | undefined {
  return EVENT_CATALOG.find((e) => e.type === type);
}
