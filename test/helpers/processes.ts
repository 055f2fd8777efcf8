// Tessera as a separate process, as an operator runs it (`npm start`, `npm run cli`): for what only a process
// shows (a signal, a kill -9, two processes sharing an embedded PostgreSQL).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './cli.js';
import { TEST_ISSUER, TEST_SECRETS_KEY } from './identity.js';
import { freePort } from './listening.js';
import { until } from './poll.js';

// `--import tsx` from the checkout, whatever the working directory.
const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

export interface TesseraProcess {
  child: ChildProcess;
  /** Everything it printed, stdout and stderr. */
  output: string[];
  exited(): Promise<number | null>;
}

function run(entry: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): TesseraProcess {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, join(ROOT, entry), ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout!.on('data', (chunk) => output.push(String(chunk)));
  child.stderr!.on('data', (chunk) => output.push(String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited: () => exited };
}

/** `npm start` (src/main.ts) with `env`. */
export function startTessera(env: NodeJS.ProcessEnv): TesseraProcess {
  return run('src/main.ts', [], env);
}

/**
 * `vars` with this process's PATH and HOME and nothing else of its environment: a DATABASE_URL or REDIS_URL set in
 * the shell that runs the tests must not reach a child that was meant to go without one.
 */
export function childEnv(vars: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  for (const [name, value] of Object.entries(vars)) if (value !== undefined) env[name] = value;
  return env;
}

/**
 * The environment of a Tessera process under test on `databaseUrl`, as childEnv: one key and one issuer for every
 * process (a token minted or a secret sealed by one is good on the others, and on the harness's runtime), warnings
 * and worse logged, and `vars` on top.
 */
export function testServerEnv(databaseUrl: string, vars: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return childEnv({ NODE_ENV: 'test', DATABASE_URL: databaseUrl, SECRETS_KEY: TEST_SECRETS_KEY, ISSUER: TEST_ISSUER, LOG_LEVEL: 'warn', ...vars });
}

/** A Tessera process serving HTTP, and where. */
export interface TesseraServer extends TesseraProcess {
  /** http://127.0.0.1:<port> */
  url: string;
}

function hasExited(process: TesseraProcess): boolean {
  return process.child.exitCode !== null || process.child.signalCode !== null;
}

/**
 * `npm start` with `env` on a free port of 127.0.0.1, once its /readyz answers 200. The port is picked before the
 * process starts (ISSUER may name it), so another program can take it in between: a start that fails on
 * EADDRINUSE is tried again on another port.
 */
export async function startServer(env: NodeJS.ProcessEnv, { timeoutMs = 30_000, tries = 3 } = {}): Promise<TesseraServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const started = startTessera({ ...env, PORT: String(port), HOST: '127.0.0.1' });
    const state = await until(
      async () => (hasExited(started) ? 'exited' : (await fetch(`${url}/readyz`).then((res) => res.status === 200, () => false)) ? 'ready' : 'starting'),
      (s) => s !== 'starting',
      { timeoutMs, intervalMs: 100 },
    );
    if (state === 'ready') return Object.assign(started, { url });
    await stopProcess(started);
    const output = started.output.join('');
    if (state === 'exited' && output.includes('EADDRINUSE') && attempt < tries) continue;
    throw new Error(`Tessera ${state === 'exited' ? 'exited' : 'was not ready'} before ${url}/readyz answered 200:\n${output}`);
  }
}

/** `npm run cli -- <args>` as a process of its own; its exit code and output. */
export async function cliProcess(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = run('src/cli/index.ts', args, env);
  const stdout: string[] = [];
  const stderr: string[] = [];
  cli.child.stdout!.on('data', (chunk) => stdout.push(String(chunk)));
  cli.child.stderr!.on('data', (chunk) => stderr.push(String(chunk)));
  const code = await cli.exited();
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}

/** Waits until `url` answers 200; answers how long that took. */
export async function readyWithin(url: string, process: TesseraProcess, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  const ready = await until(
    () => fetch(url).then((res) => res.status === 200, () => false),
    Boolean,
    { timeoutMs, intervalMs: 100 },
  );
  if (!ready) throw new Error(`not ready after ${timeoutMs} ms:\n${process.output.join('')}`);
  return Date.now() - started;
}

/** SIGTERM, then SIGKILL if it lingers: nothing a test started outlives it. */
export async function stopProcess(process: TesseraProcess, graceMs = 5000): Promise<void> {
  const { child } = process;
  if (hasExited(process)) return;
  child.kill('SIGTERM');
  const stopped = await Promise.race([process.exited().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs))]);
  if (!stopped) {
    child.kill('SIGKILL');
    await process.exited();
  }
}
