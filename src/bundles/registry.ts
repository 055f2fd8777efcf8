// The in-memory registry of persisted operations: every published operation, parsed and checked again against
// the schema this process serves, and each app's allowed ids. Reloaded on every process at once through NOTIFY
// when an operator publishes, assigns or unassigns (releases.ts), so a lookup per request costs two Map reads.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { GraphQLSchema } from 'graphql';
import type { PersistedOperation } from '../graphql/persisted.js';
import { Reloader } from '../reloader.js';
import { AppBundle, BundleOperation, BundleVersion } from './entities.js';
import { checkOperation, codegenId } from './files.js';
import type { Logger } from '../observability/log.js';

export const BUNDLES_CHANNEL = 'tessera_bundles';

export class BundleRegistry {
  private operations = new Map<string, PersistedOperation>();
  /**
   * Other ids of the same documents (graphql-codegen's), to their operation ids: several, when documents that
   * differ only in the order of their fields share one.
   */
  private aliases = new Map<string, string[]>();
  private allowed = new Map<string, Set<string>>();
  private readonly loadListeners = new Set<(operations: PersistedOperation[]) => void>();
  private readonly reloader = new Reloader(() => this.load());

  constructor(
    private readonly orm: MikroORM,
    private readonly schema: GraphQLSchema,
    private readonly log: Logger,
  ) {}

  /** Loads again; a call during a load gets a second load, so a change committed meanwhile is seen. */
  reload(): Promise<void> {
    return this.reloader.run();
  }

  reloadQuietly(): void {
    void this.reload().catch((e) => this.log.warn({ err: e }, 'bundle reload failed'));
  }

  private async load(): Promise<void> {
    const em = this.orm.em.fork();
    const rows = await em.find(BundleOperation, {});
    const versions = new Map((await em.find(BundleVersion, {})).map((v) => [v.id, v]));
    const operations = new Map<string, PersistedOperation>();
    const aliases = new Map<string, string[]>();
    const byBundle = new Map<string, Set<string>>();
    for (const row of rows) {
      const version = versions.get(row.versionId);
      if (!version) continue;
      let registered = operations.get(row.operationId) ?? this.operations.get(row.operationId);
      if (!registered) {
        const checked = checkOperation(this.schema, row.document, (message) => this.log.warn({ operation: row.operationName, operation_id: row.operationId, problem: message }, 'operation is not served'));
        if (!checked) continue;
        registered = { id: row.operationId, name: row.operationName, type: checked.type, document: checked.ast, requiredScopes: checked.requiredScopes };
      }
      operations.set(row.operationId, registered);
      const alias = row.aliasId ?? codegenId(registered.document);
      const same = aliases.get(alias) ?? [];
      if (!same.includes(row.operationId)) aliases.set(alias, [...same, row.operationId]);
      const ids = byBundle.get(version.bundle) ?? new Set<string>();
      ids.add(row.operationId);
      byBundle.set(version.bundle, ids);
    }
    const allowed = new Map<string, Set<string>>();
    for (const assignment of await em.find(AppBundle, {}, { filters: false })) {
      const ids = allowed.get(assignment.appId) ?? new Set<string>();
      for (const id of byBundle.get(assignment.bundle) ?? []) ids.add(id);
      allowed.set(assignment.appId, ids);
    }
    this.operations = operations;
    this.aliases = aliases;
    this.allowed = allowed;
    for (const listener of this.loadListeners) this.notifyLoaded(listener);
  }

  /**
   * Calls `listener` with every served operation now and after each load, so that a transport can prepare them
   * before any request (GraphQL compiles them); returns the unsubscribe function.
   */
  onLoad(listener: (operations: PersistedOperation[]) => void): () => void {
    this.loadListeners.add(listener);
    this.notifyLoaded(listener);
    return () => void this.loadListeners.delete(listener);
  }

  private notifyLoaded(listener: (operations: PersistedOperation[]) => void): void {
    try {
      listener([...this.operations.values()]);
    } catch (error) {
      this.log.warn({ err: error }, 'preparing the loaded operations failed');
    }
  }

  /**
   * The operation if it is in one of the app's bundles, by its id or an alias of it; otherwise null, whether or not
   * it exists elsewhere.
   */
  lookup(appId: string, id: string): PersistedOperation | null {
    const allowed = this.allowed.get(appId);
    if (!allowed) return null;
    const operationId = allowed.has(id) ? id : this.aliases.get(id)?.find((candidate) => allowed.has(candidate));
    return operationId ? (this.operations.get(operationId) ?? null) : null;
  }
}
