// An app's states (README "App states"): active, suspended, deleted. Suspending cuts an app off at once and is undone
// by resuming; deleting removes everything the app holds and leaves a tombstone of its id. Each change is one
// transaction: the app's row, every other feature's part (lifecycle.ts), the audit record and the NOTIFY that makes
// every process see it (clients.ts), so a token of the app is refused everywhere from the commit on.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../clock.js';
import type { Logger } from '../observability/log.js';
import type { ClientDirectory } from './clients.js';
import { ClientSecret, ServiceToken, type App } from './entities.js';
import type { AppLifecycle } from './lifecycle.js';
import type { Actor, PlatformService } from './service.js';

export class AppStates {
  constructor(
    private readonly platform: PlatformService,
    private readonly clients: ClientDirectory,
    private readonly lifecycle: AppLifecycle,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /**
   * No token is issued to the app, every token it holds is refused, its webhook deliveries are held. Suspending a
   * suspended app changes nothing (the first suspension's time and reason stay).
   */
  async suspend(em: EntityManager, actor: Actor, clientId: string, reason: string | null): Promise<App> {
    let changed = false;
    const app = await em.transactional(async (tx) => {
      const app = await this.platform.getApp(tx, clientId, { lock: true });
      if (app.status === 'suspended') return app;
      const at = new Date(this.clock.now());
      app.status = 'suspended';
      app.suspendedAt = at;
      app.suspendedReason = reason;
      await tx.flush();
      await this.clients.announceChange(tx, app.id);
      await this.lifecycle.suspended(tx, { app, actor: actor.id, at });
      this.platform.auditApp(tx, actor, 'app.suspended', app, { reason });
      changed = true;
      return app;
    });
    if (changed) this.log.warn({ tenant_id: app.tenantId, client_id: app.id, actor: actor.id, reason }, 'app suspended');
    return app;
  }

  /** The app works again: its tokens that have not expired, and its held deliveries, sent in order. */
  async resume(em: EntityManager, actor: Actor, clientId: string): Promise<App> {
    let changed = false;
    const app = await em.transactional(async (tx) => {
      const app = await this.platform.getApp(tx, clientId, { lock: true });
      if (app.status === 'active') return app;
      const at = new Date(this.clock.now());
      const suspendedFor = app.suspendedAt ? Math.round((at.getTime() - app.suspendedAt.getTime()) / 1000) : null;
      app.status = 'active';
      app.suspendedAt = null;
      app.suspendedReason = null;
      await tx.flush();
      await this.clients.announceChange(tx, app.id);
      await this.lifecycle.resumed(tx, { app, actor: actor.id, at });
      this.platform.auditApp(tx, actor, 'app.resumed', app, { suspended_seconds: suspendedFor });
      changed = true;
      return app;
    });
    if (changed) this.log.info({ tenant_id: app.tenantId, client_id: app.id, actor: actor.id }, 'app resumed');
    return app;
  }

  /**
   * Removes the app and everything it holds: secrets and service tokens here, and each feature's part (grants, codes,
   * refresh tokens and consents; bundle assignments and call counts; webhook subscriptions with their pending
   * deliveries). Its row stays as a tombstone, so that the client_id is never reused and a token issued to it is
   * refused for as long as it would live. The audit log keeps the record.
   */
  async delete(em: EntityManager, actor: Actor, clientId: string): Promise<void> {
    const app = await em.transactional(async (tx) => {
      const app = await this.platform.getApp(tx, clientId, { lock: true });
      const at = new Date(this.clock.now());
      const removed = {
        client_secrets: await tx.nativeDelete(ClientSecret, { appId: app.id, tenantId: app.tenantId }),
        service_tokens: await tx.nativeDelete(ServiceToken, { appId: app.id, tenantId: app.tenantId }),
        ...(await this.lifecycle.deleted(tx, { app, actor: actor.id, at })),
      };
      app.status = 'deleted';
      app.deletedAt = at;
      app.suspendedAt = null;
      app.suspendedReason = null;
      await tx.flush();
      await this.clients.announceChange(tx, app.id);
      this.platform.auditApp(tx, actor, 'app.deleted', app, { name: app.name, grant_types: app.grantTypes, requested_scopes: app.approvedScopes, removed });
      return app;
    });
    this.log.warn({ tenant_id: app.tenantId, client_id: app.id, actor: actor.id }, 'app deleted');
  }
}
