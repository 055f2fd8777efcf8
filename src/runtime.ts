// Everything a Tessera process needs besides HTTP: the database (embedded or DATABASE_URL), migrations, the secrets
// key, signing keys and revocations (the core), then every feature module built on them, with their channels,
// jobs and background work. Shared by the server, the CLI and the tests, so all three run the same code.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { systemClock, type Clock } from './clock.js';
import { decodeKey, type Config } from './config.js';
import { startEmbeddedPostgres, type EmbeddedMode } from './db/embedded.js';
import { JobRunner, type Tasks } from './db/jobs.js';
import { Notifications } from './db/notifications.js';
import { connectionLimits, migrate, openOrm } from './db/orm.js';
import type { GraphQLServices } from './graphql/builder.js';
import { Keyring, type RotationAudit } from './keys/keyring.js';
import { keyMetrics } from './keys/metrics.js';
import { RevocationList } from './keys/revocations.js';
import { TokenService } from './keys/tokens.js';
import type { Core, Feature, Services } from './module.js';
import { dataModel, modules, schema } from './modules.js';
import { silentLogger, type Logger } from './observability/log.js';
import { createMetrics, poolMetrics } from './observability/metrics.js';
import { SecretBox } from './secret-box.js';

export interface Runtime {
  config: Config;
  clock: Clock;
  databaseUrl: string;
  orm: MikroORM;
  keyring: Keyring;
  revocations: RevocationList;
  tokens: TokenService;
  /** Every module's services, by name. */
  services: Services;
  /** The modules, built, in the order of src/modules.ts. */
  features: Feature[];
  /** What GraphQL resolvers reach through their context. */
  graphql: GraphQLServices;
  core: Core;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** `own` for the server, `share` for the CLI (see db/embedded.ts). */
  embeddedMode: EmbeddedMode;
  /** Long-running processes listen for changes and rotate keys on schedule; one-shot CLI commands do not. */
  background: boolean;
  /** Where the runtime logs; silent when not given (the CLI, most tests). */
  logger?: Logger;
  /** Run jobs (webhook deliveries) in this process (roles all and worker). */
  worker?: boolean;
  /** DNS for outbound connections; tests inject one to exercise the SSRF checks. */
  resolver?: Core['resolver'];
  /** Where time comes from; tests move it. */
  clock?: Clock;
}

/** Development only (production requires SECRETS_KEY): a key generated once into DATA_DIR. */
async function developmentSecretsKey(dataDir: string): Promise<Buffer> {
  const file = join(dataDir, 'secrets.key');
  if (existsSync(file)) {
    const key = decodeKey((await readFile(file, 'utf8')).trim());
    if (!key) throw new Error(`${file} does not hold a 32-byte key`);
    return key;
  }
  await mkdir(dataDir, { recursive: true });
  const key = randomBytes(32);
  await writeFile(file, key.toString('base64'), { mode: 0o600 });
  return key;
}

/**
 * The services built so far, for the next module's `create`: asking for one no module has built yet is a
 * mistake in the order of src/modules.ts, and says so.
 */
function servicesSoFar(built: Partial<Services>): Services {
  return new Proxy(built, {
    get(target, name) {
      if (typeof name === 'string' && !(name in target)) throw new Error(`no module has built the service "${name}" yet: list the module that offers it earlier in src/modules.ts`);
      return Reflect.get(target, name);
    },
  }) as Services;
}

/** The ORM's pool (knex's tarn pool): what MikroORM does not report itself. */
function ormPoolState(orm: MikroORM) {
  const pool = (orm.em.getConnection().getKnex().client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
  return pool ? { inUse: pool.numUsed(), idle: pool.numFree(), waiting: pool.numPendingAcquires() } : { inUse: 0, idle: 0, waiting: 0 };
}

export async function startRuntime(config: Config, options: RuntimeOptions): Promise<Runtime> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger();
  const database = config.databaseUrl
    ? { url: config.databaseUrl, stop: async () => undefined }
    : await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, mode: options.embeddedMode, log: (m) => logger.debug(m) });
  const cleanups: Array<() => Promise<void> | void> = [() => database.stop()];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const orm = await openOrm(database.url, dataModel, config.database);
    cleanups.push(() => orm.close(true));
    await migrate(database.url, orm);
    const box = new SecretBox(config.secretsKey ?? (await developmentSecretsKey(config.dataDir)));

    const notifications = options.background ? new Notifications(database.url, logger) : undefined;
    if (notifications) {
      await notifications.start();
      cleanups.push(() => notifications.close());
    }
    // Plain pg for job bookkeeping and the delivery hot path: one connection per concurrent job.
    const pool = new pg.Pool({ connectionString: database.url, max: options.worker ? config.worker.concurrency + 4 : 2, ...connectionLimits(config.database) });
    // An idle connection dropped by the server must not crash the process; the pool reconnects.
    pool.on('error', (error) => logger.warn({ err: error }, 'database connection lost'));
    pool.on('connect', (client) => client.on('error', (error) => logger.warn({ err: error }, 'database connection lost')));
    cleanups.push(() => pool.end());

    const metrics = createMetrics();
    poolMetrics(metrics, { orm: () => ormPoolState(orm), jobs: () => ({ inUse: pool.totalCount - pool.idleCount, idle: pool.idleCount, waiting: pool.waitingCount }) });

    const built: Partial<Services> = {};
    // The keyring records its rotations in the audit log, which a module builds after the keyring: it is reached
    // when a rotation happens, by then built.
    const rotationAudit: RotationAudit = { record: (em, entry) => built.audit!.record(em, entry) };
    const keyring = new Keyring(orm, box, config, clock, rotationAudit, logger);
    await keyring.start(notifications, { background: options.background });
    cleanups.push(() => keyring.stop());
    const revocations = new RevocationList(orm, clock, logger);
    await revocations.start(notifications);
    cleanups.push(() => revocations.stop());
    const tokens = new TokenService(keyring, revocations, config, clock);
    keyMetrics(metrics, keyring, clock);

    const core: Core = {
      config,
      clock,
      orm,
      databaseUrl: database.url,
      box,
      keyring,
      tokens,
      revocations,
      pool,
      runsJobs: options.worker ?? false,
      schema: schema(),
      resolver: options.resolver,
      logger,
      metrics,
    };
    const features: Feature[] = [];
    const graphql: Partial<GraphQLServices> = {};
    for (const module of modules) {
      const feature = await module.create(core, servicesSoFar(built));
      Object.assign(built, feature.services);
      Object.assign(graphql, feature.graphql);
      if (feature.tokenAdmission) tokens.admitWith(feature.tokenAdmission);
      features.push(feature);
    }
    for (const feature of features) {
      for (const [channel, handler] of Object.entries(feature.channels ?? {})) notifications?.on(channel, handler);
      if (feature.reconnected) notifications?.onReconnect(() => feature.reconnected!());
      await feature.start?.({ background: options.background });
      if (feature.stop) cleanups.push(() => feature.stop!());
    }

    if (options.worker) {
      const tasks: Tasks = Object.assign({}, ...features.map((f) => f.jobs ?? {}));
      const jobs = new JobRunner(pool, tasks, config.worker, logger);
      await jobs.start();
      cleanups.push(() => jobs.stop());
    }
    return { config, clock, databaseUrl: database.url, orm, keyring, revocations, tokens, services: built as Services, features, graphql: graphql as GraphQLServices, core, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
