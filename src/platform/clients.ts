// The apps as OAuth clients: what the token endpoint needs to authenticate one (the app and its secret digests),
// kept in memory by client_id so that authenticating a client costs no query. Every change to an app or its
// secrets NOTIFYs all processes, which drop the entry; the TTL is only a safety net.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { LRUCache } from 'lru-cache';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';
import { App, ClientSecret } from './entities.js';

export const APPS_CHANNEL = 'tessera_apps';

export interface ClientRecord {
  app: App;
  secrets: Array<{ digest: Buffer; expiresAt: number | null }>;
}

export class ClientDirectory {
  /** ttlResolution 0: a 30 s TTL needs no cached clock, whose default (1 ms) arms a timer each millisecond it is read. */
  private readonly records = new LRUCache<string, ClientRecord>({ max: 10_000, ttl: 30_000, ttlResolution: 0 });

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  /** A change to the app, made by any process. */
  forget(clientId: string): void {
    this.records.delete(clientId);
  }

  forgetAll(): void {
    this.records.clear();
  }

  /** Inside the transaction that changes an app: the NOTIFY reaches every process at commit. */
  async announceChange(em: EntityManager, clientId: string): Promise<void> {
    this.forget(clientId);
    await em.execute(`select pg_notify('${APPS_CHANNEL}', ?)`, [clientId]);
  }

  /** The app behind a client_id, in any tenant (the caller has not proved which yet), from memory when it can. */
  async find(clientId: string): Promise<ClientRecord | null> {
    const cached = this.records.get(clientId);
    if (cached) return cached;
    const em = this.orm.em.fork();
    const app = await em.findOne(App, { id: clientId }, { filters: false });
    if (!app) return null;
    const rows = await em.find(ClientSecret, { appId: app.id }, { filters: false });
    const record: ClientRecord = {
      app,
      secrets: rows.map((r) => ({ digest: Buffer.from(r.secretHash, 'hex'), expiresAt: r.expiresAt?.getTime() ?? null })),
    };
    this.records.set(clientId, record);
    return record;
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
