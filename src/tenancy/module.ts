// The tenancy module: tenants (sandboxes among them) and their sign-in policy, the users who sign in to them and
// their second factors (mfa.ts). Every process keeps how each tenant stands (a sandbox, until when) in memory for
// token issuance and admission, and drops it on NOTIFY.
import type { FeatureModule } from '../module.js';
import { Tenant, User, UserRecoveryCode, UserTotp } from './entities.js';
import { TENANTS_CHANNEL, TenancyService } from './service.js';

declare module '../module.js' {
  interface Services {
    tenancy: TenancyService;
  }
}

export const tenancyModule: FeatureModule = {
  name: 'tenancy',
  entities: [Tenant, User, UserTotp, UserRecoveryCode],
  tenantOwned: [User, UserTotp, UserRecoveryCode],
  platformWide: [Tenant],
  create: (core, { audit }) => {
    const tenancy = new TenancyService(audit, core.orm, core.clock, core.box);
    return {
      services: { tenancy },
      channels: { [TENANTS_CHANNEL]: (tenantId) => tenancy.forget(tenantId) },
      reconnected: () => tenancy.forgetAll(),
    };
  },
};
