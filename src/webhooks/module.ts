// The webhooks module: subscriptions (REST and GraphQL), the event outbox other modules write their events to,
// and the delivery engine its jobs run (where the process runs jobs).
import type { FeatureModule } from '../module.js';
import { DeliveryStore } from './delivery-store.js';
import { DeliveryEngine } from './engine.js';
import { DomainEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription } from './entities.js';
import { FailureRecorder } from './failures.js';
import { addWebhookTypes } from './graphql.js';
import { WebhookHttpClient } from './http.js';
import { openapiWebhooks } from './openapi.js';
import { DELIVER_TASK, DISPATCH_TASK, EventOutbox, type DeliveryJob } from './outbox.js';
import { RetryPolicy } from './retry-policy.js';
import { registerWebhookRoutes } from './routes.js';
import { SigningSecrets } from './secrets.js';
import { SubscriptionService } from './subscriptions.js';
import { DeliveryTelemetry } from './telemetry.js';

declare module '../module.js' {
  interface Services {
    /** Where other modules write the events of their changes. */
    events: EventOutbox;
    webhooks: SubscriptionService;
    deliveries: DeliveryEngine;
  }
}

const entities = [DomainEvent, WebhookSubscription, WebhookDelivery, WebhookAttempt];

export const webhooksModule: FeatureModule = {
  name: 'webhooks',
  entities,
  tenantOwned: entities,
  platformWide: [],
  graphql: addWebhookTypes,
  create(core, { audit }) {
    const { config, clock } = core;
    const http = new WebhookHttpClient({ allowedNetworks: config.webhooks.allowedNetworks, timeoutMs: config.webhooks.timeoutMs, resolver: core.resolver });
    const secrets = new SigningSecrets(core.box);
    const webhooks = new SubscriptionService(secrets, http, audit, config, clock);
    const failures = new FailureRecorder(core.orm, new RetryPolicy(config.webhooks.retrySchedule, clock), audit, config.webhooks.disableAfter, clock);
    const telemetry = new DeliveryTelemetry(core.logger, core.metrics, core.pool, clock);
    const deliveries = new DeliveryEngine(new DeliveryStore(core.pool), failures, secrets, http, clock, telemetry);
    return {
      services: { events: new EventOutbox(clock), webhooks, deliveries },
      graphql: { webhooks },
      routes: (app) => registerWebhookRoutes(app, webhooks, core.tokens),
      openapi: { webhooks: openapiWebhooks() },
      jobs: {
        [DELIVER_TASK]: async (payload) => {
          const { tenantId, deliveryId } = payload as DeliveryJob & { deliveryId: string };
          await deliveries.attempt(deliveryId, tenantId);
        },
        [DISPATCH_TASK]: async (payload) => {
          const { tenantId, deliveryIds } = payload as DeliveryJob & { deliveryIds: string[] };
          await deliveries.dispatch(deliveryIds, tenantId);
        },
      },
      stop: () => http.close(),
    };
  },
};
