// The scope catalog: the published scopes, and which of them each tenant may use. Unpublished scopes never appear
// and can never be requested; an operator may narrow a tenant to some of the published ones (the contract: "Do not
// assume unpublished scopes exist or are available to your tenant"). A tenant nobody narrowed may use them all.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { AuditService } from '../audit/service.js';
import type { Clock } from '../clock.js';
import { InvalidScope } from '../errors.js';
import { Scope, TenantScopes } from './entities.js';

/**
 * The OpenID Connect scopes (OIDC Core sections 3.1.2.1 and 5.4): they speak of a signed-in user, so only a user's
 * authorization (the authorization code grant) carries them; a client's token for itself (client credentials, a
 * service token) has no user to speak of and never carries one.
 */
export const USER_SCOPES: ReadonlySet<string> = new Set(['openid', 'profile', 'email']);

/** The published catalog changes only by migration, so a short in-process cache is safe. */
const CACHE_MS = 10_000;

/** NOTIFY channel of a change to a tenant's scopes (payload: the tenant id), so every process forgets its copy. */
export const TENANT_SCOPES_CHANNEL = 'tessera_tenant_scopes';

export interface PublishedScope {
  name: string;
  description: string;
}

/** What a tenant may use, and whether an operator chose it (false: every published scope, by default). */
export interface TenantScopeChoice {
  scopes: PublishedScope[];
  restricted: boolean;
}

export class ScopeCatalog {
  private cache?: { at: number; scopes: PublishedScope[] };
  /** Each tenant's choice, or null for "every published scope"; dropped on NOTIFY, and after CACHE_MS anyway. */
  private readonly tenants = new Map<string, { at: number; names: Set<string> | null }>();

  constructor(
    private readonly orm: MikroORM,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  async published(): Promise<PublishedScope[]> {
    if (!this.cache || this.clock.now() - this.cache.at > CACHE_MS) {
      const rows = await this.orm.em.fork().find(Scope, { published: true }, { orderBy: { name: 'asc' } });
      this.cache = { at: this.clock.now(), scopes: rows.map(({ name, description }) => ({ name, description })) };
    }
    return this.cache.scopes;
  }

  /** A change to a tenant's scopes, made by any process. */
  forget(tenantId: string): void {
    this.tenants.delete(tenantId);
  }

  forgetAll(): void {
    this.tenants.clear();
  }

  private async chosen(tenantId: string): Promise<Set<string> | null> {
    const cached = this.tenants.get(tenantId);
    if (cached && this.clock.now() - cached.at <= CACHE_MS) return cached.names;
    const row = await this.orm.em.fork().findOne(TenantScopes, { tenantId }, { filters: false });
    const names = row ? new Set(row.scopes) : null;
    this.tenants.set(tenantId, { at: this.clock.now(), names });
    return names;
  }

  /** The published scopes `tenantId` may use. */
  async availableTo(tenantId: string): Promise<TenantScopeChoice> {
    const [published, chosen] = await Promise.all([this.published(), this.chosen(tenantId)]);
    return { scopes: chosen ? published.filter((s) => chosen.has(s.name)) : published, restricted: chosen !== null };
  }

  /** Refuses, naming `field`, any of `scopes` that is not published. */
  async assertPublished(scopes: string[], field: string): Promise<void> {
    const published = new Set((await this.published()).map((s) => s.name));
    const unknown = scopes.filter((s) => !published.has(s));
    if (unknown.length) throw new InvalidScope(`${field} names scopes that are not published: ${unknown.join(', ')}`);
  }

  /** Refuses, naming `field`, any of `scopes` that `tenantId` may not use (unpublished ones are simply unknown). */
  async assertAvailable(tenantId: string, scopes: string[], field: string): Promise<void> {
    await this.assertPublished(scopes, field);
    const available = new Set((await this.availableTo(tenantId)).scopes.map((s) => s.name));
    const withheld = scopes.filter((s) => !available.has(s));
    if (withheld.length) throw new InvalidScope(`${field} names scopes that are not available to this tenant: ${withheld.join(', ')}`);
  }

  /**
   * An operator's choice of the tenant's scopes (null: back to every published scope). Apps keep what they were
   * approved for, but a withheld scope is no longer issued nor honoured in tokens already issued (clients.ts).
   */
  async choose(em: EntityManager, tenantId: string, scopes: string[] | null, actor: string): Promise<TenantScopeChoice> {
    if (scopes) await this.assertPublished(scopes, 'body.scopes');
    await em.transactional(async (tx) => {
      const row = await tx.findOne(TenantScopes, { tenantId }, { filters: false });
      const before = row ? [...row.scopes] : null;
      if (scopes === null) {
        if (row) tx.remove(row);
      } else if (row) {
        row.scopes = [...scopes].sort();
        row.updatedBy = actor;
        row.updatedAt = new Date(this.clock.now());
      } else {
        tx.create(TenantScopes, { tenantId, scopes: [...scopes].sort(), updatedBy: actor, updatedAt: new Date(this.clock.now()) });
      }
      this.audit.record(tx, {
        tenantId,
        actor,
        action: 'tenant.scopes_changed',
        targetType: 'tenant',
        targetId: tenantId,
        details: { before, after: scopes ? [...scopes].sort() : null },
      });
      await tx.execute(`select pg_notify('${TENANT_SCOPES_CHANNEL}', ?)`, [tenantId]);
    });
    this.forget(tenantId);
    return this.availableTo(tenantId);
  }
}
