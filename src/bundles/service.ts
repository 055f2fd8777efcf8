// Operation bundles: the operator's curated, reviewed GraphQL operations (operations/<bundle>/*.graphql +
// bundle.json). Loaded and checked against the schema, published as immutable versions, assigned to apps.
// The registry keeps every published operation parsed in memory and each app's allowed ids, refreshed on
// every process at once through NOTIFY when an operator publishes, assigns or unassigns.
import { UniqueConstraintViolationException, type EntityManager, type MikroORM } from '@mikro-orm/postgresql';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  TypeInfo,
  parse,
  print,
  specifiedRules,
  validate,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { recordAudit } from '../audit/service.js';
import type { Notifications } from '../db/notifications.js';
import { Conflict, InvalidRequest, NotFound } from '../errors.js';
import { newId, sha256 } from '../ids.js';
import { Reloader } from '../reloader.js';
import { AppBundle, BundleOperation, BundleVersion, OperationStat } from './entities.js';

export const BUNDLES_CHANNEL = 'tessera_bundles';
const BUNDLE_NAME = /^[a-z][a-z0-9-]{1,62}$/;
const VERSION = /^\d+\.\d+\.\d+$/;
export const MAX_TOKENS = 2000;

export interface CheckedOperation {
  file: string;
  id: string;
  document: string;
  name: string;
  type: 'query' | 'mutation';
  requiredScopes: string[];
}

export interface CheckedBundle {
  name: string;
  description: string;
  version: string;
  operations: CheckedOperation[];
}

export interface Problem {
  bundle: string;
  file: string;
  message: string;
}

export interface RegisteredOperation {
  id: string;
  name: string;
  type: 'query' | 'mutation';
  document: DocumentNode;
  requiredScopes: string[];
}

/** The scopes an operation needs: every field it selects that carries a Pothos `authScopes: { scope }`. */
export function requiredScopes(schema: GraphQLSchema, document: DocumentNode): string[] {
  const typeInfo = new TypeInfo(schema);
  const scopes = new Set<string>();
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field() {
        const field = typeInfo.getFieldDef();
        const authScopes = (field?.extensions?.pothosOptions as { authScopes?: { scope?: string } } | undefined)?.authScopes;
        if (authScopes && typeof authScopes === 'object' && typeof authScopes.scope === 'string') scopes.add(authScopes.scope);
      },
    }),
  );
  return [...scopes].sort();
}

/** Reads operations/ and checks every document against the schema; problems name the file and why. */
export function loadBundles(schema: GraphQLSchema, dir: string): { bundles: CheckedBundle[]; problems: Problem[] } {
  const bundles: CheckedBundle[] = [];
  const problems: Problem[] = [];
  if (!existsSync(dir)) return { bundles, problems: [{ bundle: '-', file: dir, message: 'the operations folder does not exist' }] };
  for (const entry of readdirSync(dir).sort()) {
    const folder = join(dir, entry);
    if (!statSync(folder).isDirectory()) continue;
    const problem = (file: string, message: string) => problems.push({ bundle: entry, file, message });
    const metaFile = join(folder, 'bundle.json');
    let meta: { name?: unknown; description?: unknown; version?: unknown };
    try {
      meta = JSON.parse(readFileSync(metaFile, 'utf8'));
    } catch (error) {
      problem('bundle.json', existsSync(metaFile) ? `is not valid JSON: ${(error as Error).message}` : 'is missing');
      continue;
    }
    if (meta.name !== entry) problem('bundle.json', `name must be "${entry}", the folder's name`);
    if (typeof meta.name !== 'string' || !BUNDLE_NAME.test(meta.name)) problem('bundle.json', 'name must be lowercase letters, digits and dashes');
    if (typeof meta.description !== 'string' || !meta.description.trim()) problem('bundle.json', 'description is required');
    if (typeof meta.version !== 'string' || !VERSION.test(meta.version)) problem('bundle.json', 'version must look like 1.2.3');
    const operations: CheckedOperation[] = [];
    const files = readdirSync(folder).filter((f) => f.endsWith('.graphql')).sort();
    if (!files.length) problem('-', 'the bundle has no .graphql operations');
    for (const file of files) {
      const checked = checkOperation(schema, readFileSync(join(folder, file), 'utf8'), (message) => problem(file, message));
      if (checked) {
        const { ast: _parsed, ...operation } = checked;
        operations.push({ file, ...operation });
      }
    }
    const names = operations.map((o) => o.name);
    for (const name of new Set(names)) if (names.filter((n) => n === name).length > 1) problem('-', `operation name ${name} is used twice`);
    if (!problems.some((p) => p.bundle === entry)) {
      bundles.push({ name: entry, description: String(meta.description), version: String(meta.version), operations });
    }
  }
  return { bundles, problems };
}

