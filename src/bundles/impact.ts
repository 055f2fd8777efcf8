// The impact of a schema on what partners run: every published version that is still live (held by an app, pinned
// or through the channel, or used within the retirement window) is validated again against a schema,
// the current one or a proposed one, and each operation that no longer validates is named with the reason and the
// apps and tenants it would break, so that a schema change can no longer silently turn live operations into 404s
// (the registry drops an operation that no longer validates, and apps get PERSISTED_QUERY_NOT_IN_LIST).
import type { MikroORM } from '@mikro-orm/postgresql';
import type { GraphQLSchema } from 'graphql';
import { AppBundle, BundleOperation, BundleVersion, BundleVersionUsage, LATEST } from './entities.js';
import { checkOperation } from './files.js';
import { compareVersions } from './versions.js';

/** How an app reaches a version: pinned to it, through the channel (every version not retired), or by recent use. */
export interface AffectedApp {
  client_id: string;
  tenant_id: string;
  via: 'pinned' | 'channel' | 'used';
  last_used_at: string | null;
}

export interface Breakage {
  bundle: string;
  version: string;
  operation: string;
  /** What no longer validates: graphql's messages, e.g. `Cannot query field "x" on type "Incident".` */
  problems: string[];
  apps: AffectedApp[];
}

export interface Impact {
  /** Every live version checked, `bundle@version`. */
  checked: string[];
  breakages: Breakage[];
}

export async function impactOf(orm: MikroORM, schema: GraphQLSchema, windowStart: Date): Promise<Impact> {
  const em = orm.em.fork();
  const versions = (await em.find(BundleVersion, {})).filter((v) => v.status !== 'retired');
  const assignments = await em.find(AppBundle, {}, { filters: false });
  const recent = await em.find(BundleVersionUsage, { lastUsedAt: { $gte: windowStart } }, { filters: false });

  const apps = new Map<string, AffectedApp[]>();
  const reach = (versionId: string, app: AffectedApp) => apps.set(versionId, [...(apps.get(versionId) ?? []), app]);
  // The channel holds every version not retired (registry.ts); a pinned track its version.
  for (const a of assignments) {
    for (const version of versions.filter((v) => v.bundle === a.bundle && (a.track === LATEST || v.version === a.track))) {
      reach(version.id, { client_id: a.appId, tenant_id: a.tenantId, via: a.track === LATEST ? 'channel' : 'pinned', last_used_at: null });
    }
  }
  for (const u of recent) {
    if (versions.some((v) => v.id === u.versionId)) reach(u.versionId, { client_id: u.appId, tenant_id: u.tenantId, via: 'used', last_used_at: u.lastUsedAt.toISOString() });
  }

  const live = versions.filter((v) => apps.has(v.id)).sort((a, b) => a.bundle.localeCompare(b.bundle) || compareVersions(a.version, b.version));
  const breakages: Breakage[] = [];
  for (const version of live) {
    const operations = await em.find(BundleOperation, { versionId: version.id }, { orderBy: { operationName: 'asc' } });
    for (const op of operations) {
      const problems: string[] = [];
      checkOperation(schema, op.document, (message) => problems.push(message));
      if (problems.length) breakages.push({ bundle: version.bundle, version: version.version, operation: op.operationName, problems, apps: apps.get(version.id)! });
    }
  }
  return { checked: live.map((v) => `${v.bundle}@${v.version}`), breakages };
}

/** One line per breakage, as `operations check` prints it. */
export function describeBreakage(b: Breakage): string {
  const who = b.apps.map((a) => `${a.client_id} (tenant ${a.tenant_id}, ${a.via === 'used' ? `last used ${a.last_used_at}` : a.via})`).join(', ');
  return `${b.bundle}@${b.version} ${b.operation}: ${b.problems.join(' ')} Breaks: ${who}`;
}
