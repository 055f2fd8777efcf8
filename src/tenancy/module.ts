// The tenancy module: tenants (sandboxes among them) and the users who sign in to them. Every process keeps how each
// tenant stands (a sandbox, until when) in memory for token issuance and admission, and drops it on NOTIFY.
import type { FeatureModule } from '../module.js';
import { Tenant, User } from './entities.js';
import { TENANTS_CHANNEL, TenancyService } from './service.js';

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
  create: (core, { audit }) => {
    const tenancy = new TenancyService(audit, core.orm, core.clock);
    return {
      services: { tenancy },
      channels: { [TENANTS_CHANNEL]: (tenantId) => tenancy.forget(tenantId) },
      reconnected: () => tenancy.forgetAll(),
    };
  },
};
