// An app's lifecycle as the other features see it (README "App states"). The platform decides and records a
// suspension, a resumption or a deletion; each feature that keeps something of the app does its part in the same
// transaction, through a listener it registers here when it is built (modules listed after the platform's), so the
// platform names no other feature and no feature touches another's tables.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { App } from './entities.js';

/** Who changed the app's state, for the audit log and the events the change causes. */
export interface LifecycleChange {
  app: App;
  actor: string;
  /** When it happened, by the platform's clock. */
  at: Date;
}

export interface AppLifecycleListener {
  /** The app was suspended: hold what would go out to it. */
  suspended?(em: EntityManager, change: LifecycleChange): Promise<void>;
  /** The app was resumed: release what was held, in order. */
  resumed?(em: EntityManager, change: LifecycleChange): Promise<void>;
  /** The app is being deleted: remove everything of it the feature keeps; answers what it removed, for the audit log. */
  deleted?(em: EntityManager, change: LifecycleChange): Promise<Record<string, number>>;
}

export class AppLifecycle {
  private readonly listeners: AppLifecycleListener[] = [];

  listen(listener: AppLifecycleListener): void {
    this.listeners.push(listener);
  }

  async suspended(em: EntityManager, change: LifecycleChange): Promise<void> {
    for (const listener of this.listeners) await listener.suspended?.(em, change);
  }

  async resumed(em: EntityManager, change: LifecycleChange): Promise<void> {
    for (const listener of this.listeners) await listener.resumed?.(em, change);
  }

  async deleted(em: EntityManager, change: LifecycleChange): Promise<Record<string, number>> {
    const removed: Record<string, number> = {};
    for (const listener of this.listeners) Object.assign(removed, await listener.deleted?.(em, change));
    return removed;
  }
}
