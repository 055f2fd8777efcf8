// The tenancy module: tenants and the users who sign in to them.
import type { FeatureModule } from '../module.js';
import { Tenant, User } from './entities.js';
import { TenancyService } from './service.js';

declare module '../module.js' {
  interface Services {
    tenancy: TenancyService;
  }
}

export const tenancyModule: FeatureModule = {
  name: 'tenancy',
  entities: [Tenant, User],
  tenantOwned: [User],
  platformWide: [Tenant],
  create: (_core, { audit }) => ({ services: { tenancy: new TenancyService(audit) } }),
};
