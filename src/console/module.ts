// The console module (README "Console"): the web console for tenant admins, operators and partners, served by the
// same server at /console. It is an OAuth client of Tessera (auth-routes.ts) that reads and changes everything through
// the REST API, as the signed-in person (api.ts); its pages are server-rendered HTML that works without JavaScript
// (DESIGN "The console" says why). It owns no table.
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FeatureModule } from '../module.js';
import { registerAuthRoutes } from './auth-routes.js';
import { ConsoleContext } from './context.js';
import { registerConsolePages } from './pages/index.js';
import { ConsoleSessions } from './session.js';

/** Only a plain-http loopback issuer (local development, the tests) goes without Secure cookies. */
function secureCookies(issuer: string): boolean {
  const url = new URL(issuer);
  return !(url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname));
}

export const consoleModule: FeatureModule = {
  name: 'console',
  entities: [],
  tenantOwned: [],
  platformWide: [],
  create(core, { consoleClients, tenancy }) {
    const sessions = new ConsoleSessions(core.box, secureCookies(core.config.issuer), core.config.oauth.sessionTtl);
    const credentials = async (session: { kind: string; clientTenantId: string }) =>
      session.kind === 'admin' || session.kind === 'operator' || session.kind === 'member' ? consoleClients.forTenant({ id: session.clientTenantId, operators: session.kind === 'operator' }) : null;
    return {
      routes: async (app) => {
        // The console's pages alone read cookies and forms: their own context, like the hosted sign-in pages'.
        await app.register(async (scope) => {
          await scope.register(formbody);
          await scope.register(cookie);
          // Requests to the REST API go through the root instance, as any client's would.
          const context = new ConsoleContext(app, sessions, credentials, core.clock);
          registerAuthRoutes(scope, { root: app, context, sessions, consoleClients, tenancy, config: core.config, clock: core.clock });
          registerConsolePages(scope, { context, schema: core.schema });
        });
      },
    };
  },
};
