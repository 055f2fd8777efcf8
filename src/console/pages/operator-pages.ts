// The operator's area of the console (session kind `operator`; README "Console"): tenants and sandboxes, operation
// bundles and their releases, every tenant's integration requests, the signing keys. Every page reads and changes
// through the operator REST API under /api/v1/platform/*, as the signed-in operator.
import type { FastifyInstance } from 'fastify';
import type { AreaDeps } from './kit.js';
import { registerOperatorBundlePages } from './operator-bundles.js';
import { registerOperatorKeyPages } from './operator-keys.js';
import { registerOperatorRequestPages } from './operator-requests.js';
import { registerOperatorTenantPages } from './operator-tenants.js';

export function registerOperatorPages(app: FastifyInstance, deps: AreaDeps): void {
  registerOperatorTenantPages(app, deps);
  registerOperatorBundlePages(app, deps);
  registerOperatorRequestPages(app, deps);
  registerOperatorKeyPages(app, deps);
}
