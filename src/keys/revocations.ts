// Revoked token ids, held in memory by every process and kept current through NOTIFY, so the check on
// each request costs a Set lookup and a revocation still takes effect at once on every process.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Clock } from '../clock.js';
import type { Notifications } from '../db/notifications.js';
import { RevokedToken } from './entities.js';
import type { Logger } from '../observability/log.js';

export const REVOCATIONS_CHANNEL = 'tessera_revocations';

export class RevocationList {
  /** jti -> expiry (epoch ms); entries leave once the token could no longer verify anyway. */
  private readonly revoked = new Map<string, number>();
  /** Revocations written in a transaction that has not committed yet, by the transaction's EntityManager. */
  private readonly pending = new WeakMap<EntityManager, Array<[jti: string, exp: number]>>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    // MikroORM announces the end of every top-level transaction(al) with the transaction's own fork.
    orm.em.getEventManager().registerSubscriber({
      afterTransactionCommit: ({ em }) => {
        for (const [jti, exp] of this.pending.get(em as EntityManager) ?? []) this.revoked.set(jti, exp);
        this.pending.delete(em as EntityManager);
      },
      afterTransactionRollback: ({ em }) => void this.pending.delete(em as EntityManager),
    });
  }

  /** Without `notifications` (a one-shot CLI command) the list is loaded once and not kept fresh. */
  async start(notifications?: Notifications): Promise<void> {
    if (notifications) {
      const reloadQuietly = () => void this.load().catch((e) => this.log.warn({ err: e }, 'revocation reload failed'));
      notifications.on(REVOCATIONS_CHANNEL, (payload) => this.remember(payload));
      notifications.onReconnect(reloadQuietly);
      // A safety net beside NOTIFY, and the place where expired entries are forgotten.
      this.timer = setInterval(reloadQuietly, 60_000);
      this.timer.unref();
    }
    await this.load();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async load(): Promise<void> {
    const now = this.clock.now();
    const rows = await this.orm.em.fork().find(RevokedToken, { expiresAt: { $gt: new Date(now) } });
    for (const [jti, exp] of this.revoked) if (exp <= now) this.revoked.delete(jti);
    for (const row of rows) this.revoked.set(row.jti, row.expiresAt.getTime());
  }

  private remember(payload: string): void {
    const [jti, exp] = payload.split(' ');
    if (jti && exp) this.revoked.set(jti, Number(exp));
  }

  isRevoked(jti: string): boolean {
    return this.revoked.has(jti);
  }

  /**
   * Revokes inside the caller's transaction: the row and the NOTIFY commit together (PostgreSQL delivers
   * notifications at commit). This process refuses the token the moment the transaction commits, not
   * before: a rolled-back change revokes nothing. Other processes learn it from the NOTIFY.
   */
  async revoke(em: EntityManager, jti: string, expiresAt: Date): Promise<void> {
    await em.upsert(RevokedToken, { jti, expiresAt, revokedAt: new Date(this.clock.now()) });
    await em.execute(`select pg_notify('${REVOCATIONS_CHANNEL}', ?)`, [`${jti} ${expiresAt.getTime()}`]);
    if (!em.isInTransaction()) {
      this.revoked.set(jti, expiresAt.getTime()); // already committed (autocommit)
      return;
    }
    const pending = this.pending.get(em) ?? [];
    pending.push([jti, expiresAt.getTime()]);
    this.pending.set(em, pending);
  }
}
