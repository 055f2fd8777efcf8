// The webhook fan-out scenario: N incident updates, each fanned out to S subscriptions, delivered to a
// local receiver. Prints deliveries/s and the event-to-delivery latency (p50, p99), measured from the
// incident's `updated_at` in the payload (set inside the change's transaction, just before its commit)
// to the receiver's arrival time, on the same machine clock.
//
// The load is open: updates are sent on a fixed schedule that offers `rate` deliveries per second (rate / S
// updates per second), whether or not earlier ones have been delivered, the way changes arrive in
// production. A closed loop (each lane sends its next update when the last one returns) would measure
// queueing behind a backlog it builds itself, not the delay a subscriber sees at a given sustained rate.
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

export interface FanoutContext {
  tesseraUrl: string;
  /** A token with incidents:read, incidents:write and webhooks:write, of the tenant below. */
  token: string;
  tenantId: string;
  /** documentId values of the shipped CreateIncident and UpdateIncident operations. */
  createIncident: string;
  updateIncident: string;
}

export interface FanoutOptions {
  updates: number;
  subscriptions: number;
  /** Incidents updated in turn; an update waits for a lane whose previous update has returned. */
  concurrency: number;
  /** Deliveries per second offered: updates are sent every subscriptions / rate seconds. */
  rate: number;
  /**
   * Seconds of the same load before the measured run, not counted: the processes start cold (V8 compiles the
   * hot paths, pools open their connections, PostgreSQL backends fill their caches), and the target is a
   * sustained rate. The warm-up's own latencies are reported beside the run's.
   */
  warmup: number;
  timeoutMs: number;
}

export interface FanoutResult {
  deliveries: number;
  expected: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  /** Updates per second actually sent (below rate / subscriptions when the API could not keep up). */
  updatesPerSecond: number;
  /** Response time of the UpdateIncident mutations of the measured run (ms). */
  updateP50: number;
  updateP99: number;
  /** Event-to-delivery latency during the warm-up, from cold processes (not part of the measured run). */
  warmupP50: number;
  warmupP99: number;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * A mutation, through undici's request (keep-alive, no WHATWG streams): this process also receives every
 * delivery, on the same two cores as the processes measured, so the client is kept light.
 */
async function post(ctx: FanoutContext, path: string, body: unknown): Promise<Record<string, any>> {
  const res = await request(new URL(path, ctx.tesseraUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${ctx.token}`, 'x-tenant-id': ctx.tenantId, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.body.json()) as Record<string, any>;
  if (res.statusCode !== 200 || json.errors) throw new Error(`${path} answered ${res.statusCode}: ${JSON.stringify(json).slice(0, 300)}`);
  return json;
}

export async function runFanout(ctx: FanoutContext, options: FanoutOptions): Promise<FanoutResult> {
  const latencies: number[] = [];
  const warmupLatencies: number[] = [];
  let firstArrival = 0;
  let lastArrival = 0;
  const receiver: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const now = Date.now();
      res.writeHead(204).end();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; data: { incident?: { updated_at: string; summary: string } } };
      if (body.type !== 'incident.updated' || !body.data.incident) return;
      const latency = now - Date.parse(body.data.incident.updated_at);
      if (body.data.incident.summary.startsWith('warmup')) return void warmupLatencies.push(latency);
      latencies.push(latency);
      firstArrival ||= now;
      lastArrival = now;
    });
  });
  receiver.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  const webhookIds: string[] = [];
  try {
    for (let i = 0; i < options.subscriptions; i++) {
      const created = await fetch(new URL('/v1/webhooks', ctx.tesseraUrl), {
        method: 'POST',
        headers: { authorization: `Bearer ${ctx.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: `${receiverUrl}/hook/${i}`, events: ['incident.updated'] }),
      });
      if (created.status !== 201) throw new Error(`creating a subscription answered ${created.status}: ${await created.text()}`);
      webhookIds.push(((await created.json()) as { id: string }).id);
    }
    const incidents: string[] = [];
    for (let i = 0; i < options.concurrency; i++) {
      const json = await post(ctx, '/graphql', { documentId: ctx.createIncident, variables: { input: { title: `Fan-out ${i}`, severity: 'SEV3' } } });
      incidents.push(json.data.createIncident.incident.id);
    }

    const interval = (1000 * options.subscriptions) / options.rate;
    const free = [...incidents];
    const waiting: Array<(id: string) => void> = [];
    const release = (id: string) => (waiting.length ? waiting.shift()!(id) : free.push(id));
    const lane = () => (free.length ? Promise.resolve(free.shift()!) : new Promise<string>((resolve) => waiting.push(resolve)));
    /** `count` updates on the open schedule; resolves when every update has been answered. */
    const updateTimes: number[] = [];
    const sendUpdates = async (count: number, label: string) => {
      const started = Date.now();
      const inFlight: Array<Promise<unknown>> = [];
      for (let n = 0; n < count; n++) {
        const due = started + n * interval;
        if (due > Date.now()) await sleep(due - Date.now());
        const id = await lane();
        const sentAt = performance.now();
        inFlight.push(
          post(ctx, '/graphql', { documentId: ctx.updateIncident, variables: { id, input: { summary: `${label} ${n}` } } }).finally(() => {
            updateTimes.push(performance.now() - sentAt);
            release(id);
          }),
        );
      }
      await Promise.all(inFlight);
    };

    const warmupUpdates = Math.round((options.warmup * options.rate) / options.subscriptions);
    if (warmupUpdates > 0) {
      await sendUpdates(warmupUpdates, 'warmup');
      const until = Date.now() + options.timeoutMs;
      while (warmupLatencies.length < warmupUpdates * options.subscriptions && Date.now() < until) await sleep(20);
    }

    const expected = options.updates * options.subscriptions;
    updateTimes.length = 0;
    const started = Date.now();
    await sendUpdates(options.updates, 'update');
    const sent = (Date.now() - started) / 1000;
    const deadline = Date.now() + options.timeoutMs;
    while (latencies.length < expected && Date.now() < deadline) await sleep(20);
    const seconds = ((lastArrival || Date.now()) - started) / 1000;
    const sorted = [...latencies].sort((a, b) => a - b);
    const updateSorted = [...updateTimes].sort((a, b) => a - b);
    const warmupSorted = [...warmupLatencies].sort((a, b) => a - b);
    return {
      deliveries: latencies.length,
      expected,
      seconds,
      perSecond: latencies.length / seconds,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? NaN,
      updatesPerSecond: options.updates / sent,
      updateP50: percentile(updateSorted, 50),
      updateP99: percentile(updateSorted, 99),
      warmupP50: percentile(warmupSorted, 50),
      warmupP99: percentile(warmupSorted, 99),
    };
  } finally {
    // Later scenarios must not pay for this one's subscriptions.
    for (const id of webhookIds) {
      await fetch(new URL(`/v1/webhooks/${id}`, ctx.tesseraUrl), { method: 'DELETE', headers: { authorization: `Bearer ${ctx.token}` } }).catch(() => undefined);
    }
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  }
}
