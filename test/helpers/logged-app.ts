// The app over a harness's runtime, with every line it logs kept for the test to read (pino's JSON, parsed).
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp, loggerOptions } from '../../src/app.js';
import type { Harness } from './harness.js';

export interface LoggedApp {
  app: FastifyInstance;
  request: (options: Parameters<Harness['request']>[0]) => ReturnType<Harness['request']>;
  /** Every line logged so far, at info and above. */
  logged: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function loggedApp(h: Harness): Promise<LoggedApp> {
  const logged: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (chunk, _encoding, done) => (logged.push(JSON.parse(String(chunk))), done()) });
  const app = await buildApp(h.config, h.runtime, { logger: pino({ ...(loggerOptions({ ...h.config, logLevel: 'info' }) as pino.LoggerOptions) }, sink) });
  return { app, request: (options) => app.inject(options), logged, close: () => app.close() };
}
