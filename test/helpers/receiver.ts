// A real HTTP receiver on 127.0.0.1 for webhook deliveries, answering what each test tells it to, and noting when
// each request arrived by the clock Tessera runs on (so that a test that moves time sees the gaps it made).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Clock } from '../../src/clock.js';
import { until } from './poll.js';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** When it arrived, in the clock's milliseconds. */
  at: number;
}

/** `after`: answer only once it settles (a gate the test opens), then after `delayMs` if both are given. */
export type Responder = (request: Received) => { status: number; body?: string; headers?: Record<string, string>; delayMs?: number; after?: Promise<unknown> };

export class Receiver {
  readonly received: Received[] = [];
  private server?: Server;
  respond: Responder = () => ({ status: 204 });
  url = '';

  constructor(private readonly clock: Clock = { now: () => Date.now() }) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const request = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: this.clock.now() };
        this.received.push(request);
        const answer = this.respond(request);
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(answer.status, answer.headers ?? {});
          res.end(answer.body ?? '');
        };
        const delayed = () => (answer.delayMs ? void setTimeout(send, answer.delayMs) : send());
        if (answer.after) answer.after.then(delayed, delayed);
        else delayed();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    const { port } = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  /** Waits until `count` requests (optionally matching) have arrived. */
  async waitFor(count: number, match: (r: Received) => boolean = () => true, timeoutMs = 10_000): Promise<Received[]> {
    const hits = await until(() => this.received.filter(match), (found) => found.length >= count, { timeoutMs, intervalMs: 20 });
    if (hits.length < count) throw new Error(`expected ${count} deliveries, got ${hits.length}`);
    return hits;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
