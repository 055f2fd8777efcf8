// Releases of operation bundles: publishing immutable versions from checked bundle files, assigning bundles to
// apps and unassigning them, and what operators and clients read of them (versions, documents, manifests). Every
// change NOTIFYs all processes, whose registries reload; the caller's own registry has reloaded when it returns.
import { UniqueConstraintViolationException, type EntityManager, type MikroORM } from '@mikro-orm/postgresql';
import type { AuditService } from '../audit/service.js';
import type { Clock } from '../clock.js';
import { Conflict, NotFound } from '../errors.js';
import { newId } from '../ids.js';
import { AppBundle, BundleOperation, BundleVersion, OperationStat } from './entities.js';
import { parse } from 'graphql';
import { codegenId, contentHash, type CheckedBundle } from './files.js';
import { BUNDLES_CHANNEL, type BundleRegistry } from './registry.js';

export class BundleReleases {
  constructor(
    private readonly orm: MikroORM,
    private readonly registry: BundleRegistry,
    private readonly audit: AuditService,
    private readonly clock: Clock,
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

  private async assertBundle(em: EntityManager, bundle: string): Promise<void> {
    if (!(await em.count(BundleVersion, { bundle }))) throw new NotFound(`no published bundle ${bundle}`);
  }

  async assign(app: { id: string; tenantId: string }, bundle: string, actor: string): Promise<{ assigned: boolean }> {
    const result = await this.orm.em.fork().transactional(async (tx) => {
      await this.assertBundle(tx, bundle);
      // Insert-or-nothing: two operators assigning at once both succeed, one of them as "already assigned".
      const inserted: unknown[] = await tx.execute(
        `insert into app_bundles (app_id, bundle, tenant_id, assigned_at, assigned_by) values (?, ?, ?, ?, ?)
         on conflict (app_id, bundle, tenant_id) do nothing returning app_id`,
        [app.id, bundle, app.tenantId, new Date(this.clock.now()), actor],
      );
      if (!inserted.length) return { assigned: false };
      this.audit.record(tx, { tenantId: app.tenantId, actor, action: 'bundle.assigned', targetType: 'app', targetId: app.id, details: { bundle } });
      await this.announce(tx);
      return { assigned: true };
    });
    await this.registry.reload();
    return result;
  }

  async unassign(app: { id: string; tenantId: string }, bundle: string, actor: string): Promise<void> {
    await this.orm.em.fork().transactional(async (tx) => {
      const row = await tx.findOne(AppBundle, { appId: app.id, bundle }, { filters: false });
      if (!row) throw new NotFound(`bundle ${bundle} is not assigned to ${app.id}`);
      tx.remove(row);
      this.audit.record(tx, { tenantId: app.tenantId, actor, action: 'bundle.unassigned', targetType: 'app', targetId: app.id, details: { bundle } });
      await this.announce(tx);
    });
    await this.registry.reload();
  }

  /**
   * An app's part of the bundles, removed with the app (platform/lifecycle.ts): its assignments and its call counts,
   * in the deleting transaction; every registry reloads at its commit.
   */
  async removeApp(em: EntityManager, app: { id: string; tenantId: string }): Promise<Record<string, number>> {
    const of = { appId: app.id, tenantId: app.tenantId };
    const assignments = await em.nativeDelete(AppBundle, of);
    const stats = await em.nativeDelete(OperationStat, of);
    if (assignments) await this.announce(em);
    return { bundle_assignments: assignments, operation_stats: stats };
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

  /**
   * What a client needs: an Apollo persisted-query manifest, a documentId map (GraphQL over HTTP), and the ids a
   * client built with graphql-codegen's client preset sends for the same documents.
   */
  async manifest(bundle: string, version?: string) {
    const { version: v, operations } = await this.bundleVersion(bundle, version);
    const aliasOf = (o: (typeof operations)[number]) => o.aliasId ?? codegenId(parse(o.document));
    return {
      bundle: v.bundle,
      version: v.version,
      apollo: {
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: operations.map((o) => ({ id: o.operationId, name: o.operationName, type: o.operationType, body: o.document })),
      },
      documentIds: Object.fromEntries(operations.map((o) => [o.operationName, `sha256:${o.operationId}`])),
      codegenDocumentIds: Object.fromEntries(operations.map((o) => [o.operationName, `sha256:${aliasOf(o)}`])),
    };
  }
}
