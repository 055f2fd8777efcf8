// The in-memory registry of persisted operations: every published operation, parsed and checked again against
// the schema this process serves, and each app's operations with the version it holds each through. Reloaded on
// every process at once through NOTIFY when an operator publishes, assigns, unassigns, deprecates or retires
// (releases.ts), so a lookup per request costs two Map reads.
//
// An app holds a bundle on a track (entities.ts): `latest`, the channel, holds every version not retired, so each
// new version's operations are served as soon as it is published and an older version's stay served until it is
// retired (a retirement is refused while apps still use it: releases.ts), so publishing never breaks a client; a
// pinned version holds that version alone. A retired version's operations are held by nobody: they answer exactly
// as unknown ones. An operation is held through the newest version that has it and is not deprecated, else the
// newest deprecated one, whose deprecation it is then served with (the transport's `Deprecation` header).
import type { MikroORM } from '@mikro-orm/postgresql';
import type { GraphQLSchema } from 'graphql';
import type { PersistedOperation } from '../graphql/persisted.js';
import { Reloader } from '../reloader.js';
import { AppBundle, BundleOperation, BundleVersion, LATEST } from './entities.js';
import { checkOperation, codegenId } from './files.js';
import { newestFirst } from './versions.js';
import type { Logger } from '../observability/log.js';

export const BUNDLES_CHANNEL = 'tessera_bundles';

/** How an app holds one operation: through which version, and whether that version is deprecated (since when). */
export interface HeldOperation {
  versionId: string;
  deprecatedAt: Date | null;
}

export class BundleRegistry {
  private operations = new Map<string, PersistedOperation>();
  /**
   * Other ids of the same documents (graphql-codegen's), to their operation ids: several, when documents that
   * differ only in the order of their fields share one.
   */
  private aliases = new Map<string, string[]>();
  /** Per app, the operations it holds, by operation id. */
  private held = new Map<string, Map<string, HeldOperation>>();
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
    const idsOf = new Map<string, string[]>();
    for (const row of rows) {
      if (!versions.has(row.versionId)) continue;
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
      idsOf.set(row.versionId, [...(idsOf.get(row.versionId) ?? []), row.operationId]);
    }
    const live = newestFirst([...versions.values()].filter((v) => v.status !== 'retired'));
    const tracks = (bundle: string, track: string) => live.filter((v) => v.bundle === bundle && (track === LATEST || v.version === track));

    const held = new Map<string, Map<string, HeldOperation>>();
    for (const assignment of await em.find(AppBundle, {}, { filters: false })) {
      const ops = held.get(assignment.appId) ?? new Map<string, HeldOperation>();
      for (const version of tracks(assignment.bundle, assignment.track)) {
        const deprecatedAt = version.status === 'deprecated' ? (version.deprecatedAt ?? version.publishedAt) : null;
        for (const id of idsOf.get(version.id) ?? []) {
          if (!operations.has(id)) continue;
          // Newest first: the first version kept, unless it is deprecated and this one is not.
          const before = ops.get(id);
          if (!before || (before.deprecatedAt && !deprecatedAt)) ops.set(id, { versionId: version.id, deprecatedAt });
        }
      }
      held.set(assignment.appId, ops);
    }
    this.operations = operations;
    this.aliases = aliases;
    this.held = held;
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
   * The operation if the app holds it, by its id or an alias of it; otherwise null, whether or not it exists
   * elsewhere (or in a retired version).
   */
  lookup(appId: string, id: string): PersistedOperation | null {
    const operationId = this.heldId(appId, id);
    return operationId ? (this.operations.get(operationId) ?? null) : null;
  }

  /** How the app holds the operation (by its id), or null. */
  holding(appId: string, operationId: string): HeldOperation | null {
    return this.held.get(appId)?.get(operationId) ?? null;
  }

  /** Every operation the app holds, with how. */
  heldBy(appId: string): Array<{ operation: PersistedOperation; holding: HeldOperation }> {
    return [...(this.held.get(appId) ?? [])].map(([id, holding]) => ({ operation: this.operations.get(id)!, holding }));
  }

  private heldId(appId: string, id: string): string | undefined {
    const held = this.held.get(appId);
    if (!held) return undefined;
    return held.has(id) ? id : this.aliases.get(id)?.find((candidate) => held.has(candidate));
  }
}
