// The requests module: integration requests (a curated bundle, scopes, federation, a sandbox, platform access), made
// by a tenant admin or an app for itself and decided by an operator; approval works through the bundles, platform and
// sandboxes services, and the decision reaches the tenant's admins through the webhooks' outbox.
import type { FeatureModule } from '../module.js';
import { IntegrationRequest } from './entities.js';
import { registerRequestRoutes } from './routes.js';
import { IntegrationRequestService } from './service.js';

declare module '../module.js' {
  interface Services {
    integrationRequests: IntegrationRequestService;
  }
}

export const requestsModule: FeatureModule = {
  name: 'requests',
  entities: [IntegrationRequest],
  tenantOwned: [IntegrationRequest],
  platformWide: [],
  create(core, { platform, clients, tenancy, bundles, sandboxes, events, audit }) {
    const requests = new IntegrationRequestService(platform, clients, tenancy, bundles, sandboxes, events, audit, core.clock, core.logger);
    return {
      services: { integrationRequests: requests },
      routes: (app) => registerRequestRoutes(app, { requests, tokens: core.tokens }),
    };
  },
};
