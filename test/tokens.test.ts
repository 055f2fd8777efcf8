// The one token verifier: every way a token can be wrong is a 401 invalid_token naming the cause.
import { SignJWT, UnsecuredJWT, decodeProtectedHeader, exportJWK, generateKeyPair, type JWK } from 'jose';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, TEST_ISSUER, type Harness, type TenantFixture } from './helpers/harness.js';

let h: Harness;
let acme: TenantFixture;

beforeAll(async () => {
  h = await startHarness({ CLOCK_TOLERANCE: '1' });
  acme = await h.tenant('acme');
});
afterAll(() => h?.close());

function claims(overrides: Record<string, unknown> = {}) {
  const now = Math.floor(h.clock.now() / 1000);
  return {
    iss: TEST_ISSUER,
    sub: acme.userId,
    aud: TEST_ISSUER,
    client_id: 'tessera-cli',
    scope: 'platform:admin',
    tenant_id: acme.tenantId,
    jti: `forged-${Math.random()}`,
    iat: now,
    exp: now + 600,
    ...overrides,
  };
}

async function call(token: string) {
  return h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(token) });
}

function expectInvalidToken(res: Awaited<ReturnType<typeof call>>, description: string) {
  expect(res.statusCode).toBe(401);
  expect(res.json()).toEqual({ error: 'unauthorized', error_description: description });
  expect(res.headers['www-authenticate']).toBe(`Bearer error="invalid_token", error_description="${description}"`);
}

async function activeKid(): Promise<string> {
  return decodeProtectedHeader(acme.adminToken).kid!;
}

describe('a genuine token', () => {
  it('is accepted', async () => {
    expect((await call(acme.adminToken)).statusCode).toBe(200);
  });

  it('is an RFC 9068 access token', async () => {
    const header = decodeProtectedHeader(acme.adminToken);
    expect(header).toEqual({ alg: 'RS256', kid: expect.any(String), typ: 'at+jwt' });
    const payload = JSON.parse(Buffer.from(acme.adminToken.split('.')[1]!, 'base64url').toString());
    expect(Object.keys(payload).sort()).toEqual(['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub', 'tenant_id']);
    expect(payload).toMatchObject({ iss: TEST_ISSUER, aud: TEST_ISSUER, scope: 'platform:admin', tenant_id: acme.tenantId });
  });
});

describe('forged and broken tokens', () => {
  it('refuses alg "none"', async () => {
    const token = new UnsecuredJWT(claims()).encode();
    expectInvalidToken(await call(token), 'token algorithm is not allowed');
  });

  it('refuses HS256 signed with the public key (algorithm confusion)', async () => {
    const jwks = (await h.request({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JWK[] };
    const kid = await activeKid();
    const publicJwk = jwks.keys.find((k) => k.kid === kid)!;
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid, typ: 'at+jwt' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims())).toString('base64url');
    const signature = createHmac('sha256', JSON.stringify(publicJwk)).update(`${header}.${body}`).digest('base64url');
    expectInvalidToken(await call(`${header}.${body}.${signature}`), 'token algorithm is not allowed');
  });

  it('refuses a token signed by a key Tessera never published, even with a known kid', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: await activeKid(), typ: 'at+jwt' }).sign(privateKey);
    expectInvalidToken(await call(token), 'token signature does not verify');
  });

  it('refuses an unknown kid', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'not-a-tessera-key', typ: 'at+jwt' }).sign(privateKey);
    expectInvalidToken(await call(token), 'token is signed with an unknown key');
  });

  it('refuses wrong iss, wrong aud, wrong typ, expired and missing claims', async () => {
    const sign = (payload: Record<string, unknown>, typ = 'at+jwt') => h.runtime.keyring.sign(payload as never, typ);
    expectInvalidToken(await call(await sign(claims({ iss: 'https://evil.example' }))), 'token claim iss is not valid (check_failed)');
    expectInvalidToken(await call(await sign(claims({ aud: 'https://other-api.example' }))), 'token claim aud is not valid (check_failed)');
    expectInvalidToken(await call(await sign(claims(), 'JWT')), 'token claim typ is not valid (check_failed)');
    const past = Math.floor(h.clock.now() / 1000) - 3600;
    expectInvalidToken(await call(await sign(claims({ iat: past - 60, exp: past }))), 'token has expired');
    const { client_id: _dropped, ...withoutClient } = claims();
    expectInvalidToken(await call(await sign({ ...withoutClient, exp: withoutClient.exp })), 'token claim client_id is not valid (missing)');
    const future = Math.floor(h.clock.now() / 1000) + 3600;
    expectInvalidToken(await call(await sign(claims({ nbf: future }))), 'token claim nbf is not valid (check_failed)');
  });

  it('refuses a tampered payload', async () => {
    const [header, , signature] = acme.adminToken.split('.');
    const body = Buffer.from(JSON.stringify(claims({ tenant_id: 'ten_someone_else' }))).toString('base64url');
    expectInvalidToken(await call(`${header}.${body}.${signature}`), 'token signature does not verify');
  });

  it('refuses garbage and a malformed Authorization header', async () => {
    expectInvalidToken(await call('not.a.jwt'), 'token is malformed');
    const basic = await h.request({ method: 'GET', url: '/v1/platform/scopes', headers: { authorization: 'Basic dXNlcjpwdw==' } });
    expect(basic.statusCode).toBe(401);
    expect(basic.json()).toEqual({ error: 'unauthorized', error_description: 'the Authorization header must be "Bearer <token>"' });
  });

  it('checks expiry on every use, also for a token it has seen before', async () => {
    const token = (await h.runtime.tokens.issue({ subject: acme.userId, clientId: 'tessera-cli', scopes: ['platform:admin'], tenantId: acme.tenantId, ttlSeconds: 1 })).token;
    expect((await call(token)).statusCode).toBe(200);
    // Past its one second of life and the clock tolerance.
    await h.clock.advance((1 + h.config.tokens.clockTolerance) * 1000 + 1200);
    expectInvalidToken(await call(token), 'token has expired');
  });

  it('ignores a key embedded in the token header (jwk)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', jwk, typ: 'at+jwt' }).sign(privateKey);
    expectInvalidToken(await call(token), 'token is signed with an unknown key');
  });
});

describe('revocation', () => {
  const issue = async () => (await h.runtime.tokens.issue({ subject: acme.userId, clientId: 'tessera-cli', scopes: ['platform:admin'], tenantId: acme.tenantId, ttlSeconds: 600 })).token;
  const scopes = (token: string) => h.request({ method: 'GET', url: '/v1/platform/scopes', headers: bearer(token) });

  it('takes effect in this process as soon as the revoking transaction commits', async () => {
    const token = await issue();
    const { jti, expiresAt } = await h.runtime.tokens.verify(token);
    await h.runtime.orm.em.fork().transactional((tx) => h.runtime.revocations.revoke(tx, jti, new Date(expiresAt * 1000)));
    expectInvalidToken(await scopes(token), 'token has been revoked');
  });

  it('revokes nothing when the revoking transaction rolls back', async () => {
    const token = await issue();
    const { jti, expiresAt } = await h.runtime.tokens.verify(token);
    await expect(
      h.runtime.orm.em.fork().transactional(async (tx) => {
        await h.runtime.revocations.revoke(tx, jti, new Date(expiresAt * 1000));
        expect(h.runtime.revocations.isRevoked(jti)).toBe(false); // not before the commit either
        throw new Error('the change that revoked the token failed');
      }),
    ).rejects.toThrow('the change that revoked the token failed');
    expect((await scopes(token)).statusCode).toBe(200);
  });
});
