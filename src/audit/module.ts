// The audit module: the audit log's tables (the tenants' events and the platform-wide ones) and the service every
// other module records its admin actions with.
import type { FeatureModule } from '../module.js';
import { AuditEvent, PlatformAuditEvent } from './entities.js';
import { AuditService } from './service.js';

declare module '../module.js' {
  interface Services {
    audit: AuditService;
  }
}

export const auditModule: FeatureModule = {
  name: 'audit',
  entities: [AuditEvent, PlatformAuditEvent],
  tenantOwned: [AuditEvent],
  platformWide: [PlatformAuditEvent],
  create: (core) => ({ services: { audit: new AuditService(core.clock) } }),
};
