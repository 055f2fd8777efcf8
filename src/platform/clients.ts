// The apps as OAuth clients: what the token endpoint needs to authenticate one (the app and its secret digests) and
// what every protected route needs to admit a token issued to one (its state and the scopes it may still use), kept
// in memory by client_id so that neither costs a query. Every change to an app, its secrets or its tenant's scopes
// NOTIFYs all processes, which drop the entry; the TTL is only a safety net.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { LRUCache } from 'lru-cache';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';
import { Unauthorized } from '../errors.js';
import { SCOPE_ADMIN, SCOPE_OPERATOR } from '../http/auth.js';
import type { Principal } from '../keys/tokens.js';
import { App, ClientSecret } from './entities.js';
import type { ScopeCatalog } from './scopes.js';

export const APPS_CHANNEL = 'tessera_apps';

/** The roles-as-scopes (DESIGN "Who uses it") only the console's first-party client may be issued. */
export const PLATFORM_ROLE_SCOPES = [SCOPE_ADMIN, SCOPE_OPERATOR];

export interface ClientRecord {
  app: App;
  secrets: Array<{ digest: Buffer; expiresAt: number | null }>;
  /** What the app may be issued and may use now: the scopes it was approved for that its tenant may use. */
  allowedScopes: ReadonlySet<string>;
}

const CACHE = { max: 10_000, ttl: 30_000, ttlResolution: 0 } as const;

export class ClientDirectory {
  /** ttlResolution 0: a 30 s TTL needs no cached clock, whose default (1 ms) arms a timer each millisecond it is read. */
  private readonly records = new LRUCache<string, ClientRecord>(CACHE);
  /**
   * Client ids no app has: tokens the platform mints for itself (the operator CLI's `tessera-cli`) name one on every
   * request, which must not cost a query each.
   */
  private readonly unknown = new LRUCache<string, true>(CACHE);

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly scopes: ScopeCatalog,
  ) {}

  /** A change to the app, made by any process. */
  forget(clientId: string): void {
    this.records.delete(clientId);
    this.unknown.delete(clientId);
  }

  /** A change to every app, or to what we know of them (a tenant's scopes changed; notifications were lost). */
  forgetAll(): void {
    this.records.clear();
    this.unknown.clear();
  }

  /** Inside the transaction that changes an app: the NOTIFY reaches every process at commit. */
  async announceChange(em: EntityManager, clientId: string): Promise<void> {
    this.forget(clientId);
    await em.execute(`select pg_notify('${APPS_CHANNEL}', ?)`, [clientId]);
  }

  /** The app behind a client_id, in any tenant (the caller has not proved which yet), unless deleted. */
  async find(clientId: string): Promise<ClientRecord | null> {
    const record = await this.record(clientId);
    return record && record.app.status !== 'deleted' ? record : null;
  }

  /** The app, deleted ones included (their tombstones), from memory when it can. */
  private async record(clientId: string): Promise<ClientRecord | null> {
    const cached = this.records.get(clientId);
    if (cached) return cached;
    if (this.unknown.has(clientId)) return null;
    const em = this.orm.em.fork();
    const app = await em.findOne(App, { id: clientId }, { filters: false });
    if (!app) {
      this.unknown.set(clientId, true);
      return null;
    }
    const [rows, available] = await Promise.all([em.find(ClientSecret, { appId: app.id }, { filters: false }), this.scopes.availableTo(app.tenantId)]);
    const tenantMay = new Set(available.scopes.map((s) => s.name));
    const record: ClientRecord = {
      app,
      secrets: rows.map((r) => ({ digest: Buffer.from(r.secretHash, 'hex'), expiresAt: r.expiresAt?.getTime() ?? null })),
      // The console's own client (first party) is also approved for the platform's role scopes, which are never
      // published; the sign-in grants them only to users who have the role (oauth's console-scopes.ts).
      allowedScopes: new Set(app.approvedScopes.filter((s) => tenantMay.has(s) || (app.firstParty === 'console' && PLATFORM_ROLE_SCOPES.includes(s)))),
    };
    this.records.set(clientId, record);
    return record;
  }

  /** The scopes the app may be issued now (README "Scopes per tenant"), in the order it was approved for them. */
  async allowedScopes(app: App): Promise<string[]> {
    const allowed = (await this.find(app.id))?.allowedScopes;
    return app.approvedScopes.filter((s) => allowed?.has(s));
  }

  /**
   * A verified token, admitted as its app stands now, on every use: refused while the app is suspended, and for good
   * once it is deleted; without the scopes the app is no longer approved for or its tenant may no longer use (a
   * narrowed token works on for the rest). A token whose client is no app was minted by Tessera for itself (the
   * operator CLI's), as only Tessera signs tokens; it stands as it is.
   */
  async admit(principal: Principal): Promise<Principal> {
    const record = await this.record(principal.clientId);
    if (!record) return principal;
    const { app, allowedScopes } = record;
    // An operator's console token is for no tenant (operators act across tenants), though its client is the operators'.
    const tenantMatches = app.tenantId === principal.tenantId || (principal.tenantId === null && app.firstParty === 'console');
    if (app.status === 'deleted' || !tenantMatches) throw new Unauthorized('the app this token was issued to has been deleted', 'invalid_token');
    if (app.status === 'suspended') throw new Unauthorized('the app this token was issued to is suspended', 'invalid_token');
    for (const scope of principal.scopes) {
      if (!allowedScopes.has(scope)) return { ...principal, scopes: new Set([...principal.scopes].filter((s) => allowedScopes.has(s))) };
    }
    return principal;
  }

  /**
   * Whether `presented` is one of the record's unexpired secrets (the previous one too, during its rotation
   * grace period). Generated secrets carry 256 random bits, so one SHA-256 is enough (DESIGN "Client secrets");
   * the digest is compared as raw bytes in constant time, against every secret, so the time taken tells nothing
   * about which one matched or how much of it.
   */
  secretMatches(record: ClientRecord, presented: string): boolean {
    const digest = createHash('sha256').update(presented).digest();
    const now = this.clock.now();
    let match = false;
    for (const secret of record.secrets) {
      const live = secret.expiresAt === null || secret.expiresAt > now;
      match = (timingSafeEqual(digest, secret.digest) && live) || match;
    }
    return match;
  }

  /** The app, if `presented` is one of its live secrets. */
  async verifySecret(clientId: string, presented: string): Promise<App | null> {
    const record = await this.find(clientId);
    return record && this.secretMatches(record, presented) ? record.app : null;
  }
}
