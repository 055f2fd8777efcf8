// Rate limits on the token endpoint (per client, per IP) and on the login form, shared through Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { startRuntime } from '../src/runtime.js';
import { MACHINE_APP, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { tokenRequest } from './helpers/oauth.js';
import { redisAvailable, TEST_REDIS_URL } from './helpers/redis.js';

let h: Harness;
let acme: TenantFixture;

beforeAll(async () => {
  h = await startHarness({ RATE_LIMIT_TOKEN_PER_CLIENT: '3', RATE_LIMIT_TOKEN_PER_IP: '5', RATE_LIMIT_LOGIN_PER_IP: '2' });
  acme = await h.tenant('acme');
});
afterAll(() => h?.close());

/** A client that sends its secret in the form, as `fromIp` does; `basic`: one that uses HTTP Basic. */
async function newClient(method: 'client_secret_post' | 'client_secret_basic' = 'client_secret_post') {
  return (await h.registerApp(acme, { ...MACHINE_APP, name: 'Limited', requested_scopes: ['incidents:read'], token_endpoint_auth_method: method })) as { client_id: string; client_secret: string };
}

const fromIp = (ip: string, client: { client_id: string; client_secret: string }) =>
  h.request({
    method: 'POST',
    url: '/v1/oauth/token',
    remoteAddress: ip,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret }).toString(),
  });

describe('token endpoint rate limits', () => {
  it('limits per client with 429 and Retry-After', async () => {
    const client = await newClient();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fromIp(`10.0.0.${i + 1}`, client)).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await fromIp('10.0.0.9', client);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.headers['cache-control']).toBe('no-store');
    expect(limited.json()).toEqual({ error: 'rate_limited', error_description: 'too many requests for this client; retry later' });
  });

  it('limits per IP across clients', async () => {
    const clients = await Promise.all([newClient(), newClient(), newClient()]);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await fromIp('10.1.1.1', clients[i % 3]!)).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const body = (await fromIp('10.1.1.1', clients[0]!)).json();
    expect(body).toEqual({ error: 'rate_limited', error_description: 'too many requests from this address; retry later' });
    // Another address is not affected.
    expect((await fromIp('10.1.1.2', clients[2]!)).statusCode).toBe(200);
  });

  it('does not count a request refused per IP against its client', async () => {
    const [one, two] = await Promise.all([newClient(), newClient()]);
    const statuses = [];
    for (const client of [one, one, two, two, two]) statuses.push((await fromIp('10.2.2.1', client!)).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    // The address is spent; this refusal must not use up the third request `one` has left.
    expect((await fromIp('10.2.2.1', one!)).json()).toEqual({ error: 'rate_limited', error_description: 'too many requests from this address; retry later' });
    expect((await fromIp('10.2.2.2', one!)).statusCode).toBe(200);
    expect((await fromIp('10.2.2.3', one!)).json()).toEqual({ error: 'rate_limited', error_description: 'too many requests for this client; retry later' });
  });
});

describe('login rate limit', () => {
  it('refuses sign-in attempts past the limit per address with 429 and Retry-After', async () => {
    const attempt = (ip: string) =>
      h.request({
        method: 'POST',
        url: '/v1/oauth/login',
        remoteAddress: ip,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ request_id: 'ar_unknown', csrf_token: 'x', email: 'a@b.test', password: 'wrong' }).toString(),
      });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await attempt('10.3.3.1')).statusCode);
    expect(statuses).toEqual([400, 400, 429]);
    const limited = await attempt('10.3.3.1');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body).toContain('Too many sign-in attempts');
    expect((await attempt('10.3.3.2')).statusCode).toBe(400);
  });
});

const hasRedis = await redisAvailable();

describe('shared limits', () => {
  it.skipIf(!hasRedis)('are counted once across processes with REDIS_URL (skipped where no Redis runs)', async () => {
    const config = parseConfig({ ...h.env, REDIS_URL: TEST_REDIS_URL, RATE_LIMIT_TOKEN_PER_CLIENT: '4', RATE_LIMIT_TOKEN_PER_IP: '1000' });
    const [one, two] = await Promise.all([0, 1].map(() => startRuntime(config, { embeddedMode: 'own', background: false })));
    const apps = await Promise.all([buildApp(config, one!), buildApp(config, two!)]);
    try {
      const client = await newClient('client_secret_basic');
      const statuses = [];
      for (let i = 0; i < 6; i++) {
        const res = await tokenRequest({ request: (o) => apps[i % 2]!.inject(o) } as Harness, { grant_type: 'client_credentials' }, { id: client.client_id, secret: client.client_secret });
        statuses.push(res.statusCode);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    } finally {
      await Promise.all(apps.map((a) => a.close()));
      await Promise.all([one!.close(), two!.close()]);
    }
  });
});
