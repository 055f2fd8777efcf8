// Signing keys, JWKS and rotation: next -> active -> retired -> gone, with verifiers never left behind.
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { parseConfig } from '../src/config.js';
import { startRuntime } from '../src/runtime.js';
import { createTestDatabase } from './helpers/databases.js';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';

let h: Harness;
let acme: TenantFixture;

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
});
afterAll(() => h?.close());

async function jwks(path = '/.well-known/jwks.json') {
  const res = await h.request({ method: 'GET', url: path });
  expect(res.statusCode).toBe(200);
  return res;
}

const kids = (body: { keys: JWK[] }) => body.keys.map((k) => k.kid);

async function keyStates(): Promise<Record<string, string>> {
  const rows: Array<{ kid: string; state: string }> = await h.runtime.orm.em.fork().getConnection().execute('select kid, state from signing_keys');
  return Object.fromEntries(rows.map((r) => [r.kid, r.state]));
}

describe('JWKS', () => {
  it('publishes the same public keys at both paths, with Cache-Control', async () => {
    const wellKnown = await jwks('/.well-known/jwks.json');
    const versioned = await jwks('/v1/auth/jwks.json');
    expect(wellKnown.body).toBe(versioned.body);
    expect(wellKnown.headers['cache-control']).toBe('public, max-age=300');
    expect(wellKnown.headers['content-type']).toMatch(/^application\/json/);
    const body = wellKnown.json() as { keys: JWK[] };
    expect(body.keys).toHaveLength(2); // the active key and the next one
    for (const key of body.keys) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
      expect(key).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'RS256' });
    }
    for (const privateMember of ['"d"', '"p"', '"q"', '"dp"', '"dq"', '"qi"']) expect(wellKnown.body).not.toContain(privateMember);
  });

  it('publishes the next key before it signs, and keeps the retired key while its tokens live', async () => {
    const before = (await jwks()).json();
    const oldToken = acme.adminToken;
    const oldKid = decodeProtectedHeader(oldToken).kid!;
    const states = await keyStates();
    const nextKid = Object.keys(states).find((k) => states[k] === 'next')!;
    expect(kids(before)).toContain(nextKid);

    const result = await h.runtime.keyring.rotate('operator');
    expect(result).toMatchObject({ activated: nextKid, retired: oldKid });

    const fresh = await h.runtime.tokens.issue({ subject: acme.userId, clientId: 'tessera-cli', scopes: ['platform:admin'], tenantId: acme.tenantId, ttlSeconds: 600 });
    expect(decodeProtectedHeader(fresh.token).kid).toBe(nextKid);
    const after = (await jwks()).json();
    expect(kids(after)).toEqual(expect.arrayContaining([oldKid, nextKid, result!.next]));

    // A token signed before the rotation still verifies; so does the new one.
    expect((await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(oldToken) })).statusCode).toBe(200);
    expect((await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(fresh.token) })).statusCode).toBe(200);

    // The rotation is in the platform-wide audit log (no tenant).
    const audit = await h.runtime.orm.em.fork().getConnection().execute("select actor, target_id, details from platform_audit_events where action = 'signing_key.rotated'");
    expect(audit).toEqual([{ actor: 'operator', target_id: nextKid, details: { retired: oldKid, next: result!.next } }]);

    // Once every token the retired key signed has expired, the key leaves the JWKS.
    await h.runtime.orm.em.fork().getConnection().execute(`update signing_keys set token_horizon = now() - interval '1 hour' where kid = ?`, [oldKid]);
    await h.runtime.keyring.reload();
    expect(kids((await jwks()).json())).not.toContain(oldKid);
    expect((await keyStates())[oldKid]).toBe('expired');
  });

  it('keeps a retired key published while a long-lived token it signed is still valid', async () => {
    const long = await h.runtime.tokens.issue({ subject: 'x', clientId: 'tessera-cli', scopes: [], tenantId: null, ttlSeconds: 10 * 86_400 });
    const kid = decodeProtectedHeader(long.token).kid!;
    await h.runtime.keyring.rotate('operator');
    await h.runtime.keyring.reload();
    expect(kids((await jwks()).json())).toContain(kid);
    const [row] = await h.runtime.orm.em.fork().getConnection().execute('select token_horizon from signing_keys where kid = ?', [kid]);
    expect(new Date(row.token_horizon).getTime()).toBeGreaterThanOrEqual(long.expiresAt.getTime());
  });

  it('rotates on schedule when the interval has passed, once, whichever process checks', async () => {
    const states = await keyStates();
    const activeKid = Object.keys(states).find((k) => states[k] === 'active')!;
    await h.runtime.tokens.issue({ subject: 'x', clientId: 'tessera-cli', scopes: [], tenantId: null, ttlSeconds: 600 });
    await h.runtime.orm.em.fork().getConnection().execute(`update signing_keys set activated_at = now() - interval '31 days' where kid = ?`, [activeKid]);
    const other = await startRuntime(h.config, { embeddedMode: 'own', background: false });
    try {
      const [a, b] = await Promise.all([
        h.runtime.keyring.rotate('system', { onlyIfDue: true }),
        other.keyring.rotate('system', { onlyIfDue: true }),
      ]);
      expect([a, b].filter(Boolean)).toHaveLength(1);
      expect((await keyStates())[activeKid]).toBe('retired');
    } finally {
      await other.close();
    }
  });

  it('lets another process pick up a rotation at once (NOTIFY) and verify the new key', async () => {
    const other = await startRuntime(h.config, { embeddedMode: 'own', background: true });
    try {
      const otherApp = await buildApp(h.config, other);
      const rotated = await h.runtime.keyring.rotate('operator');
      const token = await h.runtime.tokens.issue({ subject: acme.userId, clientId: 'tessera-cli', scopes: ['platform:admin'], tenantId: acme.tenantId, ttlSeconds: 600 });
      expect(decodeProtectedHeader(token.token).kid).toBe(rotated!.activated);
      const res = await otherApp.inject({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(token.token) });
      expect(res.statusCode).toBe(200);
      await expect.poll(async () => (await otherApp.inject({ method: 'GET', url: '/.well-known/jwks.json' })).body).toContain(rotated!.next);
      await otherApp.close();
    } finally {
      await other.close();
    }
  });
});