export function checkOperation(schema: GraphQLSchema, text: string, problem: (message: string) => void): (Omit<CheckedOperation, 'file'> & { ast: DocumentNode }) | null {
  let document: DocumentNode;
  try {
    // The same token limit as requests: persisted documents are handed to Yoga already parsed.
    document = parse(text, { maxTokens: MAX_TOKENS });
  } catch (error) {
    problem(`does not parse: ${(error as GraphQLError).message}`);
    return null;
  }
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1) {
    problem(`must hold exactly one operation (found ${operations.length})`);
    return null;
  }
  const operation = operations[0]!;
  if (!operation.name) problem('the operation must be named');
  if (operation.operation === 'subscription') problem('subscriptions are not served');
  // Introspection is never part of a bundle (DESIGN: schema discovery is off for partners).
  const errors = validate(schema, document, [...specifiedRules, NoSchemaIntrospectionCustomRule]);
  for (const error of errors) problem(error.message);
  if (errors.length || !operation.name || operation.operation === 'subscription') return null;
  // The id is the SHA-256 of the canonical (printed) text: what Apollo's persisted-query link hashes too.
  const normalized = print(document);
  return {
    id: sha256(normalized),
    document: normalized,
    name: operation.name.value,
    type: operation.operation as 'query' | 'mutation',
    requiredScopes: requiredScopes(schema, document),
    ast: document,
  };
}

function contentHash(bundle: CheckedBundle): string {
  return sha256(bundle.operations.map((o) => o.id).sort().join('\n') + `\n${bundle.description}`);
}

interface StatDelta {
  tenantId: string;
  name: string;
  calls: number;
  errors: number;
  totalMs: number;
  last: Date;
}

