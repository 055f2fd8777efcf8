// Sandbox tenants (README "Sandbox tenants"): made by an operator or by an approved integration request, with a first
// admin whose generated password is shown once, and sample incidents; marked sandbox in every token; refused once past
// their term; removed after a grace period. The tenant rows and their standing are the tenancy's; this service puts a
// sandbox together (tenant, admin, samples) and runs the sweep.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { bindTenant } from '../db/tenant.js';
import { SCOPE_ADMIN } from '../http/auth.js';
import type { Page } from '../http/pagination.js';
import type { IncidentService } from '../incidents/service.js';
import type { TokenService } from '../keys/tokens.js';
import type { Logger } from '../observability/log.js';
import type { SandboxFieldNames, SweptSandbox, Tenant, TenancyService, User } from '../tenancy/service.js';
import { seedSampleIncidents } from './samples.js';

export type { Tenant } from '../tenancy/service.js';

/** The client id of the tokens the platform mints for itself (the CLI's), which are admitted as they stand. */
const PLATFORM_CLIENT_ID = 'tessera-cli';

/** How the operator's REST body names a sandbox's fields, for its error messages. */
export const REST_FIELDS: SandboxFieldNames = { name: 'body.name', slug: 'body.slug', adminEmail: 'body.admin_email', ttlDays: 'body.ttl_days' };

export interface SandboxInput {
  name: string;
  slug?: string;
  adminEmail: string;
  /** Default: SANDBOX_TTL_DAYS. */
  ttlDays?: number;
  /** The tenant whose approved integration request asked for it. */
  parentTenantId?: string | null;
}

export interface CreatedSandbox {
  tenant: Tenant;
  admin: User;
  /** Generated, shown once: only its argon2id hash is kept. */
  adminPassword: string;
  sampleIncidents: number;
}

export interface SweepOutcome {
  expired: SweptSandbox[];
  removed: SweptSandbox[];
}

/** `active` until its term, `expired` after (disabled by the sweep, or about to be). */
export function sandboxStatus(tenant: Tenant, now: number): 'active' | 'expired' {
  return tenant.disabledAt || (tenant.expiresAt && tenant.expiresAt.getTime() <= now) ? 'expired' : 'active';
}

export class SandboxService {
  constructor(
    private readonly orm: MikroORM,
    private readonly tenancy: TenancyService,
    private readonly incidents: IncidentService,
    private readonly tokens: TokenService,
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** A password a person types once and changes: 24 URL-safe characters (144 random bits), as `bootstrap` makes. */
  newPassword(): string {
    return randomBytes(18).toString('base64url');
  }

  /**
   * A sandbox, its admin and its sample incidents, in one transaction (nested in `em`'s when it has one: an
   * approval's), so that a sandbox exists with all of it or not at all. `names`: how the caller named the fields.
   */
  async create(em: EntityManager, input: SandboxInput, actor: string, names: SandboxFieldNames = REST_FIELDS): Promise<CreatedSandbox> {
    const adminPassword = this.newPassword();
    const ttlDays = input.ttlDays ?? this.config.sandboxes.ttlDays;
    const created = await em.transactional(async (tx) => {
      const { tenant, user } = await this.tenancy.createSandbox(tx, { ...input, ttlDays, adminPassword }, actor, names);
      // This transaction's EntityManager is its own fork: bound to the sandbox, it leaves the caller's as it was.
      bindTenant(tx, tenant.id);
      const sampleIncidents = await seedSampleIncidents(tx, this.incidents, tenant.id);
      return { tenant, admin: user, sampleIncidents };
    });
    this.log.info(
      { tenant_id: created.tenant.id, slug: created.tenant.slug, actor, parent_tenant_id: created.tenant.parentTenantId, expires_at: created.tenant.expiresAt?.toISOString() },
      'sandbox tenant created',
    );
    return { ...created, adminPassword };
  }

  /** A tenant-admin token of the sandbox for its admin, as `bootstrap` prints one (with the `sandbox` claim). */
  async adminToken(tenantId: string, adminUserId: string): Promise<{ token: string; expiresAt: Date }> {
    const issued = await this.tokens.issue({ subject: adminUserId, clientId: PLATFORM_CLIENT_ID, scopes: [SCOPE_ADMIN], tenantId, ttlSeconds: this.config.tokens.accessTtl, sandbox: true });
    return { token: issued.token, expiresAt: issued.expiresAt };
  }

  async list(em: EntityManager, limit: number, cursor?: string, parentTenantId?: string): Promise<Page<Tenant>> {
    return this.tenancy.listSandboxes(em, limit, cursor, parentTenantId);
  }

  status(tenant: Tenant): 'active' | 'expired' {
    return sandboxStatus(tenant, this.clock.now());
  }

  /**
   * Disables the sandboxes past their term and removes those past the grace period after it (SANDBOX_REMOVE_AFTER_DAYS):
   * run on a timer where the process runs jobs, and by tests after moving the clock. Any process may run it at the
   * same time as another: each statement decides its rows once, so each sandbox is disabled, audited and removed once.
   */
  async sweep(): Promise<SweepOutcome> {
    const em = this.orm.em.fork();
    const expired = await this.tenancy.disableExpiredSandboxes(em, 'system');
    for (const sandbox of expired) {
      this.log.info({ tenant_id: sandbox.id, slug: sandbox.slug, expires_at: sandbox.expiresAt.toISOString() }, 'sandbox tenant expired: its tokens are refused');
    }
    const removed = await this.tenancy.removeExpiredSandboxes(em, this.config.sandboxes.removeAfterDays, 'system');
    for (const sandbox of removed) {
      this.log.warn({ tenant_id: sandbox.id, slug: sandbox.slug, expires_at: sandbox.expiresAt.toISOString() }, 'sandbox tenant removed with all its data');
    }
    return { expired, removed };
  }
}
