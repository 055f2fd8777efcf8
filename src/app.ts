// buildApp(config, runtime): the HTTP surface, made of every module's routes (src/modules.ts), the JWKS and the
// GraphQL transport. It never listens; main.ts does, tests use app.inject.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import { randomUUID } from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import type { Config } from './config.js';
import { stdSerializers } from 'pino';
import { frameworkErrors, loggable, registerErrorHandler } from './errors.js';
import { registerGraphQL } from './graphql/server.js';
import { registerRequestContext } from './http/context.js';
import { registerInputChecks } from './http/input.js';
import { registerRateLimits } from './http/rate-limit.js';
import { schemaController } from './http/validation.js';
import { registerJwksRoutes } from './keys/routes.js';
import type { Runtime } from './runtime.js';

/** How long /readyz waits for the database (load balancers usually give a probe 2 s or more). */
const READY_PROBE_MS = 1500;

export type AppDeps = Pick<Runtime, 'orm' | 'clock' | 'keyring' | 'tokens' | 'services' | 'features' | 'graphql' | 'core'>;

export function loggerOptions(config: Config): FastifyServerOptions['logger'] {
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

export interface BuildOptions {
  logger?: FastifyBaseLogger;
  /** GraphQL transport options (tests serve everything through Yoga to compare it with the precompiled path). */
  graphql?: { precompiled?: boolean };
}

export async function buildApp(config: Config, deps: AppDeps, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: loggerOptions(config) }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Bodies typed strictly, path and query parameters coerced; unknown fields refused (http/validation.ts).
    schemaController,
    frameworkErrors,
  });
  // Callback style, not async: a hook on every response should not cost a promise each.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    reply.header('x-content-type-options', 'nosniff');
    done(null, payload);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tessera public integration API',
        version: '1.0.0',
        description: 'The stable external integration contract: app registration, scopes, governance, service tokens and JWKS.',
      },
      servers: [{ url: config.issuer }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });

  registerErrorHandler(app);
  registerRequestContext(app, deps.orm);
  registerInputChecks(app);

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    // A probe answers within its own budget, whatever the database's timeouts: a stalled database is unready.
    const probe = deps.orm.em.getConnection().execute('select 1');
    const answered = await Promise.race([probe.then(() => true, () => false), setTimeout(READY_PROBE_MS, false, { ref: false })]);
    probe.catch(() => undefined);
    if (answered) return { status: 'ready' };
    return reply.code(503).header('retry-after', '5').send({ status: 'unavailable', error_description: 'the database is not reachable' });
  });

  await registerRateLimits(app, config, deps.clock);
  registerJwksRoutes(app, deps.keyring, config.keys.jwksMaxAge);
  for (const feature of deps.features) await feature.routes?.(app);
  registerGraphQL(
    app,
    { schema: deps.core.schema, orm: deps.orm, tokens: deps.tokens, operations: deps.services.persistedOperations, services: deps.graphql },
    options.graphql,
  );

  // The OpenAPI document of the public routes only (routes marked `hide` stay out).
  app.get('/api/docs', { schema: { hide: true } }, async () => app.swagger());

  await app.ready();
  return app;
}
