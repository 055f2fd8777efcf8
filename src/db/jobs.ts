// The job queue: graphile-worker in the same PostgreSQL. Modules declare their tasks (src/module.ts); a module
// adds its jobs with plain SQL inside the transaction of the change that caused them (a transactional outbox),
// and the runner picks them with SKIP LOCKED, woken by LISTEN/NOTIFY. At-least-once: a worker killed mid-job
// leaves its jobs locked; every live worker pool heartbeats, and the jobs of a pool silent for
// WORKER_HEARTBEAT_TIMEOUT are unlocked and run again.
import { EventEmitter } from 'node:events';
import { Logger, makeWorkerUtils, run, type Runner, type TaskList, type WorkerEvents, type WorkerUtils } from 'graphile-worker';
import type pg from 'pg';

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

export class JobRunner {
  private runner?: Runner;
  private utils?: WorkerUtils;
  /** graphile-worker 0.17 locks jobs with the id of the worker pool (`locked_by`), so pools are what beat. */
  private readonly poolIds = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(
    /** The caller owns the pool and ends it. */
    private readonly pool: pg.Pool,
    private readonly tasks: Tasks,
    private readonly options: JobRunnerOptions,
    private readonly log: (message: string, error?: unknown) => void,
  ) {}

  async start(): Promise<void> {
    const logger = new Logger((scope) => (level, message, meta) => {
      if (level === 'error' || level === 'warning') this.log(`worker: ${message}`, meta?.error ?? scope);
    });
    this.utils = await makeWorkerUtils({ pgPool: this.pool, logger });
    // Listening before run(): the pool is created, and announced, inside it.
    const events: WorkerEvents = new EventEmitter();
    events.on('pool:create', ({ workerPool }) => void this.poolIds.add(workerPool.id));
    events.on('pool:release', ({ pool }) => void this.poolIds.delete(pool.id));
    const taskList: TaskList = Object.fromEntries(Object.entries(this.tasks).map(([name, task]) => [name, (payload: unknown) => task(payload)]));
    this.runner = await run({
      pgPool: this.pool,
      logger,
      events,
      // Batching (graphile-worker "performance"): jobs are fetched and locked a batch at a time and
      // completions are written together, instead of two round trips per job.
      preset: { worker: { localQueue: { size: this.options.concurrency * 2 }, completeJobBatchDelay: 0 } },
      concurrency: this.options.concurrency,
      noHandleSignals: true,
      pollInterval: this.options.pollInterval,
      taskList,
    });
    const every = Math.max(500, (this.options.heartbeatTimeout * 1000) / 5);
    await this.beat();
    this.timer = setInterval(() => void this.beat().catch((e) => this.log('worker heartbeat failed', e)), every);
    this.timer.unref();
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
    const { rows } = await this.pool.query<{ worker_id: string }>(
      `delete from worker_heartbeats where last_seen < now() - make_interval(secs => $1) and not (worker_id = any($2::text[])) returning worker_id`,
      [this.options.heartbeatTimeout, ids],
    );
    if (rows.length) {
      this.log(`unlocking jobs of ${rows.length} worker pool(s) that stopped without finishing`);
      await this.utils!.forceUnlockWorkers(rows.map((r) => r.worker_id));
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.runner?.stop();
    const ids = [...this.poolIds];
    if (ids.length) await this.pool.query('delete from worker_heartbeats where worker_id = any($1::text[])', [ids]).catch(() => undefined);
    await this.utils?.release();
  }
}
