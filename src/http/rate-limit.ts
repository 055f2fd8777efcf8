// Rate limits (@fastify/rate-limit), shared between processes through Redis when REDIS_URL is set.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { RateLimited } from '../errors.js';

export interface Limiter {
  /** Counts one request under `key`; throws RateLimited (429 with Retry-After) past the limit. */
  check(request: FastifyRequest, key: string, what: string): Promise<void>;
}

export async function registerRateLimits(app: FastifyInstance, config: Config): Promise<void> {
  const redis = config.redisUrl ? new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: true }) : undefined;
  if (redis) app.addHook('onClose', async () => void (await redis.quit().catch(() => undefined)));
  // No global limit: each protected route asks for the limiters it needs.
  // A Redis outage must not take the token endpoint down with it: limits fail open (skipOnError).
  await app.register(rateLimit, { global: false, skipOnError: true, ...(redis ? { redis, nameSpace: 'tessera-rl-' } : {}) });
}

/** A limiter of `max` requests per minute for keys of one kind (per IP, per client, ...). */
export function createLimiter(app: FastifyInstance, name: string, max: number): Limiter {
  const limit = app.createRateLimit({ max, timeWindow: 60_000, keyGenerator: (request: FastifyRequest & { limitKey?: string }) => request.limitKey ?? request.ip });
  return {
    async check(request, key, what) {
      const scoped = Object.assign(request, { limitKey: `${name}:${key}` });
      const result = await limit(scoped);
      if (!result.isAllowed && result.isExceeded) {
        throw new RateLimited(`too many requests ${what}; retry later`, result.ttlInSeconds);
      }
    },
  };
}
