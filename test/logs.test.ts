// What an operator reads in the log: one line per request at info (probes only at debug), with the caller's
// tenant and client; a line for each failed webhook attempt, retry and disable, each signing key rotation and
// each client secret rotation, with their ids; and pino-pretty's human lines when asked for.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/observability/log.js';
import { gql, operationId, partner, publishShippedBundles, type Partner } from './helpers/graphql.js';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { loggedApp, logSink, type LoggedApp } from './helpers/logged-app.js';
import { until } from './helpers/poll.js';
import { Receiver } from './helpers/receiver.js';

const CREATE = `sha256:${operationId('incident-sync', 'CreateIncident')}`;

let h: Harness;
let app: LoggedApp;
let acme: TenantFixture;
let sync: Partner;
let receiver: Receiver;
const sink = logSink('info');

beforeAll(async () => {
  h = await startHarness(
    { WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8', WEBHOOK_HTTP_HOSTS: '127.0.0.1', WEBHOOK_RETRY_SCHEDULE: '60,60', WORKER_POLL_INTERVAL: '100' },
    { worker: true, logger: sink.logger },
  );
  acme = await h.tenant('acme');
  await publishShippedBundles(h);
  sync = await partner(h, acme, ['incident-read', 'incident-sync']);
  receiver = await new Receiver(h.clock).start();
  app = await loggedApp(h, sink);
});
afterAll(async () => {
  await receiver?.stop();
  await app?.close();
  await h?.close();
});

const lines = (match: Record<string, unknown>) => sink.logged.filter((line) => Object.entries(match).every(([k, v]) => line[k] === v));

describe('the log', () => {
  it('has one line per request at info, with the caller; probes are not logged at info', async () => {
    const res = await app.request({ method: 'GET', url: '/v1/platform/apps?limit=5', headers: { ...bearer(acme.adminToken), 'x-request-id': 'one-line-1' } });
    expect(res.statusCode).toBe(200);
    expect(lines({ reqId: 'one-line-1' })).toEqual([
      {
        level: 30,
        time: expect.any(Number),
        pid: process.pid,
        hostname: expect.any(String),
        reqId: 'one-line-1',
        tenant_id: acme.tenantId,
        client_id: 'tessera-cli',
        method: 'GET',
        route: '/v1/platform/apps',
        path: '/v1/platform/apps',
        status: 200,
        ms: expect.any(Number),
        msg: 'request',
      },
    ]);

    const gqlRes = await gql({ request: app.request } as Harness, sync, acme.tenantId, { documentId: CREATE, variables: { input: { title: 'Logged', severity: 'SEV3' } } }, { 'x-request-id': 'one-line-2' });
    expect(gqlRes.statusCode).toBe(200);
    expect(lines({ reqId: 'one-line-2' })).toEqual([expect.objectContaining({ msg: 'request', route: '/graphql', status: 200, tenant_id: acme.tenantId, client_id: sync.clientId })]);

    for (const url of ['/healthz', '/readyz']) {
      expect((await app.request({ method: 'GET', url, headers: { 'x-request-id': `probe${url}` } })).statusCode).toBe(200);
      expect(lines({ reqId: `probe${url}` })).toEqual([]);
    }
    expect(sink.logged.filter((line) => line.msg === 'incoming request' || line.msg === 'request completed')).toEqual([]);
  });

  it('tells of a failed webhook attempt, its retry, a failure for good and the disable, with their ids', async () => {
    const webhook = (await app.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(acme.adminToken), payload: { url: `${receiver.url}/logs`, events: ['incident.created'] } })).json();
    receiver.respond = () => ({ status: 500, body: 'down for maintenance' });
    const created = await gql(h, sync, acme.tenantId, { documentId: CREATE, variables: { input: { title: 'Retried', severity: 'SEV3' } } });
    const eventId = created.json().data.createIncident.incident.id as string;
    const retry = await until(() => lines({ msg: 'webhook attempt failed; will retry', webhook_id: webhook.id }), (found) => found.length === 1, { timeoutMs: 5000 });
    expect(retry).toEqual([
      expect.objectContaining({
        level: 30,
        tenant_id: acme.tenantId,
        webhook_id: webhook.id,
        delivery_id: expect.stringMatching(/^dlv_/),
        event_id: expect.stringMatching(/^evt_/),
        attempt: 1,
        response_status: 500,
        error: 'the endpoint answered 500',
        latency_ms: expect.any(Number),
        next_attempt_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      }),
    ]);
    expect(eventId).toMatch(/^inc_/);

    // The endpoint is gone: the retry fails for good and the subscription is disabled.
    receiver.respond = () => ({ status: 410 });
    await h.clock.advance(61_000);
    const gone = await until(() => lines({ webhook_id: webhook.id }).filter((line) => (line.level as number) === 40), (found) => found.length === 2, { timeoutMs: 5000 });
    expect(gone).toEqual([
      expect.objectContaining({ msg: 'webhook delivery failed for good', tenant_id: acme.tenantId, delivery_id: retry[0]!.delivery_id, attempt: 2, response_status: 410, error: 'the endpoint answered 410' }),
      expect.objectContaining({ msg: 'webhook subscription disabled', tenant_id: acme.tenantId, reason: 'the endpoint answered 410 Gone' }),
    ]);
  });

  it('tells of a signing key rotation and a client secret rotation', async () => {
    const rotated = await h.runtime.keyring.rotate('operator');
    expect(lines({ msg: 'signing key rotated' })).toEqual([expect.objectContaining({ level: 30, kid: rotated!.activated, retired_kid: rotated!.retired, next_kid: rotated!.next, actor: 'operator' })]);

    const res = await app.request({ method: 'POST', url: `/v1/platform/apps/${sync.clientId}/rotate-secret`, headers: bearer(acme.adminToken), payload: { grace_period_seconds: 60 } });
    expect(res.statusCode).toBe(200);
    expect(lines({ msg: 'client secret rotated' })).toEqual([
      expect.objectContaining({ level: 30, tenant_id: acme.tenantId, client_id: sync.clientId, grace_period_seconds: 60, previous_valid_until: expect.stringMatching(new RegExp(`^${res.json().previous_secret_expires_at.slice(0, 19)}`)) }),
    ]);
    // The new secret itself is never logged.
    expect(JSON.stringify(sink.logged)).not.toContain(res.json().client_secret);
  });

  it('is human when asked for (LOG_FORMAT=pretty, or auto at a terminal), JSON lines otherwise', () => {
    const written: string[] = [];
    const out = new Writable({ write: (chunk, _encoding, done) => (written.push(String(chunk)), done()) });
    createLogger({ logLevel: 'info', logFormat: 'pretty' }, out).info({ webhook_id: 'wh_1' }, 'webhook subscription disabled');
    const text = written.join('');
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: webhook subscription disabled\n\s+webhook_id: "wh_1"\n$/);
  });
});
