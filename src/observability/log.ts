// The process's log: pino, JSON lines for machines, or pino-pretty's lines for a person at a terminal
// (LOG_FORMAT=auto decides by whether stdout is a TTY). Every part of Tessera logs through one Logger (the core's),
// so that the server, the worker and the CLI log alike, and a test can read what was logged.
import pino, { stdSerializers, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from '../config.js';
import { loggable } from '../errors.js';

export type { Logger };

export function loggerOptions(config: Pick<Config, 'logLevel'>): LoggerOptions {
  return {
    level: config.logLevel,
    // Credentials never reach the log, whatever a future log line includes.
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.password', '*.client_secret', '*.token'],
      censor: '[redacted]',
    },
    // A database error's message and stack quote the statement and its values: only its type and code are logged.
    serializers: {
      err: (error: Error) => {
        const safe = loggable(error);
        return safe instanceof Error ? stdSerializers.err(safe) : (safe as ReturnType<typeof stdSerializers.err>);
      },
    },
  };
}

/**
 * The process's logger, writing to stdout, or to `destination` (a test's sink): JSON lines, or pino-pretty's
 * lines when LOG_FORMAT says `pretty` (or `auto` and stdout is a terminal).
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, destination?: DestinationStream): Logger {
  const tty = !destination && Boolean(process.stdout.isTTY);
  const format = config.logFormat === 'auto' ? (tty ? 'pretty' : 'json') : config.logFormat;
  if (format === 'pretty') {
    return pino(loggerOptions(config), pretty({ colorize: tty, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', ...(destination ? { destination } : {}) }));
  }
  return destination ? pino(loggerOptions(config), destination) : pino(loggerOptions(config));
}

/** For the CLI's one-shot runtime and tests that read no log. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Adds who is calling to a request's logger once it is known (a token's tenant and client, a client that
 * authenticated): every later line of the request carries them, the request's own line included.
 */
export function noteCaller(log: object, caller: { tenantId?: string | null; clientId?: string | null }): void {
  // Fastify types a request's logger as its base interface; at run time it is a pino child, which has setBindings.
  (log as Partial<Pick<Logger, 'setBindings'>>).setBindings?.({ ...(caller.tenantId ? { tenant_id: caller.tenantId } : {}), ...(caller.clientId ? { client_id: caller.clientId } : {}) });
}
