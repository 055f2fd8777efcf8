// The platform module: apps and their lifecycle, governance, secrets, service tokens and the scope catalog, and
// every route under /v1/platform/* (users and the audit log through the tenancy and audit services).
import type { FeatureModule } from '../module.js';
import { APPS_CHANNEL, ClientDirectory } from './clients.js';
import { App, ClientSecret, Scope, ServiceToken } from './entities.js';
import { registerPlatformRoutes } from './routes.js';
import { ScopeCatalog } from './scopes.js';
import { PlatformService } from './service.js';

declare module '../module.js' {
  interface Services {
    platform: PlatformService;
    /** The apps as OAuth clients, for whoever authenticates one or looks one up across tenants. */
    clients: ClientDirectory;
  }
}

export const platformModule: FeatureModule = {
  name: 'platform',
  entities: [Scope, App, ClientSecret, ServiceToken],
  tenantOwned: [App, ClientSecret, ServiceToken],
  platformWide: [Scope],
  create(core, { audit, tenancy }) {
    const clients = new ClientDirectory(core.orm, core.clock);
    const scopes = new ScopeCatalog(core.orm, core.clock);
    const platform = new PlatformService(clients, scopes, core.tokens, core.revocations, audit, core.config, core.clock, core.logger);
    return {
      services: { platform, clients },
      routes: (app) => registerPlatformRoutes(app, { platform, tenancy, audit, tokens: core.tokens }),
      channels: { [APPS_CHANNEL]: (clientId) => clients.forget(clientId) },
      reconnected: () => clients.forgetAll(),
    };
  },
};
