// Rate limits: fixed one-minute windows per key, counted in this process, or in Redis when REDIS_URL is
// set so that every process shares them (DESIGN "Scale-out"). A limiter counts all of a request's limits
// (the token endpoint: per IP, then per client) in one lookup: one Map walk in process, one round trip
// (one Lua script) to Redis.
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import { RateLimited } from '../errors.js';

const WINDOW_MS = 60_000;
const REDIS_PREFIX = 'tessera-rl-';
/** Keys counted in process at most; past that the oldest window is forgotten (its key starts afresh). */
const MEMORY_CAPACITY = 100_000;

/** The first limit refused: its position in the request's keys and the time its window has left. */
export interface Refusal {
  index: number;
  ttlMs: number;
}

/** Where the counts live. */
export interface Counters {
  /**
   * Counts one request under each key, in order, against the max at the same position. Stops at the first
   * key past its max (the keys after it are not counted) and returns it; null when every key is within.
   */
  hit(keys: readonly string[], maxes: readonly number[]): Promise<Refusal | null>;
  close?(): Promise<void>;
}

/**
 * In-process counters. Every window has the same length and a key that starts a new window is moved to
 * the end of the Map, so the Map is in order of window start: ended windows are always at its front,
 * and are dropped from there as requests come (no timer, memory bounded by the keys of the last minute).
 */
export class MemoryCounters implements Counters {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();
  private readonly clock: Clock;
  private readonly capacity: number;

  constructor(
    private readonly windowMs: number,
    options: { clock?: Clock; capacity?: number } = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.capacity = options.capacity ?? MEMORY_CAPACITY;
  }

  get size(): number {
    return this.windows.size;
  }

  async hit(keys: readonly string[], maxes: readonly number[]): Promise<Refusal | null> {
    const now = this.clock.now();
    this.dropEnded(now);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      let window = this.windows.get(key);
      if (!window || window.endsAt <= now) {
        if (window) this.windows.delete(key);
        else if (this.windows.size >= this.capacity) this.windows.delete(this.windows.keys().next().value!);
        window = { count: 0, endsAt: now + this.windowMs };
        this.windows.set(key, window);
      }
      window.count += 1;
      if (window.count > maxes[i]!) return { index: i, ttlMs: window.endsAt - now };
    }
    return null;
  }

  private dropEnded(now: number): void {
    for (const [key, window] of this.windows) {
      if (window.endsAt > now) return;
      this.windows.delete(key);
    }
  }
}

/**
 * KEYS: the counters, in order; ARGV[1]: the window in ms; ARGV[2..]: the max of each key. INCR starts a
 * window (PEXPIRE) at the first count; a count past its max answers {position, ms left} and stops, so the
 * keys after it are not counted. Atomic, so processes sharing the Redis count every request exactly once.
 */
const HIT_SCRIPT = `
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local ttl
  if count == 1 then
    redis.call('PEXPIRE', key, ARGV[1])
  end
  if count > tonumber(ARGV[i + 1]) then
    ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, ARGV[1])
      ttl = tonumber(ARGV[1])
    end
    return {i, ttl}
  end
end
return {0, 0}
`;

type HitCommand = (numberOfKeys: number, ...args: Array<string | number>) => Promise<[number, number]>;

/** Counters in Redis, shared by every process; one EVALSHA per request (ioredis falls back to EVAL once). */
export class RedisCounters implements Counters {
  private readonly command: HitCommand;

  constructor(
    private readonly redis: Redis,
    private readonly windowMs: number,
    private readonly prefix = REDIS_PREFIX,
  ) {
    if (!(redis as unknown as { tesseraRateLimitHit?: HitCommand }).tesseraRateLimitHit) redis.defineCommand('tesseraRateLimitHit', { lua: HIT_SCRIPT });
    const command = (redis as unknown as { tesseraRateLimitHit: HitCommand }).tesseraRateLimitHit;
    this.command = command.bind(redis);
  }

  async hit(keys: readonly string[], maxes: readonly number[]): Promise<Refusal | null> {
    const [position, ttlMs] = await this.command(keys.length, ...keys.map((k) => this.prefix + k), this.windowMs, ...maxes);
    return position === 0 ? null : { index: position - 1, ttlMs };
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The counters every limiter of this app counts in (see createLimiter). */
    rateLimitCounters: Counters;
  }
}

export async function registerRateLimits(app: FastifyInstance, config: Config, clock: Clock): Promise<void> {
  const counters: Counters = config.redisUrl
    ? new RedisCounters(new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: true }), WINDOW_MS)
    : new MemoryCounters(WINDOW_MS, { clock });
  app.decorate('rateLimitCounters', counters);
  app.addHook('onClose', async () => counters.close?.());
}

/** One limit of a limiter: `max` requests a minute per key of this kind; `what` ends the refusal's message. */
export interface Limit {
  name: string;
  max: number;
  what: string;
}

export interface Limiter {
  /**
   * Counts one request under each limit's key (same order; an undefined key is not counted), in one lookup.
   * Past a limit: throws RateLimited (429 with Retry-After, RFC 6585 section 4).
   */
  check(keys: ReadonlyArray<string | undefined>): Promise<void>;
}

export function createLimiter(app: FastifyInstance, limits: readonly Limit[]): Limiter {
  const counters = app.rateLimitCounters;
  return {
    async check(keys) {
      const used = limits.map((limit, i) => ({ limit, key: keys[i] })).filter((entry): entry is { limit: Limit; key: string } => entry.key !== undefined);
      let refusal: Refusal | null;
      try {
        refusal = await counters.hit(
          used.map(({ limit, key }) => `${limit.name}:${key}`),
          used.map(({ limit }) => limit.max),
        );
      } catch {
        // A Redis outage must not take the token endpoint down with it: limits fail open.
        return;
      }
      if (refusal) throw new RateLimited(`too many requests ${used[refusal.index]!.limit.what}; retry later`, refusal.ttlMs / 1000);
    },
  };
}
