// The bundles module: curated operation bundles, their releases and assignments (operator REST under
// /api/v1/platform/*, the CLI), the registry the GraphQL transport serves persisted operations from, and the
// per-app call statistics.
import type { PersistedOperationSource } from '../graphql/persisted.js';
import type { FeatureModule } from '../module.js';
import { AppBundle, BundleOperation, BundleVersion, BundleVersionUsage, OperationStat, OperationStatHour } from './entities.js';
import { BundleRegistry, BUNDLES_CHANNEL } from './registry.js';
import { BundleReleases } from './releases.js';
import { registerPartnerRoutes } from './partner-routes.js';
import { registerBundleRoutes } from './routes.js';
import { OperationStats } from './stats.js';

declare module '../module.js' {
  interface Services {
    bundles: BundleReleases;
    bundleRegistry: BundleRegistry;
    operationStats: OperationStats;
    /** What the GraphQL transport runs: the operations each app's bundles hold. */
    persistedOperations: PersistedOperationSource;
  }
}

const STATS_FLUSH_MS = 5_000;

export const bundlesModule: FeatureModule = {
  name: 'bundles',
  entities: [BundleVersion, BundleOperation, AppBundle, OperationStat, OperationStatHour, BundleVersionUsage],
  // Assignments and call counts are an app's, so its tenant's; the registry and the operator's routes read them
  // across tenants, and say so (`filters: false`).
  tenantOwned: [AppBundle, OperationStat, OperationStatHour, BundleVersionUsage],
  // The curated bundles themselves are the operator's, shared by every tenant.
  platformWide: [BundleVersion, BundleOperation],
  create(core, { audit, clients, appLifecycle }) {
    const registry = new BundleRegistry(core.orm, core.schema, core.logger);
    const stats = new OperationStats(core.orm, core.clock, core.metrics);
    const releases = new BundleReleases(core.orm, registry, audit, clients, core.clock, core.config.bundles.retireWindowDays, () => stats.flush());
    appLifecycle.listen({
      deleted: async (em, { app }) => {
        stats.forgetApp(app.id);
        return releases.removeApp(em, app);
      },
    });
    const persistedOperations: PersistedOperationSource = {
      lookup: (appId, operationId) => registry.lookup(appId, operationId),
      deprecatedAt: (appId, operationId) => registry.holding(appId, operationId)?.deprecatedAt ?? null,
      onLoad: (listener) => registry.onLoad(listener),
      recordCall: (appId, tenantId, operation, ms, failed) => stats.recordCall(appId, tenantId, operation, ms, failed, registry.holding(appId, operation.id)?.versionId),
    };
    const flushQuietly = () => stats.flush().catch((e) => core.logger.warn({ err: e }, 'operation stats flush failed'));
    let timer: NodeJS.Timeout | undefined;
    return {
      services: { bundles: releases, bundleRegistry: registry, operationStats: stats, persistedOperations },
      routes: async (app) => {
        registerBundleRoutes(app, { releases, stats, clients, tokens: core.tokens });
        registerPartnerRoutes(app, { registry, releases, stats, clients, tokens: core.tokens, schema: core.schema });
      },
      channels: { [BUNDLES_CHANNEL]: () => registry.reloadQuietly() },
      reconnected: () => registry.reloadQuietly(),
      async start({ background }) {
        if (background) {
          timer = setInterval(() => void flushQuietly(), STATS_FLUSH_MS);
          timer.unref();
        }
        await registry.reload();
      },
      async stop() {
        clearInterval(timer);
        await flushQuietly();
      },
    };
  },
};
