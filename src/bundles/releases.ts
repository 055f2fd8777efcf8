// Releases of operation bundles: publishing immutable versions from checked bundle files, assigning bundles to
// apps (the channel or a pinned version) and unassigning them, deprecating and retiring versions (a retirement
// refused while apps still use the version), and what operators and clients read of them (versions, documents,
// usage, manifests). Every change NOTIFYs all processes, whose registries reload; the caller's own registry has
// reloaded when it returns.
import { LockMode, UniqueConstraintViolationException, type EntityManager, type MikroORM } from '@mikro-orm/postgresql';
import type { AuditService } from '../audit/service.js';
import type { Clock } from '../clock.js';
import { Conflict, InvalidRequest, NotFound } from '../errors.js';
import { decodeCursor, encodeCursor } from '../http/pagination.js';
import { newId } from '../ids.js';
import type { ClientDirectory } from '../platform/clients.js';
import { AppBundle, BundleOperation, BundleVersion, BundleVersionUsage, LATEST, OperationStat, OperationStatHour, type VersionStatus } from './entities.js';
import { parse, type GraphQLSchema } from 'graphql';
import { impactOf, type Impact } from './impact.js';
import { codegenId, contentHash, type CheckedBundle } from './files.js';
import { BUNDLES_CHANNEL, type BundleRegistry } from './registry.js';
import { newestFirst } from './versions.js';

