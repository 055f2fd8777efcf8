// Call statistics per app and operation, and when each app last ran each bundle version (what a retirement is
// checked against): counted in memory on every executed call and added to the tables every few seconds, so a
// request writes nothing; and the same calls as Prometheus metrics,
// `tessera_graphql_operations_total{client_id, operation, outcome}` and
// `tessera_graphql_operation_duration_seconds{operation, outcome}` (apps are a label only on the counter: a
// histogram per app would multiply its buckets by every app an operator assigned a bundle to).
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock } from '../clock.js';
import type { PersistedOperation } from '../graphql/persisted.js';
import { Counter, Histogram, type Registry } from 'prom-client';
import { OperationStat } from './entities.js';

interface StatDelta {
  tenantId: string;
  name: string;
  calls: number;
  errors: number;
  totalMs: number;
  last: Date;
}

/** Calls of one app through one version since the last flush. */
interface VersionUse {
  calls: number;
  last: Date;
}

export class OperationStats {
  private pending = new Map<string, StatDelta>();
  /** By `appId versionId tenantId`. */
  private versionUse = new Map<string, VersionUse>();
  private readonly calls: Counter<'client_id' | 'operation' | 'outcome'>;
  private readonly durations: Histogram<'operation' | 'outcome'>;

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    registry: Registry,
  ) {
    this.calls = new Counter({
      name: 'tessera_graphql_operations_total',
      help: 'Persisted GraphQL operations executed, by app (client_id), operation name and outcome (ok, error)',
      labelNames: ['client_id', 'operation', 'outcome'],
      registers: [registry],
    });
    this.durations = new Histogram({
      name: 'tessera_graphql_operation_duration_seconds',
      help: 'How long persisted GraphQL operations took to execute, by operation name and outcome',
      labelNames: ['operation', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
  }

  /** `versionId`: the bundle version the app holds the operation through (registry.ts), when it holds it. */
  recordCall(appId: string, tenantId: string, operation: PersistedOperation, ms: number, failed: boolean, versionId?: string): void {
    const key = `${appId} ${operation.id}`;
    const now = new Date(this.clock.now());
    if (versionId) {
      const useKey = `${appId} ${versionId} ${tenantId}`;
      const use = this.versionUse.get(useKey) ?? { calls: 0, last: now };
      use.calls += 1;
      use.last = now;
      this.versionUse.set(useKey, use);
    }
    const delta = this.pending.get(key) ?? { tenantId, name: operation.name, calls: 0, errors: 0, totalMs: 0, last: now };
    delta.calls += 1;
    delta.errors += failed ? 1 : 0;
    delta.totalMs += ms;
    delta.last = now;
    this.pending.set(key, delta);
    const outcome = failed ? 'error' : 'ok';
    this.calls.inc({ client_id: appId, operation: operation.name, outcome });
    this.durations.observe({ operation: operation.name, outcome }, ms / 1000);
  }

  /** Drops what this process counted for a deleted app and has not added to the table yet. */
  forgetApp(appId: string): void {
    for (const key of this.pending.keys()) if (key.startsWith(`${appId} `)) this.pending.delete(key);
    for (const key of this.versionUse.keys()) if (key.startsWith(`${appId} `)) this.versionUse.delete(key);
  }

  /** Adds the counts so far to the tables. */
  async flush(): Promise<void> {
    await this.flushVersionUse();
    if (!this.pending.size) return;
    const pending = this.pending;
    this.pending = new Map();
    const em = this.orm.em.fork();
    for (const [key, d] of pending) {
      const [appId, operationId] = key.split(' ');
      await em.execute(
        `insert into operation_stats (app_id, operation_id, tenant_id, operation_name, calls, errors, total_ms, last_called_at)
         values (?, ?, ?, ?, ?, ?, ?, ?)
         on conflict (app_id, operation_id, tenant_id) do update set calls = operation_stats.calls + excluded.calls,
           errors = operation_stats.errors + excluded.errors, total_ms = operation_stats.total_ms + excluded.total_ms,
           last_called_at = greatest(operation_stats.last_called_at, excluded.last_called_at)`,
        [appId, operationId, d.tenantId, d.name, d.calls, d.errors, d.totalMs, d.last],
      );
    }
  }

  /** One statement for every app and version used since the last flush. */
  private async flushVersionUse(): Promise<void> {
    if (!this.versionUse.size) return;
    const uses = [...this.versionUse].map(([key, use]) => {
      const [app, version, tenant] = key.split(' ');
      return { app, version, tenant, calls: use.calls, last: use.last.toISOString() };
    });
    this.versionUse = new Map();
    await this.orm.em.fork().execute(
      `insert into bundle_version_usage (app_id, version_id, tenant_id, calls, last_used_at)
       select u->>'app', u->>'version', u->>'tenant', (u->>'calls')::bigint, (u->>'last')::timestamptz from jsonb_array_elements(?::jsonb) as u
       on conflict (app_id, version_id, tenant_id) do update set calls = bundle_version_usage.calls + excluded.calls,
         last_used_at = greatest(bundle_version_usage.last_used_at, excluded.last_used_at)`,
      [JSON.stringify(uses)],
    );
  }

  /** Calls, errors and mean latency per app and operation, most called first; of one app with `appId`. */
  async list(appId?: string) {
    await this.flush();
    const rows = await this.orm.em.fork().find(OperationStat, appId ? { appId } : {}, { filters: false, orderBy: { calls: 'desc' } });
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
}
