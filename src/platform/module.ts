// The platform module: apps and their lifecycle, governance, secrets, service tokens and the scope catalog (per
// tenant), every route under /v1/platform/* (users and the audit log through the tenancy and audit services) and the
// operator's tenant scopes under /api/v1/platform/tenants. It admits every verified token as its tenant stands now (a
// sandbox past its term is refused: the tenancy's part) and as its app stands now (its own part), both on every use.
import type { FeatureModule } from '../module.js';
import { AppStates } from './app-states.js';
import { ConsoleClients } from './console-clients.js';
import { APPS_CHANNEL, ClientDirectory } from './clients.js';
import { App, ClientSecret, Scope, ServiceToken, TenantScopes } from './entities.js';
import { AppLifecycle } from './lifecycle.js';
import { registerPlatformRoutes } from './routes.js';
import { ScopeCatalog, TENANT_SCOPES_CHANNEL } from './scopes.js';
import { PlatformService } from './service.js';

declare module '../module.js' {
  interface Services {
    platform: PlatformService;
    /** The apps as OAuth clients, for whoever authenticates one or looks one up across tenants. */
    clients: ClientDirectory;
    /** Where the features built after this one take their part in an app's suspension, resumption and deletion. */
    appLifecycle: AppLifecycle;
    /** The web console's own client in each tenant (README "Console"). */
    consoleClients: ConsoleClients;
  }
}

export const platformModule: FeatureModule = {
  name: 'platform',
  entities: [Scope, App, ClientSecret, ServiceToken, TenantScopes],
  tenantOwned: [App, ClientSecret, ServiceToken, TenantScopes],
  platformWide: [Scope],
  create(core, { audit, tenancy }) {
    const scopes = new ScopeCatalog(core.orm, audit, core.clock);
    const clients = new ClientDirectory(core.orm, core.clock, scopes);
    const platform = new PlatformService(clients, scopes, core.tokens, core.revocations, audit, core.config, core.clock, core.logger, tenancy);
    const appLifecycle = new AppLifecycle();
    const consoleClients = new ConsoleClients(core.orm, clients, core.box, audit, core.config);
    const states = new AppStates(platform, clients, appLifecycle, core.clock, core.logger);
    return {
      services: { platform, clients, appLifecycle, consoleClients },
      routes: (app) => registerPlatformRoutes(app, { platform, states, tenancy, audit, tokens: core.tokens, keyring: core.keyring }),
      // One admission may be declared (keys/tokens.ts): the tenant's standing first, then the app's.
      tokenAdmission: async (principal) => clients.admit(await tenancy.admit(principal)),
      channels: {
        [APPS_CHANNEL]: (clientId) => clients.forget(clientId),
        [TENANT_SCOPES_CHANNEL]: (tenantId) => {
          scopes.forget(tenantId);
          clients.forgetAll();
        },
      },
      reconnected: () => {
        scopes.forgetAll();
        clients.forgetAll();
      },
    };
  },
};
