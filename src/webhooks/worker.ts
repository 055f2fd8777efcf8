// The delivery worker: graphile-worker jobs in the same PostgreSQL, picked with SKIP LOCKED and woken by
// LISTEN/NOTIFY. At-least-once: a worker killed mid-delivery leaves its jobs locked; every live worker
// pool heartbeats, and jobs of a pool silent for WORKER_HEARTBEAT_TIMEOUT are unlocked and run again.
import { EventEmitter } from 'node:events';
import { Logger, makeWorkerUtils, run, type Runner, type WorkerEvents, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import type { Config } from '../config.js';
import { DELIVER_TASK, DISPATCH_TASK } from './outbox.js';
import type { WebhookService } from './service.js';

export class DeliveryWorker {
  private runner?: Runner;
  private utils?: WorkerUtils;
  /** graphile-worker 0.17 locks jobs with the id of the worker pool (`locked_by`), so pools are what beat. */
  private readonly poolIds = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly config: Config,
    /** Shared with the delivery attempts (WebhookService); the caller owns and ends it. */
    private readonly pool: pg.Pool,
    private readonly webhooks: WebhookService,
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
    this.runner = await run({
      pgPool: this.pool,
      logger,
      events,
      // Batching (graphile-worker "performance"): jobs are fetched and locked a batch at a time and
      // completions are written together, instead of two round trips per job.
      preset: { worker: { localQueue: { size: this.config.worker.concurrency * 2 }, completeJobBatchDelay: 0 } },
      concurrency: this.config.worker.concurrency,
      noHandleSignals: true,
      pollInterval: 2000,
      taskList: {
        [DELIVER_TASK]: async (payload) => {
          const { deliveryId } = payload as { deliveryId: string };
          await this.webhooks.attempt(deliveryId);
        },
        [DISPATCH_TASK]: async (payload) => {
          const { deliveryIds } = payload as { deliveryIds: string[] };
          await this.webhooks.dispatch(deliveryIds);
        },
      },
    });
    const every = Math.max(500, (this.config.worker.heartbeatTimeout * 1000) / 5);
    await this.beat();
    this.timer = setInterval(() => void this.beat().catch((e) => this.log('worker heartbeat failed', e)), every);
    this.timer.unref();
  }

  /** Records this process's pools as alive, and frees the jobs of pools that stopped beating. */
  private async beat(): Promise<void> {
    const pool = this.pool;
    const ids = [...this.poolIds];
    if (ids.length) {
      await pool.query(
        `insert into worker_heartbeats (worker_id, last_seen) select id, now() from unnest($1::text[]) as id
         on conflict (worker_id) do update set last_seen = now()`,
        [ids],
      );
    }
    const { rows } = await pool.query<{ worker_id: string }>(
      `delete from worker_heartbeats where last_seen < now() - make_interval(secs => $1) and not (worker_id = any($2::text[])) returning worker_id`,
      [this.config.worker.heartbeatTimeout, ids],
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
