// The SSRF-safe outbound client: which addresses it refuses, that names are checked at connect time
// against every address an (injected) resolver answers, and what it does with redirects, large bodies
// and slow peers. Only 127.0.0.1 is ever contacted; a connect guard witnesses that refused addresses
// are never connected to, and would stop any connect outside loopback.
import type { LookupAddress } from 'node:dns';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { guardConnections, type ConnectGuard } from '../../test/helpers/connect-guard.js';
import { Receiver } from '../../test/helpers/receiver.js';
import { DeliveryError, WebhookHttpClient, type Resolver } from './http.js';

let guard: ConnectGuard;
let receiver: Receiver;
const clients: WebhookHttpClient[] = [];

beforeAll(async () => {
  guard = guardConnections();
  receiver = await new Receiver().start();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await receiver?.stop();
  guard?.restore();
});
afterEach(() => {
  receiver.respond = () => ({ status: 204 });
  // Nothing, in any test, tried to go beyond loopback.
  expect(guard.refused).toEqual([]);
});

/** A resolver answering from a table, remembering what it was asked: no real DNS query is made. */
function tableResolver(table: Record<string, string[]>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolver = async (hostname: string): Promise<LookupAddress[]> => {
    asked.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolver, { asked });
}

function client(options: { allowedNetworks?: string[]; timeoutMs?: number; resolver?: Resolver } = {}): WebhookHttpClient {
  const c = new WebhookHttpClient({
    allowedNetworks: options.allowedNetworks ?? [],
    timeoutMs: options.timeoutMs ?? 2000,
    // Never the system resolver: a name not in a test's table fails.
    resolver: options.resolver ?? tableResolver({}),
  });
  clients.push(c);
  return c;
}

async function refusal(promise: Promise<unknown>): Promise<DeliveryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

const port = () => new URL(receiver.url).port;
const attemptsTo = (p: string) => guard.attempts.filter((a) => String(a.port) === p);

describe('blockedReason', () => {
  const strict = new WebhookHttpClient({ allowedNetworks: [], timeoutMs: 1000, resolver: tableResolver({}) });
  afterAll(() => strict.close());

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'], // the cloud metadata service
    ['169.254.0.1', 'linkLocal'],
    ['fe80::1', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.254', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['fd00::1', 'uniqueLocal'],
    ['fc00::1', 'uniqueLocal'],
  ])('refuses %s (%s)', (address, range) => {
    expect(strict.blockedReason(address)).toBe(`${address} is a ${range} address`);
  });

  it('looks through IPv4-mapped IPv6 addresses to the IPv4 address inside', () => {
    expect(strict.blockedReason('::ffff:10.0.0.1')).toBe('::ffff:10.0.0.1 is a private address');
    expect(strict.blockedReason('::ffff:127.0.0.1')).toBe('::ffff:127.0.0.1 is a loopback address');
    expect(strict.blockedReason('::ffff:169.254.169.254')).toBe('::ffff:169.254.169.254 is a linkLocal address');
    expect(strict.blockedReason('::ffff:a00:1')).toBe('::ffff:a00:1 is a private address'); // hex form of 10.0.0.1
    expect(strict.blockedReason('::ffff:93.184.216.34')).toBeNull();
  });

  it('refuses IPv4-compatible IPv6 addresses (::/96, deprecated by RFC 4291 section 2.5.5.1), whatever IPv4 address they hold', () => {
    expect(new URL('https://[::127.0.0.1]/').hostname).toBe('[::7f00:1]'); // how a URL spells one
    for (const address of ['::7f00:1', '::a00:1', '::a9fe:a9fe', '::5db8:d822', '::102:304']) {
      expect(strict.blockedReason(address), address).toBe(`${address} is an IPv4-compatible address (::/96), which no host uses`);
    }
  });

  it('allows public unicast addresses (classified only, never contacted)', () => {
    for (const address of ['93.184.216.34', '8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e']) {
      expect(strict.blockedReason(address), address).toBeNull();
    }
  });

  it('exempts an allowed network, and only that network', () => {
    const dev = client({ allowedNetworks: ['127.0.0.0/8'] });
    expect(dev.blockedReason('127.0.0.1')).toBeNull();
    expect(dev.blockedReason('127.3.4.5')).toBeNull();
    expect(dev.blockedReason('::ffff:127.0.0.1')).toBeNull(); // the same address, mapped
    expect(dev.blockedReason('::1')).toBe('::1 is a loopback address'); // another family, another network
    expect(dev.blockedReason('10.0.0.1')).toBe('10.0.0.1 is a private address');
    expect(dev.blockedReason('169.254.169.254')).toBe('169.254.169.254 is a linkLocal address');

    const both = client({ allowedNetworks: ['127.0.0.0/8', '::1/128', ' 10.1.0.0/16'] });
    expect(both.blockedReason('::1')).toBeNull();
    expect(both.blockedReason('10.1.2.3')).toBeNull();
    expect(both.blockedReason('10.2.0.1')).toBe('10.2.0.1 is a private address');
  });
});

