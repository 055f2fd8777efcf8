// buildApp(config, runtime): the HTTP surface, made of every module's routes (src/modules.ts), the JWKS and the
// GraphQL transport. It never listens; main.ts does, tests use app.inject.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { randomUUID } from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import type { Config } from './config.js';
import { frameworkErrors, registerErrorHandler } from './errors.js';
import { loggerOptions } from './observability/log.js';
import { METRICS_CONTENT_TYPE, metricsTokenMatches } from './observability/metrics.js';
import { registerRequestObservers } from './observability/requests.js';
import { registerGraphQL } from './graphql/server.js';
import { registerRequestContext } from './http/context.js';
import { registerInputChecks } from './http/input.js';
import { registerRateLimits } from './http/rate-limit.js';
import { schemaController } from './http/validation.js';
import { registerJwksRoutes } from './keys/routes.js';
import type { Feature } from './module.js';
import type { Runtime } from './runtime.js';

/** How long /readyz waits for the database (load balancers usually give a probe 2 s or more). */
const READY_PROBE_MS = 1500;

export type AppDeps = Pick<Runtime, 'orm' | 'clock' | 'keyring' | 'tokens' | 'services' | 'features' | 'graphql' | 'core'>;

export interface BuildOptions {
  logger?: FastifyBaseLogger;
  /** GraphQL transport options (tests serve everything through Yoga to compare it with the precompiled path). */
  graphql?: { precompiled?: boolean };
}

type OpenApiOptions = NonNullable<FastifyDynamicSwaggerOptions['openapi']>;

/**
 * Every module's OpenAPI `webhooks` (Feature.openapi) in one map, or none. @fastify/swagger 9 passes a `webhooks`
 * given in its `openapi` options through to the document (OpenAPI 3.1, section 4.8.1).
 */
function openapiWebhooks(features: Feature[]): OpenApiOptions {
  const webhooks: Record<string, unknown> = {};
  for (const feature of features) {
    for (const [name, pathItem] of Object.entries(feature.openapi?.webhooks ?? {})) {
      if (name in webhooks) throw new Error(`two modules document the webhook ${name}`);
      webhooks[name] = pathItem;
    }
  }
  return Object.keys(webhooks).length ? ({ webhooks } as OpenApiOptions) : {};
}

export async function buildApp(config: Config, deps: AppDeps, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: loggerOptions(config) }),
    // One line per request instead of Fastify's two (observability/requests.ts).
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Bodies typed strictly, path and query parameters coerced; unknown fields refused (http/validation.ts).
    schemaController,
    frameworkErrors,
  });
  registerRequestObservers(app, deps.core.metrics);
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
      ...openapiWebhooks(deps.features),
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

  const metricsToken = config.metrics.token;
  if (metricsToken) {
    // Behind METRICS_TOKEN; without it /metrics does not exist on the main port (observability/metrics.ts).
    app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
      if (!metricsTokenMatches(request.headers.authorization, metricsToken)) {
        return reply.code(401).header('www-authenticate', 'Bearer realm="metrics"').send({ error: 'unauthorized', error_description: 'send the metrics token: Authorization: Bearer <METRICS_TOKEN>' });
      }
      return reply.type(METRICS_CONTENT_TYPE).send(await deps.core.metrics.metrics());
    });
  }

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
