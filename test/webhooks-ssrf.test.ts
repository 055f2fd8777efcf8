// SSRF through the API: a subscription names a host, not an address, so it is accepted at creation;
// the address is only known at connect time, where the delivery worker refuses private ones and logs
// why. The runtime's resolver is injected (no real DNS query leaves the machine) and a connect guard
// witnesses that no refused address is ever connected to.
import type { LookupAddress } from 'node:dns';
import type { InjectOptions } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { guardConnections, type ConnectGuard } from './helpers/connect-guard.js';
import { gql, operationId, partner, publishShippedBundles, type Partner } from './helpers/graphql.js';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { Receiver } from './helpers/receiver.js';

const PRIVATE_ERROR = 'internal.example resolves to 10.1.2.3 is a private address; webhooks may only reach public addresses';

let h: Harness;
let acme: TenantFixture;
let sync: Partner;
let guard: ConnectGuard;
let receiver: Receiver;
const asked: string[] = [];
let table: Record<string, string[]> = {};

const CREATE = operationId('incident-sync', 'CreateIncident');

async function resolver(hostname: string): Promise<LookupAddress[]> {
  asked.push(hostname);
  const addresses = table[hostname];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
}

beforeAll(async () => {
  guard = guardConnections();
  receiver = await new Receiver().start();
  table = {
    'internal.example': ['10.1.2.3'],
    'metadata.example': ['169.254.169.254'],
    'mixed.example': ['93.184.216.34', '10.1.2.4'],
    'loopback.example': ['127.0.0.1'],
  };
  // One retry, 1 s later: the delivery ends `failed` within seconds.
  h = await startHarness({ WEBHOOK_RETRY_SCHEDULE: '1', WEBHOOK_TIMEOUT: '2' }, { worker: true, resolver });
  acme = await h.tenant('acme');
  await publishShippedBundles(h);
  sync = await partner(h, acme, ['incident-read', 'incident-sync']);
});
afterAll(async () => {
  await h?.close();
  await receiver?.stop();
  guard?.restore();
});
afterEach(() => {
  // Nothing tried to connect beyond loopback (the guard would have refused it and said so here).
  expect(guard.refused).toEqual([]);
});

async function subscribe(url: string) {
  return h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(acme.adminToken), payload: { url, events: ['incident.created'] } });
}

async function createIncident(title: string): Promise<string> {
  const res = await gql(h, sync, acme.tenantId, { documentId: `sha256:${CREATE}`, variables: { input: { title, severity: 'SEV2' } } });
  expect(res.statusCode).toBe(200);
  return res.json().data.createIncident.incident.id;
}

