// The real thing, as an operator runs it: `npm start` with DATABASE_URL unset (embedded PostgreSQL), the CLI
// beside it (as a process of its own, and in this process, both joining the server's PostgreSQL), SIGTERM, and a
// `kill -9` that must not block the next start. The CLI's argument errors are test/cli.test.ts's.
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from './helpers/cli.js';
import { freePort } from './helpers/listening.js';
import { cliProcess, readyWithin, startTessera, stopProcess, type TesseraProcess } from './helpers/processes.js';

let dataDir: string;
let port: number;
let env: NodeJS.ProcessEnv;
let server: TesseraProcess | undefined;

function startServer(): TesseraProcess {
  server = startTessera(env);
  return server;
}

const waitReady = (timeoutMs = 30_000) => readyWithin(`http://127.0.0.1:${port}/readyz`, server!, timeoutMs);

/** The CLI in this process, with the server's environment (no DATABASE_URL: it joins the embedded cluster). */
const cli = (args: string[]) => runCliInProcess(args, env);

function postmasterPid(): number | null {
  const file = join(dataDir, 'pg', 'postmaster.pid');
  return existsSync(file) ? Number.parseInt(readFileSync(file, 'utf8').split('\n')[0]!, 10) : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tessera-server-test-'));
  await chmod(dataDir, 0o755);
  port = await freePort();
  env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', NODE_ENV: 'development' };
  delete env.DATABASE_URL;
  delete env.ISSUER;
});

afterAll(async () => {
  if (server) await stopProcess(server);
  const pid = postmasterPid();
  if (pid && alive(pid)) process.kill(pid, 'SIGINT');
  await rm(dataDir, { recursive: true, force: true });
});

describe('the server with an embedded PostgreSQL', { timeout: 120_000 }, () => {
  let bootstrap: Record<string, string>;

  it('starts on a fresh DATA_DIR and answers /readyz within 30 s', async () => {
    startServer();
    await waitReady(30_000);
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(existsSync(join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(dataDir, 'secrets.key'))).toBe(true);
    // Its last start-up line (JSON: stdout is not a terminal here) says where it listens, on which database, and
    // what to do next.
    const ready = server!.output.join('').split('\n').filter((line) => line.includes('Tessera is ready')).map((line) => JSON.parse(line));
    expect(ready).toEqual([
      expect.objectContaining({
        level: 30,
        address: `http://127.0.0.1:${port}`,
        role: 'all',
        embedded_database: true,
        msg:
          `Tessera is ready on http://127.0.0.1:${port} (ROLE=all), on an embedded PostgreSQL under ${dataDir}. Next: create a tenant and its first admin with ` +
          `\`npm run cli -- bootstrap --tenant acme --name "Acme" --admin-email you@example.com\`, then read the API at http://127.0.0.1:${port}/api/docs`,
      }),
    ]);
  });

  it('lets the CLI, a process of its own, bootstrap a tenant against the running server\'s database', async () => {
    const result = await cliProcess(['bootstrap', '--tenant', 'acme', '--name', 'Acme Corp', '--admin-email', 'admin@acme.test', '--json'], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    bootstrap = JSON.parse(result.stdout);
    expect(Object.keys(bootstrap).sort()).toEqual(['admin_access_token', 'admin_email', 'admin_password', 'admin_user_id', 'tenant_id', 'tenant_slug']);
    expect(bootstrap).toMatchObject({ tenant_slug: 'acme', admin_email: 'admin@acme.test', tenant_id: expect.stringMatching(/^ten_/) });
    expect(bootstrap.admin_password.length).toBeGreaterThanOrEqual(16);

    const res = await fetch(`http://127.0.0.1:${port}/v1/platform/scopes`, { headers: { authorization: `Bearer ${bootstrap.admin_access_token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('mints admin and operator tokens and rotates keys from the CLI', async () => {
    const admin = await cli(['admin-token', '--tenant', 'acme', '--email', 'admin@acme.test', '--ttl', '600', '--json']);
    expect(admin.code).toBe(0);
    const token = JSON.parse(admin.stdout).access_token;
    expect((await fetch(`http://127.0.0.1:${port}/v1/platform/apps`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);

    const operator = await cli(['operator-token', '--json']);
    expect(operator.code).toBe(0);
    const claims = JSON.parse(Buffer.from(JSON.parse(operator.stdout).access_token.split('.')[1], 'base64url').toString());
    expect(claims.scope).toBe('platform:operator');
    expect(claims).not.toHaveProperty('tenant_id');

    const rotated = await cli(['keys', 'rotate', '--json']);
    expect(rotated.code).toBe(0);
    const { activated } = JSON.parse(rotated.stdout);
    const listed = JSON.parse((await cli(['keys', 'list', '--json'])).stdout) as Array<{ kid: string; state: string }>;
    expect(listed.find((k) => k.kid === activated)?.state).toBe('active');
    // The running server learnt of the rotation (NOTIFY) and publishes the new next key.
    const next = listed.find((k) => k.state === 'next')!.kid;
    const jwks = await (await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`)).text();
    expect(jwks).toContain(next);
    // The token minted before the rotation still works.
    expect((await fetch(`http://127.0.0.1:${port}/v1/platform/apps`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('logs JSON lines with request ids and never a token or password', () => {
    const lines = server!.output.join('').split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.some((l) => typeof l.reqId === 'string')).toBe(true);
    const all = server!.output.join('');
    expect(all).not.toContain(bootstrap.admin_access_token);
    expect(all).not.toContain(bootstrap.admin_password);
  });

  it('stops cleanly on SIGTERM, embedded PostgreSQL included', async () => {
    const pgPid = postmasterPid()!;
    expect(alive(pgPid)).toBe(true);
    server!.child.kill('SIGTERM');
    expect(await server!.exited()).toBe(0);
    expect(alive(pgPid)).toBe(false);
    expect(postmasterPid()).toBeNull();
  });

  it('lets the CLI start the embedded database itself when no server runs', async () => {
    const result = await cli(['admin-token', '--tenant', 'acme', '--email', 'admin@acme.test', '--json']);
    expect(result.code).toBe(0);
    expect(postmasterPid()).toBeNull(); // and stops it again
  });

  it('starts again after kill -9 left an orphaned PostgreSQL behind', async () => {
    startServer();
    await waitReady();
    const orphan = postmasterPid()!;
    server!.child.kill('SIGKILL');
    await server!.exited();
    expect(alive(orphan)).toBe(true); // PostgreSQL outlived the killed server

    startServer();
    const readyIn = await waitReady(30_000);
    expect(readyIn).toBeLessThan(30_000);
    expect(alive(orphan)).toBe(false);
    const token = JSON.parse((await cli(['admin-token', '--tenant', 'acme', '--email', 'admin@acme.test', '--json'])).stdout).access_token;
    expect((await fetch(`http://127.0.0.1:${port}/v1/platform/apps`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    server!.child.kill('SIGTERM');
    expect(await server!.exited()).toBe(0);
  });
});
