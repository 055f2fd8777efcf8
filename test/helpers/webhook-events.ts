// Checks webhook deliveries as a subscriber would: the Standard Webhooks signature (standardwebhooks), and the body
// against the JSON Schema Tessera publishes for its type at GET /v1/webhooks/event-types, with Ajv in the dialect of
// OpenAPI 3.1 (JSON Schema 2020-12) and its formats (date-time). A test of any event type reads the published catalog
// once (EventCatalog.fetch) and hands every body its receiver got to expectValidDelivery.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import { Webhook } from 'standardwebhooks';
import { expect, vi } from 'vitest';
import { bearer, type Harness } from './harness.js';
import type { Received } from './receiver.js';

/** An event type as GET /v1/webhooks/event-types publishes it. */
export interface PublishedEvent {
  type: string;
  description: string;
  /** Absent for the test event, which nobody subscribes to. */
  scope?: string;
  schema: Record<string, unknown>;
  example: Record<string, unknown>;
}

/** The body of GET /v1/webhooks/event-types. */
export interface PublishedCatalog {
  event_types: PublishedEvent[];
  test_event: PublishedEvent;
}

/** A delivery body: the envelope every event shares. */
export interface DeliveryBody {
  id: string;
  type: string;
  created_at: string;
  tenant_id: string;
  data: Record<string, unknown>;
}

const describeError = (e: ErrorObject) => `${e.instancePath || '(body)'} ${e.message}${e.keyword === 'additionalProperties' ? `: ${e.params.additionalProperty}` : ''}`;

/** The published catalog with each type's schema compiled. */
export class EventCatalog {
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly published: PublishedCatalog) {
    // Strict: a schema with a keyword Ajv does not know, or types that contradict, fails here, not in a subscriber's hands.
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    formats.default(ajv);
    for (const event of this.events) this.validators.set(event.type, ajv.compile(event.schema));
  }

  /** Reads GET /v1/webhooks/event-types with `token` (any token with a tenant). */
  static async fetch(h: Pick<Harness, 'request'>, token: string): Promise<EventCatalog> {
    const res = await h.request({ method: 'GET', url: '/v1/webhooks/event-types', headers: bearer(token) });
    expect(res.statusCode, res.body).toBe(200);
    return new EventCatalog(res.json());
  }

  /** The subscribable types and the test event. */
  get events(): PublishedEvent[] {
    return [...this.published.event_types, this.published.test_event];
  }

  event(type: string): PublishedEvent {
    const found = this.events.find((e) => e.type === type);
    if (!found) throw new Error(`no published event type ${type}`);
    return found;
  }

  /** What is wrong with `body` as a delivery of the type it names: [] when nothing is. */
  problems(body: unknown): string[] {
    const type = (body as { type?: unknown } | null)?.type;
    const validate = typeof type === 'string' ? this.validators.get(type) : undefined;
    if (!validate) return [`no published schema for the type ${JSON.stringify(type)}`];
    return validate(body) ? [] : (validate.errors ?? []).map(describeError);
  }
}

/**
 * Expects `received` to be a delivery signed with `secret` (Standard Webhooks) whose body its type's published schema
 * accepts, with `webhook-id` the event id; answers the body. `now`: the time of a test whose clock has moved (the
 * library checks `webhook-timestamp` against its own now, within 5 minutes), else the real time.
 */
export function expectValidDelivery(received: Received, catalog: EventCatalog, secret: string, now?: number): DeliveryBody {
  const verified = (now === undefined ? verify(received, secret) : atTime(now, () => verify(received, secret))) as DeliveryBody;
  const body = JSON.parse(received.body) as DeliveryBody;
  expect(verified).toEqual(body);
  expect(received.headers['content-type']).toBe('application/json');
  expect(received.headers['webhook-id']).toBe(body.id);
  expect(catalog.problems(body), `a ${body.type} delivery: ${received.body}`).toEqual([]);
  return body;
}

function verify(received: Received, secret: string): unknown {
  return new Webhook(secret).verify(received.body, received.headers as Record<string, string>);
}

/** Runs `work` with Date reading `now` (only Date: no timer is faked), for a library that reads the time itself. */
function atTime<T>(now: number, work: () => T): T {
  vi.useFakeTimers({ toFake: ['Date'], now });
  try {
    return work();
  } finally {
    vi.useRealTimers();
  }
}
