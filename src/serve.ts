// A Tessera process: the runtime, the HTTP app (unless ROLE=worker), listening, and an ordered stop on
// SIGTERM/SIGINT. Its last start-up line says where it listens and what to do next.
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { createLogger, type Logger } from './observability/log.js';
import { serveMetrics } from './observability/metrics.js';
import type { Tracing } from './observability/tracing.js';
import { startRuntime } from './runtime.js';

export async function serve(config: Config, startedAt: number, tracing: Tracing | null): Promise<void> {
  const log = createLogger(config);
  const runtime = await startRuntime(config, {
    embeddedMode: 'own',
    background: true,
    // Roles (DESIGN "Scale-out"): `all` serves HTTP and delivers webhooks; `api` and `worker` split them.
    worker: config.role !== 'api',
    logger: log,
  });
  const app = config.role === 'worker' ? undefined : await buildApp(config, runtime, { logger: log });
  // METRICS_PORT: a listener of its own, so that a worker, which serves no HTTP, is scraped too.
  const metrics = config.metrics.port === undefined ? undefined : await serveMetrics(runtime.core.metrics, config.metrics.port, config.metrics.host);
  if (metrics) log.info({ metrics_port: metrics.port, metrics_host: config.metrics.host }, `metrics at http://${config.metrics.host}:${metrics.port}/metrics`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    try {
      await app?.close(); // stop accepting, let in-flight requests finish
      await metrics?.close();
      await runtime.close(); // pools, listeners, then the embedded PostgreSQL
      await tracing?.shutdown(); // the spans still buffered
      log.info('stopped');
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  const address = await app?.listen({ port: config.port, host: config.host });
  announce(log, config, address, Math.round(performance.now() - startedAt));
}

/** The start-up's last line: where Tessera listens, on which database, and the next step. */
function announce(log: Logger, config: Config, address: string | undefined, readyMs: number): void {
  const database = config.databaseUrl ? 'PostgreSQL at DATABASE_URL' : `an embedded PostgreSQL under ${config.dataDir}`;
  // The built image runs dist/ and has the `tessera` command; a checkout runs the TypeScript through npm.
  const cli = import.meta.url.endsWith('.ts') ? 'npm run cli --' : 'tessera';
  const fields = { address, issuer: config.issuer, role: config.role, embedded_database: !config.databaseUrl, ready_ms: readyMs };
  if (!address) {
    log.info(fields, `Tessera is ready: a worker (ROLE=worker) delivering webhooks, on ${database}`);
    return;
  }
  log.info(
    fields,
    `Tessera is ready on ${address} (ROLE=${config.role}), on ${database}. Next: create a tenant and its first admin with ` +
      `\`${cli} bootstrap --tenant acme --name "Acme" --admin-email you@example.com\`, then read the API at ${address}/api/docs`,
  );
}
