// Tessera as a separate process, as an operator runs it (`npm start`, `npm run cli`): for what only a process
// shows (a signal, a kill -9, two processes sharing an embedded PostgreSQL).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './cli.js';
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
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const stopped = await Promise.race([process.exited().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs))]);
  if (!stopped) {
    child.kill('SIGKILL');
    await process.exited();
  }
}
