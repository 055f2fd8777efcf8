// One LISTEN connection per process (PostgreSQL NOTIFY): how a change made by any process (a key
// rotation, a revocation) reaches every other process at once, without polling the database per request.
import pg from 'pg';
import type { Logger } from '../observability/log.js';

type Handler = (payload: string) => void;

export class Notifications {
  private client?: pg.Client;
  /** LISTEN statements run one after another (pg clients must not run queries concurrently). */
  private listening: Promise<unknown> = Promise.resolve();
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly reconnectHandlers = new Set<() => void>();
  private closed = false;
  private retryTimer?: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
  ) {}

  on(channel: string, handler: Handler): void {
    if (!/^[a-z_]+$/.test(channel)) throw new Error(`bad channel name ${channel}`);
    const set = this.handlers.get(channel) ?? new Set();
    const isNewChannel = set.size === 0;
    set.add(handler);
    this.handlers.set(channel, set);
    const client = this.client;
    if (isNewChannel && client) {
      this.listening = this.listening.then(() => client.query(`listen ${channel}`)).catch((error) => this.logger.warn({ err: error, channel }, 'LISTEN failed'));
    }
  }

  /** Called after a lost connection comes back: notifications sent meanwhile are lost, so reload state. */
  onReconnect(handler: () => void): void {
    this.reconnectHandlers.add(handler);
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (message) => {
      for (const handler of this.handlers.get(message.channel) ?? []) handler(message.payload ?? '');
    });
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'notification connection failed');
      this.scheduleReconnect(client);
    });
    client.on('end', () => this.scheduleReconnect(client));
    await client.connect();
    for (const channel of this.handlers.keys()) await client.query(`listen ${channel}`);
    this.client = client;
  }

  private scheduleReconnect(failed: pg.Client): void {
    if (this.closed || this.client !== failed || this.retryTimer) return;
    this.client = undefined;
    failed.end().catch(() => undefined);
    this.retryTimer = setTimeout(async () => {
      this.retryTimer = undefined;
      try {
        await this.connect();
        for (const handler of this.reconnectHandlers) handler();
      } catch (error) {
        this.logger.warn({ err: error }, 'notification reconnect failed; retrying');
        this.client = failed; // let scheduleReconnect accept the retry
        this.scheduleReconnect(failed);
      }
    }, 1000);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.client?.end().catch(() => undefined);
  }
}
