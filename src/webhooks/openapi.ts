// The OpenAPI 3.1 `webhooks` of the document at /api/docs: one Path Item per event type, the request Tessera sends
// to a subscriber. The module hands it to app.ts (Feature.openapi), which names no feature.
import { EVENT_CATALOG, TEST_EVENT_DEFINITION, type DocumentedEvent } from './catalog.js';

/** The Standard Webhooks headers every delivery carries (https://www.standardwebhooks.com/, "Signature scheme"). */
const SIGNATURE_HEADERS = [
  {
    name: 'webhook-id',
    in: 'header',
    required: true,
    description: "The event id (the body's `id`): the same in every attempt and redelivery, so the receiver's idempotency key",
    schema: { type: 'string' },
  },
  {
    name: 'webhook-timestamp',
    in: 'header',
    required: true,
    description: 'When this attempt was signed, in seconds since the Unix epoch: refuse one far from your clock (replay protection)',
    schema: { type: 'string', pattern: '^[0-9]+$' },
  },
  {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    description:
      'Space-separated `v1,<base64 HMAC-SHA256>` signatures of `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the ' +
      "base64-decoded part of the subscription's whsec_ secret after the prefix; two while a rotated secret overlaps the new one. " +
      'Accept the request when one of them matches',
    schema: { type: 'string' },
  },
] as const;

function pathItem(event: DocumentedEvent, subscribe: string) {
  return {
    post: {
      summary: event.description,
      description: `Tessera sends this to a subscription's URL. ${subscribe}`,
      tags: ['Webhooks'],
      parameters: SIGNATURE_HEADERS,
      requestBody: { required: true, content: { 'application/json': { schema: event.schema, example: event.example } } },
      responses: {
        '2XX': { description: 'Acknowledged: the delivery succeeded, and is not sent again. Answer quickly, before doing the work' },
        default: {
          description: 'Any other answer, or none before the timeout, is a failed attempt: retried later with the same webhook-id. A 410 Gone disables the subscription',
        },
      },
    },
  };
}

/** The `webhooks` section: every subscribable event type, and the test event. */
export function openapiWebhooks(): Record<string, unknown> {
  const items: Record<string, unknown> = {};
  for (const event of EVENT_CATALOG) items[event.type] = pathItem(event, `Subscribing to it needs the scope ${event.scope}.`);
  items[TEST_EVENT_DEFINITION.type] = pathItem(TEST_EVENT_DEFINITION, 'Nobody subscribes to it: it comes only when asked for.');
  return items;
}
