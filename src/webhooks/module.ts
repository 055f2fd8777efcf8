// The webhooks module: subscriptions (REST and GraphQL), the event outbox other modules write their events to,
// the delivery engine its jobs run (where the process runs jobs), recover requests, delivery attempts per hour (a
// subscription's timeline, an app's activity: activity.ts), and its part in an app's lifecycle (held deliveries while
// the app is suspended; its subscriptions gone with it).
import type { FeatureModule } from '../module.js';
import { DeliveryActivity } from './activity.js';
import { AppWebhooks } from './app-webhooks.js';
import { DeliveryStore } from './delivery-store.js';
import { DeliveryEngine } from './engine.js';
import { DomainEvent, WebhookAttempt, WebhookDelivery, WebhookRecovery, WebhookSubscription } from './entities.js';
import { FailureRecorder } from './failures.js';
import { addWebhookTypes } from './graphql.js';
import { WebhookHttpClient } from './http.js';
import { openapiWebhooks } from './openapi.js';
import { DELIVER_TASK, DISPATCH_TASK, EventOutbox, RELEASE_TASK, type DeliveryJob } from './outbox.js';
import { RecoveryLedger } from './recoveries.js';
import { RetryPolicy } from './retry-policy.js';
import { Throttle } from './throttle.js';
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
    /**
     * The SSRF-safe client, for the one other outbound need: federation's identity provider documents (discovery,
     * JWKS, token exchange). Outbound connections open nowhere else (DESIGN "The shape").
     */
    outbound: WebhookHttpClient;
  }
}

const entities = [DomainEvent, WebhookSubscription, WebhookDelivery, WebhookAttempt, WebhookRecovery];

/** How often a process that runs jobs settles the recoveries a settle was missed for (a worker killed mid-way). */
const SETTLE_OPEN_RECOVERIES_MS = 60_000;

export const webhooksModule: FeatureModule = {
  name: 'webhooks',
  entities,
  tenantOwned: entities,
  platformWide: [],
  graphql: addWebhookTypes,
  create(core, { audit, appLifecycle, clients }) {
    const { config, clock } = core;
    const http = new WebhookHttpClient({ allowedNetworks: config.webhooks.allowedNetworks, timeoutMs: config.webhooks.timeoutMs, resolver: core.resolver });
    const secrets = new SigningSecrets(core.box);
    const events = new EventOutbox(clock);
    const recoveries = new RecoveryLedger(core.orm, events, audit, clock, core.logger);
    const webhooks = new SubscriptionService(secrets, http, audit, recoveries, config, clock);
    const activity = new DeliveryActivity(webhooks, clients, clock);
    const failures = new FailureRecorder(core.orm, new RetryPolicy(config.webhooks.retrySchedule, clock), audit, events, config.webhooks.disableAfter, clock);
    const telemetry = new DeliveryTelemetry(core.logger, core.metrics, core.pool, clock);
    const store = new DeliveryStore(core.pool);
    const throttle = new Throttle(store, { pollIntervalMs: config.worker.pollInterval, attemptTimeoutMs: config.webhooks.timeoutMs }, core.logger);
    const deliveries = new DeliveryEngine(store, failures, secrets, http, clock, telemetry, recoveries, throttle, core.logger);
    appLifecycle.listen(new AppWebhooks(events, audit, core.logger));
    const settleQuietly = () => void recoveries.settleOpen().catch((e) => core.logger.warn({ err: e }, 'settling open webhook recoveries failed'));
    let timer: NodeJS.Timeout | undefined;
    return {
      services: { events, webhooks, deliveries, outbound: http },
      graphql: { webhooks },
      routes: (app) => registerWebhookRoutes(app, webhooks, activity, core.tokens),
      openapi: { webhooks: openapiWebhooks() },
      jobs: {
        [DELIVER_TASK]: async (payload) => {
          const { tenantId, deliveryId, slot } = payload as DeliveryJob & { deliveryId: string; slot?: string };
          await deliveries.attempt(deliveryId, tenantId, slot ? new Date(slot) : undefined);
        },
        [DISPATCH_TASK]: async (payload) => {
          const { tenantId, deliveryIds } = payload as DeliveryJob & { deliveryIds: string[] };
          await deliveries.dispatch(deliveryIds, tenantId);
        },
        [RELEASE_TASK]: async (payload) => {
          const { tenantId, deliveryIds } = payload as DeliveryJob & { deliveryIds: string[] };
          await deliveries.release(deliveryIds, tenantId);
        },
      },
      async start({ background }) {
        if (!background || !core.runsJobs) return;
        timer = setInterval(settleQuietly, SETTLE_OPEN_RECOVERIES_MS);
        timer.unref();
      },
      stop: () => {
        clearInterval(timer);
        deliveries.stop();
        return http.close();
      },
    };
  },
};
