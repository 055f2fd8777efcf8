// Logs a test can read: a logger writing pino's JSON lines into an array (parsed), and the app over a harness's
// runtime logging through it.
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { createLogger, type Logger } from '../../src/observability/log.js';
import type { Harness } from './harness.js';

export interface LogSink {
  logger: Logger;
  /** Every line logged so far, at `level` and above. */
  logged: Array<Record<string, unknown>>;
}

export function logSink(level = 'info'): LogSink {
  const logged: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (chunk, _encoding, done) => (logged.push(JSON.parse(String(chunk))), done()) });
  return { logger: createLogger({ logLevel: level, logFormat: 'json' }, sink), logged };
}

export interface LoggedApp extends LogSink {
  app: FastifyInstance;
  request: (options: Parameters<Harness['request']>[0]) => ReturnType<Harness['request']>;
  close(): Promise<void>;
}

/** The app over `h`'s runtime, logging into `sink` (a new one by default). */
export async function loggedApp(h: Harness, sink: LogSink = logSink()): Promise<LoggedApp> {
  const app = await buildApp(h.config, h.runtime, { logger: sink.logger });
  return { ...sink, app, request: (options) => app.inject(options), close: () => app.close() };
}