export class BundleReleases {
  constructor(
    private readonly orm: MikroORM,
    private readonly registry: BundleRegistry,
    private readonly audit: AuditService,
    private readonly clients: ClientDirectory,
    private readonly clock: Clock,
    private readonly retireWindowDays: number,
    /** Writes what this process counted of version use and has not written yet (stats.ts), before it is read. */
    private readonly flushUsage: () => Promise<void>,
  ) {}

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
          publishedAt: new Date(this.clock.now()),
          publishedBy: actor,
        });
        for (const op of bundle.operations) {
          tx.create(BundleOperation, {
            versionId: version.id,
            operationId: op.id,
            aliasId: op.aliasId,
            document: op.document,
            operationName: op.name,
            operationType: op.type,
            requiredScopes: op.requiredScopes,
          });
        }
        this.audit.record(tx, { tenantId: null, actor, action: 'bundle.published', targetType: 'bundle', targetId: `${bundle.name}@${bundle.version}`, details: { operations: bundle.operations.length } });
        out.push({ bundle: bundle.name, version: bundle.version, status: 'published' });
      }
      await this.announce(tx);
      return out;
    });
    await this.registry.reload();
    return results;
  }

  /**
   * An app holds `bundle` on `track`: `latest` (the channel: every version not retired, new ones as they are
   * published) or a pinned version, which must be published and not retired. Tracks add up.
   */
  async assign(app: { id: string; tenantId: string }, bundle: string, actor: string, track: string = LATEST): Promise<{ assigned: boolean }> {
    const result = await this.orm.em.fork().transactional(async (tx) => {
      await this.assertAssignable(tx, bundle, track);
      // Insert-or-nothing: two operators assigning at once both succeed, one of them as "already assigned".
      const inserted: unknown[] = await tx.execute(
        `insert into app_bundles (app_id, bundle, track, tenant_id, assigned_at, assigned_by) values (?, ?, ?, ?, ?, ?)
         on conflict (app_id, bundle, track, tenant_id) do nothing returning app_id`,
        [app.id, bundle, track, app.tenantId, new Date(this.clock.now()), actor],
      );
      if (!inserted.length) return { assigned: false };
      this.audit.record(tx, { tenantId: app.tenantId, actor, action: 'bundle.assigned', targetType: 'app', targetId: app.id, details: { bundle, track } });
      await this.announce(tx);
      return { assigned: true };
    });
    await this.registry.reload();
    return result;
  }

  private async assertAssignable(em: EntityManager, bundle: string, track: string): Promise<void> {
    const versions = await em.find(BundleVersion, { bundle });
    if (!versions.length) throw new NotFound(`no published bundle ${bundle}`);
    if (track === LATEST) {
      if (versions.every((v) => v.status === 'retired')) throw new Conflict(`every version of ${bundle} is retired`);
      return;
    }
    const version = versions.find((v) => v.version === track);
    if (!version) throw new NotFound(`no version ${track} of bundle ${bundle}`);
    if (version.status === 'retired') throw new Conflict(`${bundle}@${track} is retired`);
  }

  async unassign(app: { id: string; tenantId: string }, bundle: string, actor: string, track: string = LATEST): Promise<void> {
    await this.orm.em.fork().transactional(async (tx) => {
      const row = await tx.findOne(AppBundle, { appId: app.id, bundle, track }, { filters: false });
      if (!row) throw new NotFound(`bundle ${trackName(bundle, track)} is not assigned to ${app.id}`);
      tx.remove(row);
      this.audit.record(tx, { tenantId: app.tenantId, actor, action: 'bundle.unassigned', targetType: 'app', targetId: app.id, details: { bundle, track } });
      await this.announce(tx);
    });
    await this.registry.reload();
  }

  /**
   * Deprecates a version: still served, but every answer to an operation an app holds only through it carries a
   * `Deprecation` header, and the app's operation list says so. A deprecated version stays deprecated.
   */
  async deprecate(bundle: string, version: string, actor: string): Promise<BundleVersion> {
    const changed = await this.orm.em.fork().transactional(async (tx) => {
      const row = await this.versionRow(tx, bundle, version);
      if (row.status === 'retired') throw new Conflict(`${bundle}@${version} is retired already`);
      if (row.status === 'deprecated') return row;
      row.status = 'deprecated';
      row.deprecatedAt = new Date(this.clock.now());
      this.audit.record(tx, { tenantId: null, actor, action: 'bundle.deprecated', targetType: 'bundle', targetId: `${bundle}@${version}` });
      await this.announce(tx);
      return row;
    });
    await this.registry.reload();
    return changed;
  }

  /**
   * Retires a version: its operations answer exactly as unknown ones to every app. Refused while any app used it
   * within the retirement window (BUNDLE_RETIRE_WINDOW_DAYS), naming the apps, their tenants and when each last
   * used it, unless forced; a forced retirement records who it cut off.
   */
  async retire(bundle: string, version: string, actor: string, options: { force?: boolean } = {}): Promise<BundleVersion> {
    await this.flushUsage();
    const retired = await this.orm.em.fork().transactional(async (tx) => {
      const row = await this.versionRow(tx, bundle, version, { lock: true });
      if (row.status === 'retired') return row;
      const recent = await this.recentUse(tx, row);
      if (recent.length && !options.force) throw new RetirementRefused(bundle, version, recent, this.retireWindowDays);
      row.status = 'retired';
      row.retiredAt = new Date(this.clock.now());
      this.audit.record(tx, {
        tenantId: null,
        actor,
        action: 'bundle.retired',
        targetType: 'bundle',
        targetId: `${bundle}@${version}`,
        details: { forced: Boolean(options.force && recent.length), recent_users: recent },
      });
      await this.announce(tx);
      return row;
    });
    await this.registry.reload();
    return retired;
  }

  /** What `schema` would break among the live versions (impact.ts). */
  async impact(schema: GraphQLSchema): Promise<Impact> {
    await this.flushUsage();
    return impactOf(this.orm, schema, new Date(this.clock.now() - this.retireWindowDays * 86_400_000));
  }

  /** Who holds a version (pinned, or through the channel) and who used it within the window. */
  async usage(bundle: string, version: string) {
    await this.flushUsage();
    const em = this.orm.em.fork();
    const row = await this.versionRow(em, bundle, version);
    // The channel holds every version not retired (registry.ts).
    const tracks = row.status === 'retired' ? [version] : [version, LATEST];
    const holders = await em.find(AppBundle, { bundle, track: { $in: tracks } }, { filters: false, orderBy: { assignedAt: 'asc' } });
    return {
      bundle,
      version,
      status: row.status,
      window_days: this.retireWindowDays,
      assigned: holders.map((h) => ({ client_id: h.appId, tenant_id: h.tenantId, track: h.track })),
      recent_use: await this.recentUse(em, row),
    };
  }

  private async versionRow(em: EntityManager, bundle: string, version: string, options: { lock?: boolean } = {}): Promise<BundleVersion> {
    const row = await em.findOne(BundleVersion, { bundle, version }, options.lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
    if (!row) throw new NotFound(`no version ${version} of bundle ${bundle}`);
    return row;
  }

  /** The apps that ran an operation of the version within the window, most recent first, with their tenants. */
  private async recentUse(em: EntityManager, version: BundleVersion): Promise<RecentUse[]> {
    const since = new Date(this.clock.now() - this.retireWindowDays * 86_400_000);
    const rows = await em.find(BundleVersionUsage, { versionId: version.id, lastUsedAt: { $gte: since } }, { filters: false, orderBy: { lastUsedAt: 'desc' } });
    return Promise.all(
      rows.map(async (r) => ({
        client_id: r.appId,
        app_name: (await this.clients.find(r.appId))?.app.name ?? null,
        tenant_id: r.tenantId,
        last_used_at: r.lastUsedAt.toISOString(),
        calls: Number(r.calls),
      })),
    );
  }

  /**
   * An app's part of the bundles, removed with the app (platform/lifecycle.ts): its assignments and its call counts,
   * in the deleting transaction; every registry reloads at its commit.
   */
  async removeApp(em: EntityManager, app: { id: string; tenantId: string }): Promise<Record<string, number>> {
    const of = { appId: app.id, tenantId: app.tenantId };
    const assignments = await em.nativeDelete(AppBundle, of);
    const stats = await em.nativeDelete(OperationStat, of);
    await em.nativeDelete(BundleVersionUsage, of);
    await em.nativeDelete(OperationStatHour, of);
    if (assignments) await this.announce(em);
    return { bundle_assignments: assignments, operation_stats: stats };
  }

  async listBundles() {
    const em = this.orm.em.fork();
    const versions = await em.find(BundleVersion, {});
    const counts = await em.getConnection().execute<Array<{ version_id: string; n: number }>>('select version_id, count(*)::int as n from bundle_operations group by version_id');
    const countOf = new Map(counts.map((c) => [c.version_id, c.n]));
    const byName = new Map<string, BundleVersion[]>();
    for (const v of versions) byName.set(v.bundle, [...(byName.get(v.bundle) ?? []), v]);
    return [...byName].sort(([a], [b]) => a.localeCompare(b)).map(([name, list]) => {
      const ordered = newestFirst(list);
      const head = ordered.find((v) => v.status !== 'retired') ?? ordered[0]!;
      return {
        name,
        description: head.description,
        latest_version: head.version,
        versions: ordered.reverse().map((v) => ({
          version: v.version,
          status: v.status,
          published_at: v.publishedAt.toISOString(),
          deprecated_at: v.deprecatedAt?.toISOString() ?? null,
          retired_at: v.retiredAt?.toISOString() ?? null,
          operations: countOf.get(v.id) ?? 0,
        })),
      };
    });
  }

  /** Versions by id, for what the registry holds by version id. */
  async versionsById(ids: string[]): Promise<Map<string, BundleVersion>> {
    if (!ids.length) return new Map();
    const rows = await this.orm.em.fork().find(BundleVersion, { id: { $in: [...new Set(ids)] } });
    return new Map(rows.map((v) => [v.id, v]));
  }

  /** A version with its operations; without `version`, the channel's (the newest not retired). */
  async bundleVersion(bundle: string, version?: string) {
    const em = this.orm.em.fork();
    const all = newestFirst(await em.find(BundleVersion, { bundle }));
    const found = version ? all.find((v) => v.version === version) : (all.find((v) => v.status !== 'retired') ?? all[0]);
    if (!found) throw new NotFound(version && all.length ? `no version ${version} of bundle ${bundle}` : `no published bundle ${bundle}`);
    const operations = await em.find(BundleOperation, { versionId: found.id }, { orderBy: { operationName: 'asc' } });
    return { version: found, operations };
  }

  /**
   * The app's tracks, each with the version it resolves to now: a pinned one's version, the channel's newest version
   * not retired (it holds the older ones not retired too); null when nothing is left to serve.
   */
  async appBundles(appId: string): Promise<Array<{ bundle: string; track: string; version: string | null; status: VersionStatus | null; assigned_at: string; assigned_by: string }>> {
    const em = this.orm.em.fork();
    const rows = await em.find(AppBundle, { appId }, { filters: false, orderBy: { bundle: 'asc', track: 'asc' } });
    const versions = rows.length ? await em.find(BundleVersion, { bundle: { $in: [...new Set(rows.map((r) => r.bundle))] } }) : [];
    return rows.map((r) => {
      const resolved = resolveTrack(newestFirst(versions.filter((v) => v.bundle === r.bundle)), r.track);
      return { bundle: r.bundle, track: r.track, version: resolved?.version ?? null, status: resolved?.status ?? null, assigned_at: r.assignedAt.toISOString(), assigned_by: r.assignedBy };
    });
  }

  /**
   * Which apps hold `bundle`, on which track, across tenants, oldest assignment first (an operator's view, README
   * "Console"): each with its app's name and tenant and the version its track resolves to now, as `appBundles` says.
   */
  async assignments(bundle: string, limit: number, cursor?: string) {
    const em = this.orm.em.fork();
    const versions = newestFirst(await em.find(BundleVersion, { bundle }));
    if (!versions.length) throw new NotFound(`no published bundle ${bundle}`);
    const after = assignmentAfter(decodeCursor(cursor));
    const rows = await em.find(AppBundle, { bundle, ...after }, { filters: false, orderBy: { assignedAt: 'asc', appId: 'asc', track: 'asc' }, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const items = await Promise.all(
      page.map(async (r) => {
        const resolved = resolveTrack(versions, r.track);
        return {
          client_id: r.appId,
          app_name: (await this.clients.find(r.appId))?.app.name ?? null,
          tenant_id: r.tenantId,
          track: r.track,
          version: resolved?.version ?? null,
          status: resolved?.status ?? null,
          assigned_at: r.assignedAt.toISOString(),
          assigned_by: r.assignedBy,
        };
      }),
    );
    return { items, nextCursor: rows.length > limit && last ? encodeCursor({ at: last.assignedAt, id: JSON.stringify([last.appId, last.track]) }) : null };
  }

  /**
   * What a client needs: an Apollo persisted-query manifest, a documentId map (GraphQL over HTTP), and the ids a
   * client built with graphql-codegen's client preset sends for the same documents.
   */
  async manifest(bundle: string, version?: string) {
    const { version: v, operations } = await this.bundleVersion(bundle, version);
    return {
      bundle: v.bundle,
      version: v.version,
      status: v.status,
      deprecated_at: v.deprecatedAt?.toISOString() ?? null,
      ...clientManifests(operations.map((o) => ({ id: o.operationId, aliasId: o.aliasId ?? codegenId(parse(o.document)), name: o.operationName, type: o.operationType, document: o.document }))),
    };
  }
}

/** The version a track serves now (newest first in `versions`): the channel's newest not retired, or the pinned one unless retired. */
function resolveTrack(versions: BundleVersion[], track: string): BundleVersion | undefined {
  return track === LATEST ? versions.find((v) => v.status !== 'retired') : versions.find((v) => v.version === track && v.status !== 'retired');
}

/** Assignments after a cursor, in (assigned_at, app, track) order. */
function assignmentAfter(position: { at: Date; id: string } | null): object {
  if (!position) return {};
  let appId: unknown;
  let track: unknown;
  try {
    [appId, track] = JSON.parse(position.id) as unknown[];
  } catch {
    appId = undefined;
  }
  if (typeof appId !== 'string' || typeof track !== 'string') throw InvalidRequest.field('query.cursor', 'is not a cursor this API returned');
  const at = position.at;
  return { $or: [{ assignedAt: { $gt: at } }, { assignedAt: at, appId: { $gt: appId } }, { assignedAt: at, appId, track: { $gt: track } }] };
}

/** `bundle` for the channel, `bundle@1.2.0` for a pinned version. */
export function trackName(bundle: string, track: string): string {
  return track === LATEST ? bundle : `${bundle}@${track}`;
}

/** An operation as the manifests list it. */
export interface ManifestOperation {
  id: string;
  aliasId: string;
  name: string;
  type: string;
  document: string;
}

/** Apollo's persisted-query manifest, GraphQL over HTTP documentIds, and graphql-codegen's ids, for the same operations. */
export function clientManifests(operations: ManifestOperation[]) {
  return {
    apollo: {
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: operations.map((o) => ({ id: o.id, name: o.name, type: o.type, body: o.document })),
    },
    documentIds: Object.fromEntries(operations.map((o) => [o.name, `sha256:${o.id}`])),
    codegenDocumentIds: Object.fromEntries(operations.map((o) => [o.name, `sha256:${o.aliasId}`])),
  };
}

/** The apps that used a version within the window, named, as a refusal to retire it says. */
export interface RecentUse {
  client_id: string;
  app_name: string | null;
  tenant_id: string;
  last_used_at: string;
  calls: number;
}

/** 409: a version still in use; the description names each app, its tenant and when it last used the version. */
export class RetirementRefused extends Conflict {
  constructor(bundle: string, version: string, readonly recent: RecentUse[], windowDays: number) {
    const who = recent.map((r) => `${r.app_name ?? r.client_id} (${r.client_id}, tenant ${r.tenant_id}) last used it at ${r.last_used_at}`).join('; ');
    super(`${bundle}@${version} was used within the last ${windowDays} days: ${who}. Move those apps to another version, or retire with force`);
  }
}