describe('post', () => {
  it('refuses a literal private or loopback address without connecting', async () => {
    const strict = client();
    for (const url of ['http://10.0.0.1/hook', 'https://169.254.169.254/latest/meta-data', 'http://[fd00::1]/hook', 'http://[::ffff:10.0.0.1]/hook']) {
      const error = await refusal(strict.post(url, {}, '{}'));
      expect(error.kind, url).toBe('blocked');
      expect(error.message, url).toMatch(/ is a \w+ address; webhooks may only reach public addresses$/);
    }
    // A live receiver on a literal loopback address: refused, and no socket was even opened to it.
    const error = await refusal(strict.post(`${receiver.url}/literal`, {}, '{}'));
    expect(error).toMatchObject({ kind: 'blocked', message: '127.0.0.1 is a loopback address; webhooks may only reach public addresses' });
    expect(attemptsTo(port())).toEqual([]);
    expect(receiver.received).toEqual([]);
  });

  it('refuses a name that resolves to a private address, checking at connect time', async () => {
    const resolver = tableResolver({ 'internal.example': ['10.1.2.3'], 'metadata.example': ['169.254.169.254'], 'v6.example': ['fd12::7'] });
    const strict = client({ resolver });
    for (const [host, address] of [
      ['internal.example', '10.1.2.3'],
      ['metadata.example', '169.254.169.254'],
      ['v6.example', 'fd12::7'],
    ] as const) {
      const error = await refusal(strict.post(`http://${host}/hook`, {}, '{}'));
      expect(error.kind, host).toBe('blocked');
      expect(error.message, host).toContain(`${host} resolves to ${address} is a `);
      expect(error.message, host).toContain('webhooks may only reach public addresses');
    }
    expect(resolver.asked).toEqual(['internal.example', 'metadata.example', 'v6.example']);
    expect(guard.attempts.filter((a) => ['internal.example', 'metadata.example', 'v6.example'].includes(a.host))).toEqual([]);
  });

  it('refuses a name answering one public and one private address, whichever comes first', async () => {
    const resolver = tableResolver({ 'split.example': ['93.184.216.34', '10.0.0.5'], 'split2.example': ['10.0.0.5', '93.184.216.34'] });
    const strict = client({ resolver });
    for (const host of ['split.example', 'split2.example']) {
      const error = await refusal(strict.post(`http://${host}/hook`, {}, '{}'));
      expect(error.kind, host).toBe('blocked');
      expect(error.message, host).toContain(`${host} resolves to 10.0.0.5 is a private address`);
    }
    expect(guard.attempts.filter((a) => a.host.startsWith('split'))).toEqual([]);
  });

  it('refuses a name resolving to a live loopback receiver unless loopback is allowed', async () => {
    const resolver = tableResolver({ 'hook.test': ['127.0.0.1'] });
    const error = await refusal(client({ resolver }).post(`http://hook.test:${port()}/by-name`, {}, '{}'));
    expect(error).toMatchObject({ kind: 'blocked', message: 'hook.test resolves to 127.0.0.1 is a loopback address; webhooks may only reach public addresses' });
    expect(attemptsTo(port())).toEqual([]);
    expect(receiver.received.filter((r) => r.path === '/by-name')).toEqual([]);
  });

  it('reaches a real receiver through a name mapped to 127.0.0.1 when 127.0.0.0/8 is allowed', async () => {
    const resolver = tableResolver({ 'hook.test': ['127.0.0.1'] });
    receiver.respond = () => ({ status: 202, body: 'accepted', headers: { 'x-receiver': 'yes' } });
    const response = await client({ allowedNetworks: ['127.0.0.0/8'], resolver }).post(`http://hook.test:${port()}/allowed`, { 'webhook-id': 'evt_1' }, '{"a":1}');
    expect(response).toMatchObject({ status: 202, snippet: 'accepted', headers: expect.objectContaining({ 'x-receiver': 'yes' }) });
    expect(response.latencyMs).toBeGreaterThanOrEqual(0);
    const [request] = receiver.received.filter((r) => r.path === '/allowed');
    expect(request).toMatchObject({ body: '{"a":1}', headers: expect.objectContaining({ host: `hook.test:${port()}`, 'webhook-id': 'evt_1', 'content-type': 'application/json' }) });
    expect(request!.headers['user-agent']).toMatch(/^Tessera-Webhooks\//);
    expect(resolver.asked).toContain('hook.test');
    expect(guard.attempts).toContainEqual({ host: 'hook.test', address: '127.0.0.1', port: Number(port()) });
  });

  it('does not follow redirects', async () => {
    receiver.respond = (r) => (r.path === '/moved' ? { status: 302, headers: { location: '/elsewhere' }, body: 'moved' } : { status: 200 });
    const response = await client({ allowedNetworks: ['127.0.0.0/8'] }).post(`${receiver.url}/moved`, {}, '{}');
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('/elsewhere');
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.filter((r) => r.path === '/elsewhere')).toEqual([]);
    expect(receiver.received.filter((r) => r.path === '/moved')).toHaveLength(1);
  });

  it('keeps the first 2048 bytes of a large body, and a small body whole', async () => {
    const dev = client({ allowedNetworks: ['127.0.0.0/8'] });
    receiver.respond = (r) => (r.path === '/large' ? { status: 500, body: 'y'.repeat(2000) + 'z'.repeat(200_000) } : { status: 200, body: 'small body' });
    const large = await dev.post(`${receiver.url}/large`, {}, '{}');
    expect(large.status).toBe(500);
    expect(Buffer.byteLength(large.snippet)).toBe(2048);
    expect(large.snippet).toBe('y'.repeat(2000) + 'z'.repeat(48));
    const small = await dev.post(`${receiver.url}/small`, {}, '{}');
    expect(small.snippet).toBe('small body');
  });

  it('gives up after the timeout with kind timeout', async () => {
    receiver.respond = () => ({ status: 200, delayMs: 3000 });
    const started = Date.now();
    const error = await refusal(client({ allowedNetworks: ['127.0.0.0/8'], timeoutMs: 300 }).post(`${receiver.url}/slow`, {}, '{}'));
    expect(error).toMatchObject({ kind: 'timeout', message: 'no response within 300 ms' });
    expect(error.latencyMs).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports a name that does not resolve as a network error, never asking the system resolver', async () => {
    const error = await refusal(client({ resolver: tableResolver({}) }).post('http://nowhere.test/hook', {}, '{}'));
    expect(error.kind).toBe('network');
  });
});
