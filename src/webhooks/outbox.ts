// The domain event outbox: a change and the event describing it commit in one transaction, so no event
// is lost and none is sent for a change that rolled back. The webhook dispatcher reads from here.
import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from '../ids.js';

export const EVENT_TYPES = ['incident.created', 'incident.updated', 'incident.closed'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const DomainEvent = defineEntity({
  name: 'DomainEvent',
  tableName: 'domain_events',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    type: p.string(),
    data: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
    /** Set once the event has been fanned out to the tenant's subscriptions. */
    dispatchedAt: p.datetime().nullable(),
  },
});
export type DomainEvent = InferEntity<typeof DomainEvent>;

export function recordEvent(em: EntityManager, tenantId: string, type: EventType, data: Record<string, unknown>): DomainEvent {
  return em.create(DomainEvent, { id: newId('evt'), tenantId, type, data, createdAt: new Date(), dispatchedAt: null });
}
