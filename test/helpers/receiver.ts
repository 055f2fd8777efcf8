// A real HTTP receiver on 127.0.0.1 for webhook deliveries, answering what each test tells it to.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export type Responder = (request: Received) => { status: number; body?: string; headers?: Record<string, string>; delayMs?: number };

export class Receiver {
  readonly received: Received[] = [];
  private server?: Server;
  respond: Responder = () => ({ status: 204 });
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const request = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        this.received.push(request);
        const answer = this.respond(request);
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(answer.status, answer.headers ?? {});
          res.end(answer.body ?? '');
        };
        if (answer.delayMs) setTimeout(send, answer.delayMs);
        else send();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    const { port } = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  /** Waits until `count` requests (optionally matching) have arrived. */
  async waitFor(count: number, match: (r: Received) => boolean = () => true, timeoutMs = 10_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hits = this.received.filter(match);
      if (hits.length >= count) return hits;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`expected ${count} deliveries, got ${this.received.filter(match).length}`);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
