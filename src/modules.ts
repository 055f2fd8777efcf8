// The one list of Tessera's feature modules, in the order they are built: a module may use the services of the
// modules above it (federation: the tenancy's users, the OAuth flow it plugs into, the webhooks' SSRF-safe client). src/runtime.ts builds them (tables, services, jobs, channels) and src/app.ts registers their
// routes; the GraphQL schema is made of the types they add.
import type { GraphQLSchema } from 'graphql';
import { auditModule } from './audit/module.js';
import { bundlesModule } from './bundles/module.js';
import { consoleModule } from './console/module.js';
import { federationModule } from './federation/module.js';
import type { DataModel } from './db/orm.js';
import { buildSchema } from './graphql/schema.js';
import { incidentsModule } from './incidents/module.js';
import { keyEntities } from './keys/entities.js';
import type { FeatureModule } from './module.js';
import { oauthModule } from './oauth/module.js';
import { platformModule } from './platform/module.js';
import { requestsModule } from './requests/module.js';
import { sandboxesModule } from './sandboxes/module.js';
import { tenancyModule } from './tenancy/module.js';
import { webhooksModule } from './webhooks/module.js';

export const modules: FeatureModule[] = [auditModule, tenancyModule, platformModule, oauthModule, webhooksModule, federationModule, incidentsModule, bundlesModule, sandboxesModule, requestsModule, consoleModule];

/** Every table the ORM maps: the signing keys' (platform-wide) and each module's. */
export const dataModel: DataModel = {
  entities: [...keyEntities, ...modules.flatMap((m) => m.entities)],
  tenantOwned: modules.flatMap((m) => m.tenantOwned),
  platformWide: [...keyEntities, ...modules.flatMap((m) => m.platformWide)],
};

/** The GraphQL schema of every module's types. */
export function schema(): GraphQLSchema {
  return buildSchema(modules.flatMap((m) => (m.graphql ? [m.graphql] : [])));
}
