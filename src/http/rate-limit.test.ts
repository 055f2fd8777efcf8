// The counters behind the rate limits: fixed one-minute windows, several limits counted in one lookup and
// in order (a limit after a refused one is not counted), the time left as Retry-After, and the same
// answers from the in-process store and from Redis (skipped where no Redis runs on 127.0.0.1:6379).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryCounters, RedisCounters, type Counters } from './rate-limit.js';
import { redisAvailable, TEST_REDIS_URL } from '../../test/helpers/redis.js';

const WINDOW_MS = 60_000;

const hasRedis = await redisAvailable();
const redis = hasRedis ? new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 }) : undefined;
afterAll(async () => void (await redis?.quit()));

/** Keys no other run shares (Redis keeps them for a minute). */
const fresh = (name: string) => `${name}-${randomBytes(6).toString('hex')}`;

const stores: Array<[string, () => Counters, boolean]> = [
  ['in process', () => new MemoryCounters(WINDOW_MS), true],
  ['in Redis', () => new RedisCounters(redis!, WINDOW_MS, `tessera-rl-test-${randomBytes(4).toString('hex')}-`), hasRedis],
];

describe.each(stores)('counters %s', (_name, make, available) => {
  it.runIf(available)('refuses past the limit and tells how long the window has left', async () => {
    const counters = make();
    const key = fresh('client');
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await counters.hit([key], [3]));
    expect(answers.slice(0, 3)).toEqual([null, null, null]);
    expect(answers[3]!.index).toBe(0);
    expect(answers[3]!.ttlMs).toBeGreaterThan(WINDOW_MS - 5_000);
    expect(answers[3]!.ttlMs).toBeLessThanOrEqual(WINDOW_MS);
  });

  it.runIf(available)('counts several limits in one lookup, in order, and stops at the first refused', async () => {
    const counters = make();
    const ip = fresh('ip');
    const [one, two] = [fresh('one'), fresh('two')];
    expect(await counters.hit([ip, one], [2, 5])).toBeNull();
    expect(await counters.hit([ip, two], [2, 5])).toBeNull();
    // The address is spent: refused by the first limit, and `one` is not counted.
    expect((await counters.hit([ip, one], [2, 5]))?.index).toBe(0);
    const other = fresh('ip');
    for (let i = 0; i < 4; i++) expect(await counters.hit([other, one], [100, 5])).toBeNull();
    // `one` had 1 + 4 = 5 counted; the sixth is refused by the second limit.
    expect((await counters.hit([other, one], [100, 5]))?.index).toBe(1);
  });

  it.runIf(available)('keeps separate counts for separate keys', async () => {
    const counters = make();
    const [a, b] = [fresh('a'), fresh('b')];
    expect(await counters.hit([a], [1])).toBeNull();
    expect(await counters.hit([b], [1])).toBeNull();
    expect((await counters.hit([a], [1]))?.index).toBe(0);
  });
});

describe('in-process counters', () => {
  it('start a new window once the old one has ended', async () => {
    let now = 1_000_000;
    const counters = new MemoryCounters(WINDOW_MS, { clock: { now: () => now } });
    expect(await counters.hit(['k'], [1])).toBeNull();
    now += 30_000;
    expect(await counters.hit(['k'], [1])).toEqual({ index: 0, ttlMs: 30_000 });
    now += 30_000;
    expect(await counters.hit(['k'], [1])).toBeNull();
  });

  it('forget ended windows and hold at most `capacity` keys', async () => {
    let now = 0;
    const counters = new MemoryCounters(WINDOW_MS, { clock: { now: () => now }, capacity: 3 });
    for (const key of ['a', 'b', 'c']) await counters.hit([key], [10]);
    expect(counters.size).toBe(3);
    // Full: the oldest window (a) makes room for d.
    await counters.hit(['d'], [10]);
    expect(counters.size).toBe(3);
    expect((await counters.hit(['b'], [1]))?.index).toBe(0);
    expect(await counters.hit(['a'], [1])).toBeNull();
    now += WINDOW_MS;
    await counters.hit(['e'], [10]);
    expect(counters.size).toBe(1);
  });
});
