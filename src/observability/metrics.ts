// Prometheus metrics (prom-client), one registry per runtime: the process's own (CPU, memory, event loop, GC), the
// HTTP requests (requests.ts), the database pools, and what each feature defines on the same registry next to
// the code it measures (oauth/, bundles/, webhooks/, keys/). Names start with `tessera_`; labels are bounded:
// route patterns, never URLs; grant types, error codes, outcomes; an app only where apps are few (GraphQL
// callers hold bundles an operator assigned). README "Metrics" lists them.
//
// Served at GET /metrics on the main port behind METRICS_TOKEN, or on METRICS_PORT (any role, the worker
// included) for a scraper inside the network; without either there is no /metrics at all.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

export type { Registry };

export function createMetrics(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** What a connection pool says of itself when scraped. */
export interface PoolState {
  inUse: number;
  idle: number;
  waiting: number;
}

/** `tessera_db_pool_connections{pool, state}`: connections in use and idle, and callers waiting for one. */
export function poolMetrics(registry: Registry, pools: Record<string, () => PoolState>): void {
  new Gauge({
    name: 'tessera_db_pool_connections',
    help: 'Database connections by pool (orm: requests; jobs: the worker and the delivery path) and state (in_use, idle, waiting: callers waiting for a connection)',
    labelNames: ['pool', 'state'],
    registers: [registry],
    collect() {
      for (const [pool, state] of Object.entries(pools)) {
        const { inUse, idle, waiting } = state();
        this.set({ pool, state: 'in_use' }, inUse);
        this.set({ pool, state: 'idle' }, idle);
        this.set({ pool, state: 'waiting' }, waiting);
      }
    },
  });
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** Whether an Authorization header carries the metrics token (compared in constant time). */
export function metricsTokenMatches(header: string | undefined, token: string): boolean {
  const presented = /^Bearer (.+)$/i.exec(header ?? '')?.[1];
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** METRICS_PORT: /metrics alone, unauthenticated, for a scraper on the private network. */
export async function serveMetrics(registry: Registry, port: number, host: string): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(text),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics could not be collected\n'),
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
