// The tenant admin's pages (session kind `admin`): apps, users, the audit log, identity providers, integration
// requests and settings. Each file registers one area; every page reads and changes things through the REST API as
// the signed-in admin (README "Console"). The webhooks pages of the navigation are another area's.
import type { FastifyInstance } from 'fastify';
import { registerAppPages } from './admin-app.js';
import { registerAppListPages } from './admin-apps.js';
import { registerAuditPages } from './admin-audit.js';
import { registerIdentityProviderPages } from './admin-identity-providers.js';
import { registerRequestPages } from './admin-requests.js';
import { registerSettingsPages } from './admin-settings.js';
import { registerUserPages } from './admin-users.js';
import type { AreaDeps } from './kit.js';

export function registerAdminPages(app: FastifyInstance, deps: AreaDeps): void {
  registerAppListPages(app, deps);
  registerAppPages(app, deps);
  registerUserPages(app, deps);
  registerAuditPages(app, deps);
  registerIdentityProviderPages(app, deps);
  registerRequestPages(app, deps);
  registerSettingsPages(app, deps);
}
