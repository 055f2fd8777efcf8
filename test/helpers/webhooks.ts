// A Tessera that delivers webhooks in process to a receiver on 127.0.0.1 (allowed over http), retrying every
// second and looking for due retries every 100 ms, with tenant `acme` and a partner app holding the incident
// bundles. The receiver notes arrivals by the harness's clock.
import { partner, publishShippedBundles, type Partner } from './graphql.js';
import { startHarness, type Harness, type TenantFixture } from './harness.js';
import { Receiver } from './receiver.js';

export interface WebhookFixture {
  h: Harness;
  acme: TenantFixture;
  sync: Partner;
  receiver: Receiver;
}

export async function startWebhookFixture(timeoutSeconds: number): Promise<WebhookFixture> {
  const h = await startHarness(
    { WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WEBHOOK_HTTP_HOSTS: '127.0.0.1', WEBHOOK_RETRY_SCHEDULE: '1,1,1', WEBHOOK_TIMEOUT: String(timeoutSeconds), WORKER_POLL_INTERVAL: '100' },
    { worker: true },
  );
  const acme = await h.tenant('acme');
  await publishShippedBundles(h);
  const sync = await partner(h, acme, ['incident-read', 'incident-sync']);
  const receiver = await new Receiver(h.clock).start();
  return { h, acme, sync, receiver };
}
