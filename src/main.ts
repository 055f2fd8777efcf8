// The server's entry: parse the config, start tracing when it is configured, then load and start the rest.
// Tracing must patch pg and Fastify before any module imports them, hence the dynamic import of serve.js after it.
import { ConfigError, parseConfig, type Config } from './config.js';
import { startTracing } from './observability/tracing.js';

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
  const tracing = await startTracing(config);
  const { serve } = await import('./serve.js');
  await serve(config, startedAt, tracing);
}

main().catch((error) => {
  process.stderr.write(`Tessera failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