async function deliveries(webhookId: string) {
  const res = await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}/deliveries?limit=100`, headers: bearer(acme.adminToken) });
  expect(res.statusCode).toBe(200);
  return res.json().deliveries as Array<Record<string, unknown> & { id: string; status: string; error: string | null }>;
}

async function detail(webhookId: string, deliveryId: string) {
  return (await h.request({ method: 'GET', url: `/v1/webhooks/${webhookId}/deliveries/${deliveryId}`, headers: bearer(acme.adminToken) })).json();
}

describe('a host name resolving to a private address', () => {
  it('is accepted at creation (names are resolved at connect time) and its deliveries are refused and logged', async () => {
    const created = await subscribe('https://internal.example/hook');
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ url: 'https://internal.example/hook', enabled: true });
    expect(asked).not.toContain('internal.example'); // not resolved at creation
    const webhookId = created.json().id;

    await createIncident('Reaching for the intranet');
    await expect.poll(async () => (await deliveries(webhookId))[0]?.error, { timeout: 10_000 }).toBe(PRIVATE_ERROR);
    const [first] = await deliveries(webhookId);
    expect(['retrying', 'failed']).toContain(first!.status);
    expect(first).toMatchObject({ attempts: expect.any(Number), response_status: null, error: PRIVATE_ERROR });
    expect(asked).toContain('internal.example'); // resolved when the worker connected

    // The single retry is refused the same way, and the delivery ends failed.
    await expect.poll(async () => (await deliveries(webhookId))[0]?.status, { timeout: 15_000 }).toBe('failed');
    const [failed] = await deliveries(webhookId);
    expect(failed).toMatchObject({ status: 'failed', attempts: 2, response_status: null, next_attempt_at: null, error: PRIVATE_ERROR });
    const history = (await detail(webhookId, failed!.id)).attempt_history;
    expect(history).toEqual([
      expect.objectContaining({ number: 1, response_status: null, error: PRIVATE_ERROR, response_snippet: null }),
      expect.objectContaining({ number: 2, response_status: null, error: PRIVATE_ERROR, response_snippet: null }),
    ]);

    // The check ran before any socket reached the address: nothing connected to 10.1.2.3, or to anything
    // for internal.example.
    expect(guard.attempts.filter((a) => a.address === '10.1.2.3' || a.host === 'internal.example')).toEqual([]);
  });

  it('refuses the metadata address, and a name answering one public and one private address', async () => {
    const metadata = (await subscribe('https://metadata.example/latest/meta-data')).json();
    const mixed = (await subscribe('https://mixed.example/hook')).json();
    expect(metadata.id).toMatch(/^wh_/);
    expect(mixed.id).toMatch(/^wh_/);
    await createIncident('Two bad destinations');
    await expect.poll(async () => (await deliveries(metadata.id))[0]?.error, { timeout: 10_000 }).toBe(
      'metadata.example resolves to 169.254.169.254 is a linkLocal address; webhooks may only reach public addresses',
    );
    await expect.poll(async () => (await deliveries(mixed.id))[0]?.error, { timeout: 10_000 }).toBe(
      'mixed.example resolves to 10.1.2.4 is a private address; webhooks may only reach public addresses',
    );
    // Not even the public address of the mixed answer was tried.
    expect(guard.attempts.filter((a) => ['metadata.example', 'mixed.example'].includes(a.host))).toEqual([]);
  });

  it('refuses a name resolving to loopback (not allowed here) even with a live receiver there', async () => {
    const port = new URL(receiver.url).port;
    const created = (await subscribe(`https://loopback.example:${port}/hook`)).json();
    const test = await h.request({ method: 'POST', url: `/v1/webhooks/${created.id}/test`, headers: bearer(acme.adminToken) });
    expect(test.statusCode).toBe(202);
    await expect.poll(async () => (await deliveries(created.id))[0]?.error, { timeout: 10_000 }).toBe(
      'loopback.example resolves to 127.0.0.1 is a loopback address; webhooks may only reach public addresses',
    );
    expect(guard.attempts.filter((a) => String(a.port) === port)).toEqual([]);
    expect(receiver.received).toEqual([]);
  });
});

describe('addresses in the URL itself', () => {
  it('refuses an IPv4-compatible IPv6 literal (::/96) at creation, as the IPv4-mapped range', async () => {
    for (const url of ['https://[::127.0.0.1]/hook', 'https://[::a9fe:a9fe]/latest/meta-data']) {
      const res = await subscribe(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error_description, url).toMatch(/^body\.url is not reachable for webhooks: ::[0-9a-f:]+ is an IPv4-compatible address \(::\/96\), which no host uses$/);
    }
  });
});

describe('a change to a subscription', () => {
  it('checks the stored URL again against today\'s policy, whatever field it changes', async () => {
    // Stored while the operator allowed plain http to this host; the policy has changed since.
    const lenient = await startHarnessLike({ WEBHOOK_HTTP_HOSTS: 'hooks.example' });
    const created = await lenient.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(acme.adminToken), payload: { url: 'http://hooks.example/in', events: ['incident.created'] } });
    expect(created.statusCode, created.body).toBe(201);
    await lenient.close();
    const res = await h.request({ method: 'PUT', url: `/v1/webhooks/${created.json().id}`, headers: bearer(acme.adminToken), payload: { events: ['incident.closed'] } });
    expect({ status: res.statusCode, body: res.json() }).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'url (as stored) must use https; http is not allowed for hooks.example; send a new url' },
    });
    const fixed = await h.request({ method: 'PUT', url: `/v1/webhooks/${created.json().id}`, headers: bearer(acme.adminToken), payload: { events: ['incident.closed'], url: 'https://hooks.example/in' } });
    expect(fixed.statusCode, fixed.body).toBe(200);
  });
});

/** Another runtime and app on this file's database, with other settings. */
async function startHarnessLike(overrides: Record<string, string>) {
  const { parseConfig } = await import('../src/config.js');
  const { startRuntime } = await import('../src/runtime.js');
  const { buildApp } = await import('../src/app.js');
  const config = parseConfig({ ...h.env, ...overrides });
  const runtime = await startRuntime(config, { embeddedMode: 'own', background: false, resolver });
  const app = await buildApp(config, runtime);
  return {
    request: (options: InjectOptions) => app.inject(options),
    async close() {
      await app.close();
      await runtime.close();
    },
  };
}