describe('the first start of a deployment', () => {
  it('lets processes that start at once on a database without keys all start, and agree on one active and one next key', async () => {
    // A fresh database (the template holds no keys) and a short statement timeout: a process waiting for the key
    // lock while another generates RSA keys under it (hundreds of ms each) would time out and fail to start.
    const database = await createTestDatabase(inject('serverUrl'), inject('templateDatabase'));
    const config = parseConfig({ ...h.env, DATABASE_URL: database.url, DATABASE_STATEMENT_TIMEOUT: '200' });
    const starts = await Promise.allSettled([0, 1, 2].map(() => startRuntime(config, { embeddedMode: 'own', background: false })));
    try {
      expect(starts.map((s) => (s.status === 'rejected' ? String(s.reason) : 'started'))).toEqual(['started', 'started', 'started']);
      const runtimes = starts.map((s) => (s as PromiseFulfilledResult<Awaited<ReturnType<typeof startRuntime>>>).value);
      const rows: Array<{ state: string; n: number }> = await runtimes[0]!.orm.em.fork().getConnection().execute('select state, count(*)::int as n from signing_keys group by state order by state');
      expect(rows).toEqual([{ state: 'active', n: 1 }, { state: 'next', n: 1 }]);
      // Each signs with the one active key, and the others verify what it signed.
      const tokens = await Promise.all(runtimes.map((r) => r.tokens.issue({ subject: 'x', clientId: 'tessera-cli', scopes: [], tenantId: null, ttlSeconds: 600 })));
      expect(new Set(tokens.map((t) => decodeProtectedHeader(t.token).kid)).size).toBe(1);
      for (const runtime of runtimes) for (const token of tokens) await expect(runtime.tokens.verify(token.token)).resolves.toMatchObject({ subject: 'x' });
    } finally {
      for (const s of starts) if (s.status === 'fulfilled') await s.value.close();
      await database.drop();
    }
  });
});

describe('verification by a third party', () => {
  it('verifies a Tessera token with jose createRemoteJWKSet pointed at the running server', async () => {
    // A listening server whose issuer is its own address, as an integrator would see it.
    const probe = parseConfig({ ...h.env, ISSUER: 'http://127.0.0.1:1' });
    const runtime = await startRuntime(probe, { embeddedMode: 'own', background: false });
    const app = await buildApp(probe, runtime);
    try {
      const address = await app.listen({ port: 0, host: '127.0.0.1' });
      const token = await runtime.tokens.issue({ subject: acme.userId, clientId: 'tessera-cli', scopes: ['platform:admin'], tenantId: acme.tenantId, ttlSeconds: 600 });
      const remote = createRemoteJWKSet(new URL(`${address}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(token.token, remote, {
        issuer: probe.issuer,
        audience: probe.audience,
        typ: 'at+jwt',
        algorithms: ['RS256'],
      });
      expect(protectedHeader.typ).toBe('at+jwt');
      expect(payload).toMatchObject({ sub: acme.userId, tenant_id: acme.tenantId, scope: 'platform:admin', client_id: 'tessera-cli' });
    } finally {
      await app.close();
      await runtime.close();
    }
  });
});
