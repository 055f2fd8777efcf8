// The job queue: graphile-worker in the same PostgreSQL. Modules declare their tasks (src/module.ts); a module
// adds its jobs with plain SQL inside the transaction of the change that caused them (a transactional outbox),
// and the runner picks them with SKIP LOCKED, woken by LISTEN/NOTIFY. At-least-once: a worker killed mid-job
// leaves its jobs locked; every live worker pool heartbeats, and the jobs of a pool silent for
// WORKER_HEARTBEAT_TIMEOUT (or that died before its first heartbeat) are unlocked and run again.
import { EventEmitter } from 'node:events';
import { Logger, makeWorkerUtils, run, type Runner, type TaskList, type WorkerEvents, type WorkerUtils } from 'graphile-worker';
import type pg from 'pg';
import type { Logger as ProcessLogger } from '../observability/log.js';

/** What a module's job does with its payload (the JSON it was added with). */
export type Tasks = Record<string, (payload: unknown) => Promise<void>>;

export interface JobRunnerOptions {
  /** Jobs run at once by this process. */
  concurrency: number;
  /** Seconds after which a silent worker pool's jobs run again elsewhere. */
  heartbeatTimeout: number;
  /** How often jobs due later (retries) are looked for, in ms; new jobs wake the runner at once. */
  pollInterval: number;
}

/** Backoff between restarts of a runner the database ended: 0.5 s, doubling, at most 10 s. */
const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 10_000;

export class JobRunner {
  private runner?: Runner;
  private utils?: WorkerUtils;
  /** graphile-worker 0.17 locks jobs with the id of the worker pool (`locked_by`), so pools are what beat. */
  private readonly poolIds = new Set<string>();
  private timer?: NodeJS.Timeout;
  private workerLogger?: Logger;
  private restartTimer?: NodeJS.Timeout;
  private failures = 0;
  private stopping = false;

  constructor(
    /** The caller owns the pool and ends it. */
    private readonly pool: pg.Pool,
    private readonly tasks: Tasks,
    private readonly options: JobRunnerOptions,
    private readonly log: ProcessLogger,
  ) {}

  async start(): Promise<void> {
    this.workerLogger = new Logger((scope) => (level, message, meta) => {
      if (level === 'error' || level === 'warning') this.log.warn({ err: meta?.error, scope }, `worker: ${message}`);
    });
    this.utils = await makeWorkerUtils({ pgPool: this.pool, logger: this.workerLogger });
    await this.startRunner();
    const every = Math.max(500, (this.options.heartbeatTimeout * 1000) / 5);
    await this.beat();
    this.timer = setInterval(() => void this.beat().catch((e) => this.log.warn({ err: e }, 'worker heartbeat failed')), every);
    this.timer.unref();
  }

  private async startRunner(): Promise<void> {
    // Listening before run(): the pool is created, and announced, inside it.
    const events: WorkerEvents = new EventEmitter();
    events.on('pool:create', ({ workerPool }) => void this.poolIds.add(workerPool.id));
    events.on('pool:release', ({ pool }) => void this.poolIds.delete(pool.id));
    // graphile-worker shuts a pool down when it cannot record a job's outcome (the database stalled or went away):
    // "queue is in an inconsistent state". Ours is to stop beating for that pool, so that the jobs it held are
    // unlocked once its heartbeat lapses and run again (at least once), and to start another pool after a backoff.
    // Not by awaiting the old runner: 0.17's batcher can leave a failed pool's shutdown pending for good.
    events.on('pool:gracefulShutdown', ({ workerPool }) => {
      if (this.stopping) return;
      this.poolIds.delete(workerPool.id);
      this.log.warn({ pool_id: workerPool.id }, 'worker pool stopped on a database error; starting another');
      this.scheduleRestart();
    });
    const taskList: TaskList = Object.fromEntries(Object.entries(this.tasks).map(([name, task]) => [name, (payload: unknown) => task(payload)]));
    this.runner = await run({
      pgPool: this.pool,
      logger: this.workerLogger,
      events,
      // Batching (graphile-worker "performance"): jobs are fetched and locked a batch at a time and
      // completions are written together, instead of two round trips per job. Failures are batched too: unbatched,
      // 0.17 does not await a failJob, so a database down when a job fails would be an unhandled rejection.
      preset: { worker: { localQueue: { size: this.options.concurrency * 2 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      concurrency: this.options.concurrency,
      noHandleSignals: true,
      pollInterval: this.options.pollInterval,
      taskList,
    });
    // Its errors reach the logger above; a runner that ends in error must not be an unhandled rejection too.
    this.runner.promise.catch(() => undefined);
    this.failures = 0;
  }

  private scheduleRestart(): void {
    if (this.restartTimer) return;
    this.runner = undefined;
    const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** this.failures++);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.startRunner().catch((error: unknown) => {
        this.log.warn({ err: error }, 'worker restart failed; trying again');
        this.scheduleRestart();
      });
    }, delay);
    this.restartTimer.unref();
  }

  /** Records this process's pools as alive, and frees the jobs of pools that stopped beating. */
  private async beat(): Promise<void> {
    const ids = [...this.poolIds];
    if (ids.length) {
      await this.pool.query(
        `insert into worker_heartbeats (worker_id, last_seen) select id, now() from unnest($1::text[]) as id
         on conflict (worker_id) do update set last_seen = now()`,
        [ids],
      );
    }
    // Stale heartbeats, and locks older than the timeout held by a pool no heartbeat names: a pool that died after
    // locking jobs and before its first beat (one restarted after a database error beats only at the next interval)
    // leaves nothing to go stale, and graphile-worker itself frees such locks only after 4 hours. A live pool beats
    // within timeout / 5 of its start, so a lock that old without a heartbeat is no live pool's.
    const { rows } = await this.pool.query<{ worker_id: string }>(
      `with stale as (
         delete from worker_heartbeats where last_seen < now() - make_interval(secs => $1) and not (worker_id = any($2::text[])) returning worker_id
       )
       select worker_id from stale
       union
       select distinct j.locked_by from graphile_worker._private_jobs j
       where j.locked_at < now() - make_interval(secs => $1) and not (j.locked_by = any($2::text[]))
         and not exists (select 1 from worker_heartbeats h where h.worker_id = j.locked_by)`,
      [this.options.heartbeatTimeout, ids],
    );
    if (rows.length) {
      this.log.warn({ pool_ids: rows.map((r) => r.worker_id) }, 'unlocking the jobs of worker pools that stopped without finishing');
      await this.utils!.forceUnlockWorkers(rows.map((r) => r.worker_id));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    clearTimeout(this.restartTimer);
    await this.runner?.stop();
    const ids = [...this.poolIds];
    if (ids.length) await this.pool.query('delete from worker_heartbeats where worker_id = any($1::text[])', [ids]).catch(() => undefined);
    await this.utils?.release();
  }
}
