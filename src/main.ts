// Parse config, start the runtime, build the app, listen; stop in order on SIGTERM/SIGINT.
import pino from 'pino';
import { buildApp, loggerOptions } from './app.js';
import { ConfigError, parseConfig, type Config } from './config.js';
import { startRuntime } from './runtime.js';

function loadConfig(): Config {
  try {
    return parseConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  const config = loadConfig();
  const log = pino(loggerOptions(config) as pino.LoggerOptions);
  const runtime = await startRuntime(config, {
    embeddedMode: 'own',
    background: true,
    // Roles (DESIGN "Scale-out"): `all` serves HTTP and delivers webhooks; `api` and `worker` split them.
    worker: config.role !== 'api',
    log: (message, error) => (error ? log.warn({ err: error }, message) : log.debug(message)),
  });
  const app = config.role === 'worker' ? undefined : await buildApp(config, runtime, { logger: log });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    try {
      await app?.close(); // stop accepting, let in-flight requests finish
      await runtime.close(); // pools, listeners, then the embedded PostgreSQL
      log.info('stopped');
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  await app?.listen({ port: config.port, host: config.host });
  log.info({ issuer: config.issuer, role: config.role, ready_ms: Math.round(performance.now() - startedAt) }, 'Tessera is ready');
}

main().catch((error) => {
  process.stderr.write(`Tessera failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