export class BundleRegistry {
  private operations = new Map<string, RegisteredOperation>();
  private allowed = new Map<string, Set<string>>();
  private pendingStats = new Map<string, StatDelta>();
  private readonly loadListeners = new Set<(operations: RegisteredOperation[]) => void>();
  private readonly reloader = new Reloader(() => this.load());
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly orm: MikroORM,
    private readonly schema: GraphQLSchema,
    private readonly log: (message: string, error?: unknown) => void = () => undefined,
  ) {}

  async start(notifications?: Notifications): Promise<void> {
    if (notifications) {
      const reloadQuietly = () => void this.reload().catch((e) => this.log('bundle reload failed', e));
      notifications.on(BUNDLES_CHANNEL, reloadQuietly);
      notifications.onReconnect(reloadQuietly);
      this.timer = setInterval(() => void this.flushStats().catch((e) => this.log('operation stats flush failed', e)), 5_000);
      this.timer.unref();
    }
    await this.reload();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flushStats().catch((e) => this.log('operation stats flush failed', e));
  }

  /** Every published operation, checked again against the schema this process serves. */
  reload(): Promise<void> {
    return this.reloader.run();
  }

  private async load(): Promise<void> {
    const em = this.orm.em.fork();
    const rows = await em.find(BundleOperation, {});
    const versions = new Map((await em.find(BundleVersion, {})).map((v) => [v.id, v]));
    const operations = new Map<string, RegisteredOperation>();
    const byBundle = new Map<string, Set<string>>();
    for (const row of rows) {
      const version = versions.get(row.versionId);
      if (!version) continue;
      let registered = operations.get(row.operationId) ?? this.operations.get(row.operationId);
      if (!registered) {
        const checked = checkOperation(this.schema, row.document, (message) => this.log(`operation ${row.operationName} (${row.operationId}) is not served: ${message}`));
        if (!checked) continue;
        registered = { id: row.operationId, name: row.operationName, type: checked.type, document: checked.ast, requiredScopes: checked.requiredScopes };
      }
      operations.set(row.operationId, registered);
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
    this.allowed = allowed;
    for (const listener of this.loadListeners) this.notifyLoaded(listener);
  }

  /**
   * Calls `listener` with every served operation now and after each load, so that a transport can prepare them
   * before any request (GraphQL compiles them); returns the unsubscribe function.
   */
  onLoad(listener: (operations: RegisteredOperation[]) => void): () => void {
    this.loadListeners.add(listener);
    this.notifyLoaded(listener);
    return () => void this.loadListeners.delete(listener);
  }

  private notifyLoaded(listener: (operations: RegisteredOperation[]) => void): void {
    try {
      listener([...this.operations.values()]);
    } catch (error) {
      this.log('preparing the loaded operations failed', error);
    }
  }

  /** The operation if it is in one of the app's bundles; otherwise null, whether or not it exists elsewhere. */
  lookup(appId: string, operationId: string): RegisteredOperation | null {
    if (!this.allowed.get(appId)?.has(operationId)) return null;
    return this.operations.get(operationId) ?? null;
  }

  recordCall(appId: string, tenantId: string, operation: RegisteredOperation, ms: number, failed: boolean): void {
    const key = `${appId} ${operation.id}`;
    const delta = this.pendingStats.get(key) ?? { tenantId, name: operation.name, calls: 0, errors: 0, totalMs: 0, last: new Date() };
    delta.calls += 1;
    delta.errors += failed ? 1 : 0;
    delta.totalMs += ms;
    delta.last = new Date();
    this.pendingStats.set(key, delta);
  }

  /** Counters are summed in memory and added to the table every few seconds: no write per request. */
  async flushStats(): Promise<void> {
    if (!this.pendingStats.size) return;
    const pending = this.pendingStats;
    this.pendingStats = new Map();
    const em = this.orm.em.fork();
    for (const [key, d] of pending) {
      const [appId, operationId] = key.split(' ');
      await em.execute(
        `insert into operation_stats (app_id, operation_id, tenant_id, operation_name, calls, errors, total_ms, last_called_at)
         values (?, ?, ?, ?, ?, ?, ?, ?)
         on conflict (app_id, operation_id) do update set calls = operation_stats.calls + excluded.calls,
           errors = operation_stats.errors + excluded.errors, total_ms = operation_stats.total_ms + excluded.total_ms,
           last_called_at = greatest(operation_stats.last_called_at, excluded.last_called_at)`,
        [appId, operationId, d.tenantId, d.name, d.calls, d.errors, d.totalMs, d.last],
      );
    }
  }

  private async announce(em: EntityManager): Promise<void> {
    await em.execute(`select pg_notify('${BUNDLES_CHANNEL}', '')`);
  }

  /** Publishes new versions; an already published version is left alone if unchanged, refused if changed. */
  async publish(bundles: CheckedBundle[], actor: string): Promise<Array<{ bundle: string; version: string; status: 'published' | 'unchanged' }>> {
    try {
      return await this.publishOnce(bundles, actor);
    } catch (error) {
      // Another publish of the same version committed first: run again, it now finds that version.
      if (error instanceof UniqueConstraintViolationException) return this.publishOnce(bundles, actor);
      throw error;
    }
  }

  private async publishOnce(bundles: CheckedBundle[], actor: string): Promise<Array<{ bundle: string; version: string; status: 'published' | 'unchanged' }>> {
    const results = await this.orm.em.fork().transactional(async (tx) => {
      const out: Array<{ bundle: string; version: string; status: 'published' | 'unchanged' }> = [];
      for (const bundle of bundles) {
        const hash = contentHash(bundle);
        const existing = await tx.findOne(BundleVersion, { bundle: bundle.name, version: bundle.version });
        if (existing) {
          if (existing.contentHash !== hash) {
            throw new Conflict(`${bundle.name} ${bundle.version} is already published with other content; raise the version in bundle.json`);
          }
          out.push({ bundle: bundle.name, version: bundle.version, status: 'unchanged' });
          continue;
        }
        const version = tx.create(BundleVersion, {
          id: newId('bv'),
          bundle: bundle.name,
          version: bundle.version,
          description: bundle.description,
          contentHash: hash,
          publishedAt: new Date(),
          publishedBy: actor,
        });
        for (const op of bundle.operations) {
          tx.create(BundleOperation, {
            versionId: version.id,
            operationId: op.id,
            document: op.document,
            operationName: op.name,
            operationType: op.type,
            requiredScopes: op.requiredScopes,
          });
        }
        recordAudit(tx, { tenantId: null, actor, action: 'bundle.published', targetType: 'bundle', targetId: `${bundle.name}@${bundle.version}`, details: { operations: bundle.operations.length } });
        out.push({ bundle: bundle.name, version: bundle.version, status: 'published' });
      }
      await this.announce(tx);
      return out;
    });
    await this.reload();
    return results;
  }

  private async assertBundle(em: EntityManager, bundle: string): Promise<void> {
    if (!(await em.count(BundleVersion, { bundle }))) throw new NotFound(`no published bundle ${bundle}`);
  }

  async assign(app: { id: string; tenantId: string }, bundle: string, actor: string): Promise<{ assigned: boolean }> {
    const result = await this.orm.em.fork().transactional(async (tx) => {
      await this.assertBundle(tx, bundle);
      // Insert-or-nothing: two operators assigning at once both succeed, one of them as "already assigned".
      const inserted: unknown[] = await tx.execute(
        `insert into app_bundles (app_id, bundle, tenant_id, assigned_at, assigned_by) values (?, ?, ?, ?, ?)
         on conflict (app_id, bundle) do nothing returning app_id`,
        [app.id, bundle, app.tenantId, new Date(), actor],
      );
      if (!inserted.length) return { assigned: false };
      recordAudit(tx, { tenantId: app.tenantId, actor, action: 'bundle.assigned', targetType: 'app', targetId: app.id, details: { bundle } });
      await this.announce(tx);
      return { assigned: true };
    });
    await this.reload();
    return result;
  }

  async unassign(app: { id: string; tenantId: string }, bundle: string, actor: string): Promise<void> {
    await this.orm.em.fork().transactional(async (tx) => {
      const row = await tx.findOne(AppBundle, { appId: app.id, bundle }, { filters: false });
      if (!row) throw new NotFound(`bundle ${bundle} is not assigned to ${app.id}`);
      tx.remove(row);
      recordAudit(tx, { tenantId: app.tenantId, actor, action: 'bundle.unassigned', targetType: 'app', targetId: app.id, details: { bundle } });
      await this.announce(tx);
    });
    await this.reload();
  }

  async listBundles(): Promise<Array<{ name: string; description: string; latest_version: string; versions: Array<{ version: string; published_at: string; operations: number }> }>> {
    const em = this.orm.em.fork();
    const versions = await em.find(BundleVersion, {}, { orderBy: { bundle: 'asc', publishedAt: 'asc' } });
    const counts = await em.getConnection().execute<Array<{ version_id: string; n: number }>>('select version_id, count(*)::int as n from bundle_operations group by version_id');
    const countOf = new Map(counts.map((c) => [c.version_id, c.n]));
    const byName = new Map<string, BundleVersion[]>();
    for (const v of versions) byName.set(v.bundle, [...(byName.get(v.bundle) ?? []), v]);
    return [...byName].map(([name, list]) => ({
      name,
      description: list[list.length - 1]!.description,
      latest_version: list[list.length - 1]!.version,
      versions: list.map((v) => ({ version: v.version, published_at: v.publishedAt.toISOString(), operations: countOf.get(v.id) ?? 0 })),
    }));
  }

  async bundleVersion(bundle: string, version?: string) {
    const em = this.orm.em.fork();
    const found = version
      ? await em.findOne(BundleVersion, { bundle, version })
      : (await em.find(BundleVersion, { bundle }, { orderBy: { publishedAt: 'desc' }, limit: 1 }))[0];
    if (!found) throw new NotFound(version ? `no version ${version} of bundle ${bundle}` : `no published bundle ${bundle}`);
    const operations = await em.find(BundleOperation, { versionId: found.id }, { orderBy: { operationName: 'asc' } });
    return { version: found, operations };
  }

  async appBundles(appId: string): Promise<Array<{ bundle: string; assigned_at: string; assigned_by: string }>> {
    const rows = await this.orm.em.fork().find(AppBundle, { appId }, { filters: false, orderBy: { bundle: 'asc' } });
    return rows.map((r) => ({ bundle: r.bundle, assigned_at: r.assignedAt.toISOString(), assigned_by: r.assignedBy }));
  }

  async stats(appId?: string) {
    await this.flushStats();
    const rows = await this.orm.em.fork().find(OperationStat, appId ? { appId } : {}, { orderBy: { calls: 'desc' } });
    return rows.map((r) => ({
      client_id: r.appId,
      tenant_id: r.tenantId,
      operation_id: r.operationId,
      operation_name: r.operationName,
      calls: r.calls,
      errors: r.errors,
      mean_latency_ms: r.calls ? Math.round((Number(r.totalMs) / Number(r.calls)) * 100) / 100 : 0,
      last_called_at: r.lastCalledAt.toISOString(),
    }));
  }

  /** What a client needs: an Apollo persisted-query manifest and a documentId map (GraphQL over HTTP). */
  async manifest(bundle: string, version?: string) {
    const { version: v, operations } = await this.bundleVersion(bundle, version);
    return {
      bundle: v.bundle,
      version: v.version,
      apollo: {
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: operations.map((o) => ({ id: o.operationId, name: o.operationName, type: o.operationType, body: o.document })),
      },
      documentIds: Object.fromEntries(operations.map((o) => [o.operationName, `sha256:${o.operationId}`])),
    };
  }
}

export function assertBundleName(name: string | undefined): string {
  if (!name || !BUNDLE_NAME.test(name)) throw new InvalidRequest('bundle name must be lowercase letters, digits and dashes');
  return name;
}

