// The real thing, as an operator runs it: `npm start` with DATABASE_URL unset (embedded PostgreSQL),
// the CLI beside it, SIGTERM, and a `kill -9` that must not block the next start.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
let dataDir: string;
let port: number;
let env: NodeJS.ProcessEnv;
let server: { child: ChildProcess; output: string[] } | undefined;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = s.address() as { port: number };
      s.close(() => resolve(p));
    });
  });
}

function startServer() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout!.on('data', (chunk) => output.push(String(chunk)));
  child.stderr!.on('data', (chunk) => output.push(String(chunk)));
  server = { child, output };
  return server;
}

async function waitReady(timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.status === 200) return Date.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready after ${timeoutMs} ms:\n${server?.output.join('')}`);
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

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
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await exited(server.child);
  }
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
  });

  it('lets the CLI bootstrap a tenant against the running server\'s database', async () => {
    const result = await cli(['bootstrap', '--tenant', 'acme', '--name', 'Acme Corp', '--admin-email', 'admin@acme.test', '--json']);
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

  it('refuses bad CLI arguments with exit code 2 and creates nothing', async () => {
    const cases = [
      ['bootstrap', '--tenant', 'Bad Slug', '--name', 'X', '--admin-email', 'a@b.test'],
      ['bootstrap', '--tenant', 'ok-slug', '--name', 'X'],
      ['bootstrap', '--tenant', 'ok-slug', '--name', 'X', '--admin-email', 'a@b.test', '--admin-password', 'short'],
      ['bootstrap', '--tenant', 'acme', '--name', 'Again', '--admin-email', 'other@acme.test'],
      ['admin-token', '--tenant', 'acme'],
      ['admin-token', '--tenant', 'nope', '--email', 'admin@acme.test'],
      ['operator-token', '--ttl', 'forever'],
      ['frobnicate'],
      ['keys', 'shred'],
      ['bootstrap', '--tenant', 'ok-slug', '--colour', 'blue'],
    ];
    const results = await Promise.all(cases.map((args) => cli(args)));
    for (const [i, result] of results.entries()) {
      const args = cases[i]!;
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/^error: /);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack traces
    }
    const admin = JSON.parse((await cli(['admin-token', '--tenant', 'acme', '--email', 'admin@acme.test', '--json'])).stdout).access_token;
    const audit = await (await fetch(`http://127.0.0.1:${port}/v1/platform/audit-events?action=tenant.bootstrapped`, { headers: { authorization: `Bearer ${admin}` } })).json();
    expect(audit.events).toHaveLength(1);
    expect((await cli(['admin-token', '--tenant', 'ok-slug', '--email', 'a@b.test'])).code).toBe(2); // never created
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
    expect(await exited(server!.child)).toBe(0);
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
    await exited(server!.child);
    expect(alive(orphan)).toBe(true); // PostgreSQL outlived the killed server

    startServer();
    const readyIn = await waitReady(30_000);
    expect(readyIn).toBeLessThan(30_000);
    expect(alive(orphan)).toBe(false);
    const token = JSON.parse((await cli(['admin-token', '--tenant', 'acme', '--email', 'admin@acme.test', '--json'])).stdout).access_token;
    expect((await fetch(`http://127.0.0.1:${port}/v1/platform/apps`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    server!.child.kill('SIGTERM');
    expect(await exited(server!.child)).toBe(0);
  });
});
