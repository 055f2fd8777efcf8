// The tenant filter (DESIGN "Conventions" 8): queries on a tenant-owned entity see only the rows of the tenant
// bound to their EntityManager, and one that runs with no tenant bound fails instead of reading every tenant.
import type { EntityManager } from '@mikro-orm/postgresql';

export const TENANT_FILTER = 'tenant';

/** A fork of `em` whose queries see only `tenantId`'s rows. */
export function forTenant(em: EntityManager, tenantId: string): EntityManager {
  const fork = em.fork();
  fork.setFilterParams(TENANT_FILTER, { tenantId });
  return fork;
}

/** Binds `em` itself to `tenantId` (a request's own fork, once its caller is known). */
export function bindTenant(em: EntityManager, tenantId: string): void {
  em.setFilterParams(TENANT_FILTER, { tenantId });
}

/** The tenant `em` is bound to, if any. */
export function boundTenant(em: EntityManager): string | undefined {
  const tenantId = (em.getFilterParams(TENANT_FILTER) as { tenantId?: unknown } | undefined)?.tenantId;
  return typeof tenantId === 'string' && tenantId ? tenantId : undefined;
}

/** The MikroORM filter definition for the entities modules declare tenant-owned. */
export function tenantFilter(entityNames: string[]) {
  return {
    [TENANT_FILTER]: {
      name: TENANT_FILTER,
      entity: entityNames,
      cond: (args: { tenantId: string }) => ({ tenantId: args.tenantId }),
      default: true,
    },
  };
}
