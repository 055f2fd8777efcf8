// Call statistics per app and operation (running totals, and per hour for the console's activity pictures), and when
// each app last ran each bundle version (what a retirement is checked against): counted in memory on every executed
// call and added to the tables every few seconds, so a request writes nothing; and the same calls as Prometheus metrics,
// `tessera_graphql_operations_total{client_id, operation, outcome}` and
// `tessera_graphql_operation_duration_seconds{operation, outcome}` (apps are a label only on the counter: a
// histogram per app would multiply its buckets by every app an operator assigned a bundle to).
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock } from '../clock.js';
import type { PersistedOperation } from '../graphql/persisted.js';
import { Counter, Histogram, type Registry } from 'prom-client';
import { OperationStat } from './entities.js';

const HOUR_MS = 3_600_000;
/** How long an app's hourly call counts are kept: the activity routes read at most the last 30 days. */
export const STATS_HOURLY_RETENTION_DAYS = 90;
/** The most days the activity of an app is read for (GET .../activity/graphql?days=). */
export const MAX_ACTIVITY_DAYS = 30;

/** Calls of one app and operation in one hour since the last flush. */
interface HourDelta {
  name: string;
  calls: number;
  errors: number;
  totalMs: number;
}

/** Calls, errors and mean latency of a span of time (an hour, an operation, the whole window). */
export interface CallCounts {
  calls: number;
  errors: number;
  mean_latency_ms: number;
}

/** An app's GraphQL calls over the last days: per hour (only hours with calls), per operation, and in all. */
export interface AppCallActivity extends CallCounts {
  since: Date;
  until: Date;
  hours: Array<CallCounts & { hour: Date }>;
  operations: Array<CallCounts & { operation_id: string; operation_name: string }>;
}

/** The first hour of a window of `days` whole days of hours that ends with the hour of `now` (UTC). */
export function windowStart(now: number, days: number): Date {
  return new Date(Math.floor(now / HOUR_MS) * HOUR_MS - (days * 24 - 1) * HOUR_MS);
}

const meanOf = (calls: number, totalMs: number) => (calls ? Math.round((totalMs / calls) * 100) / 100 : 0);

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
  /** By `appId operationId hourEpochMs tenantId`. */
  private hourly = new Map<string, HourDelta>();
  /** When this process last removed hours past their retention (at most once an hour). */
  private prunedAt = 0;
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
    const hourKey = `${appId} ${operation.id} ${Math.floor(now.getTime() / HOUR_MS) * HOUR_MS} ${tenantId}`;
    const hour = this.hourly.get(hourKey) ?? { name: operation.name, calls: 0, errors: 0, totalMs: 0 };
    hour.calls += 1;
    hour.errors += failed ? 1 : 0;
    hour.totalMs += ms;
    this.hourly.set(hourKey, hour);
    const outcome = failed ? 'error' : 'ok';
    this.calls.inc({ client_id: appId, operation: operation.name, outcome });
    this.durations.observe({ operation: operation.name, outcome }, ms / 1000);
  }

  /** Drops what this process counted for a deleted app and has not added to the table yet. */
  forgetApp(appId: string): void {
    for (const key of this.pending.keys()) if (key.startsWith(`${appId} `)) this.pending.delete(key);
    for (const key of this.versionUse.keys()) if (key.startsWith(`${appId} `)) this.versionUse.delete(key);
    for (const key of this.hourly.keys()) if (key.startsWith(`${appId} `)) this.hourly.delete(key);
  }

  /** Adds the counts so far to the tables. */
  async flush(): Promise<void> {
    await this.flushVersionUse();
    await this.flushHourly();
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

  /**
   * One statement for every app, operation and hour counted since the last flush; then, at most hourly, the hours past
   * their retention go (done by the processes that count calls: one that serves none, the CLI say, writes nothing).
   */
  private async flushHourly(): Promise<void> {
    const now = this.clock.now();
    if (!this.hourly.size) return;
    const hours = [...this.hourly].map(([key, d]) => {
      const [app, operation, hour, tenant] = key.split(' ');
      return { app, operation, hour: new Date(Number(hour)).toISOString(), tenant, name: d.name, calls: d.calls, errors: d.errors, ms: d.totalMs };
    });
    this.hourly = new Map();
    await this.orm.em.fork().execute(
      `insert into operation_stats_hourly (tenant_id, app_id, hour, operation_id, operation_name, calls, errors, total_ms)
       select u->>'tenant', u->>'app', (u->>'hour')::timestamptz, u->>'operation', u->>'name', (u->>'calls')::bigint,
              (u->>'errors')::bigint, (u->>'ms')::double precision
       from jsonb_array_elements(?::jsonb) as u
       on conflict (tenant_id, app_id, hour, operation_id) do update set calls = operation_stats_hourly.calls + excluded.calls,
         errors = operation_stats_hourly.errors + excluded.errors, total_ms = operation_stats_hourly.total_ms + excluded.total_ms`,
      [JSON.stringify(hours)],
    );
    if (now - this.prunedAt >= HOUR_MS) {
      this.prunedAt = now;
      await this.orm.em.fork().execute('delete from operation_stats_hourly where hour < ?', [new Date(now - STATS_HOURLY_RETENTION_DAYS * 86_400_000)]);
    }
  }

  /**
   * An app's calls of the last `days` days (this process's counts flushed first): per hour, per operation (most called
   * first) and in all.
   */
  async activity(appId: string, tenantId: string, days: number): Promise<AppCallActivity> {
    await this.flush();
    const until = new Date(this.clock.now());
    const since = windowStart(until.getTime(), days);
    const rows = await this.orm.em.fork().execute<
      Array<{ hour: Date | null; operation_id: string | null; operation_name: string | null; calls: string; errors: string; total_ms: number }>
    >(
      `select hour, operation_id, max(operation_name) as operation_name,
              sum(calls)::bigint as calls, sum(errors)::bigint as errors, sum(total_ms)::double precision as total_ms
       from operation_stats_hourly where tenant_id = ? and app_id = ? and hour >= ?
       group by grouping sets ((hour), (operation_id), ())`,
      [tenantId, appId, since],
    );
    const counts = (r: { calls: string; errors: string; total_ms: number }): CallCounts => ({
      calls: Number(r.calls),
      errors: Number(r.errors),
      mean_latency_ms: meanOf(Number(r.calls), Number(r.total_ms)),
    });
    const total = rows.find((r) => r.hour === null && r.operation_id === null);
    return {
      since,
      until,
      ...(total ? counts(total) : { calls: 0, errors: 0, mean_latency_ms: 0 }),
      hours: rows
        .filter((r) => r.hour !== null)
        .map((r) => ({ hour: new Date(r.hour!), ...counts(r) }))
        .sort((a, b) => a.hour.getTime() - b.hour.getTime()),
      operations: rows
        .filter((r) => r.operation_id !== null)
        .map((r) => ({ operation_id: r.operation_id!, operation_name: r.operation_name!, ...counts(r) }))
        .sort((a, b) => b.calls - a.calls || a.operation_name.localeCompare(b.operation_name)),
    };
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
      mean_latency_ms: meanOf(Number(r.calls), Number(r.totalMs)),
      last_called_at: r.lastCalledAt.toISOString(),
    }));
  }
}
