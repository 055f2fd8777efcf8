// The console's integration areas, registered together (pages/index.ts): webhooks and their deliveries for tenant
// admins and partners (webhooks.ts), the partner's operations and manifests (partner.ts), and an app's activity
// pictures (activity.ts).
import type { FastifyInstance } from 'fastify';
import { registerActivityPages } from './activity.js';
import type { AreaDeps } from './kit.js';
import { registerPartnerPages } from './partner.js';
import { registerWebhookPages } from './webhooks.js';

export function registerIntegrationPages(app: FastifyInstance, deps: AreaDeps): void {
  registerWebhookPages(app, deps);
  registerPartnerPages(app, deps);
  registerActivityPages(app, deps);
}
