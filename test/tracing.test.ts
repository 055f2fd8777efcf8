// OpenTelemetry traces from a real Tessera process (`npm start` with OTEL_EXPORTER_OTLP_ENDPOINT) to a real OTLP/HTTP
// receiver on 127.0.0.1 that decodes what arrives: a mutation sent with a W3C traceparent is a trace of its request
// span (a child of the caller's), its GraphQL operation span, its SQL statements, and the webhook attempt the change
// caused, whose traceparent the receiver gets too. Without the variable, nothing is exported at all.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { runCliInProcess } from './helpers/cli.js';
import { createTestDatabase } from './helpers/databases.js';
import { operationId } from './helpers/graphql.js';
import { OtlpReceiver, type ReceivedSpan } from './helpers/otlp.js';
import { startServer, stopProcess, testServerEnv, type TesseraServer } from './helpers/processes.js';
import { Receiver } from './helpers/receiver.js';

const CREATE = `sha256:${operationId('incident-sync', 'CreateIncident')}`;
const STARTUP_MS = 60_000;
/** The title of the traced incident: a value, which no span may record. */
const TITLE = `Traced incident ${randomBytes(4).toString('hex')}`;

let database: { url: string; drop(): Promise<void> };
let otlp: OtlpReceiver;
let receiver: Receiver;
let env: NodeJS.ProcessEnv;
const servers: TesseraServer[] = [];

async function cli(args: string[]): Promise<Record<string, unknown>> {
  const result = await runCliInProcess([...args, '--json'], env);
  if (result.code !== 0) throw new Error(`cli ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

async function json(server: TesseraServer, method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** A partner of a new tenant holding incident-sync, with a token, and a webhook of the tenant's to the receiver. */
async function partnerOf(server: TesseraServer, slug: string) {
  const tenant = await cli(['bootstrap', '--tenant', slug, '--name', slug, '--admin-email', `admin@${slug}.test`]);
  const admin = tenant.admin_access_token as string;
  const app = await json(server, 'POST', '/v1/platform/apps', admin, { name: 'Traced', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read', 'incidents:write'] });
  expect(app.status).toBe(201);
  await cli(['operations', 'assign', 'incident-sync', app.body.client_id]);
  const token = await fetch(`${server.url}/v1/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${app.body.client_id}:${app.body.client_secret}`).toString('base64')}` },
    body: 'grant_type=client_credentials&scope=incidents:write',
  });
  expect(token.status).toBe(200);
  const webhook = await json(server, 'POST', '/v1/webhooks', admin, { url: `${receiver.url}/${slug}`, events: ['incident.created'] });
  expect(webhook.status).toBe(201);
  return { tenantId: tenant.tenant_id as string, clientId: app.body.client_id as string, token: ((await token.json()) as { access_token: string }).access_token, webhookId: webhook.body.id as string };
}

beforeAll(async () => {
  database = await createTestDatabase(inject('serverUrl'), inject('templateDatabase'));
  otlp = await new OtlpReceiver().start();
  receiver = await new Receiver().start();
  env = testServerEnv(database.url, {
    ROLE: 'all',
    WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8',
    WEBHOOK_HTTP_HOSTS: '127.0.0.1',
    WORKER_POLL_INTERVAL: '100',
    OTEL_SERVICE_NAME: 'tessera-under-test',
    // The batch span processor's delay (the SDK's own variable): spans reach the receiver within a few hundred ms.
    OTEL_BSP_SCHEDULE_DELAY: '100',
  });
  await cli(['operations', 'publish']);
}, STARTUP_MS);

afterAll(async () => {
  await Promise.all(servers.map((s) => stopProcess(s)));
  await receiver?.stop();
  await otlp?.stop();
  await database?.drop();
});

function ancestors(spans: ReceivedSpan[], span: ReceivedSpan): ReceivedSpan[] {
  const chain: ReceivedSpan[] = [];
  for (let at = span; at.parentSpanId; ) {
    const parent = spans.find((s) => s.spanId === at.parentSpanId && s.traceId === at.traceId);
    if (!parent) break;
    chain.push(parent);
    at = parent;
  }
  return chain;
}

describe('traces over OTLP/HTTP', () => {
  it('follow a mutation from its caller through its request, operation and SQL to the delivery it caused', async () => {
    const server = await startServer({ ...env, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, { timeoutMs: STARTUP_MS });
    servers.push(server);
    const partner = await partnerOf(server, 'traced');
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');

    const res = await json(server, 'POST', '/graphql', partner.token, { documentId: CREATE, variables: { input: { title: TITLE, severity: 'SEV2' } } }, { 'x-tenant-id': partner.tenantId, traceparent: `00-${traceId}-${callerSpanId}-01` });
    expect(res.status).toBe(200);
    const delivered = await receiver.waitFor(1, (r) => r.path === '/traced');

    const inTrace = () => otlp.spans.filter((s) => s.traceId === traceId);
    const attempt = await otlp.waitFor((spans) => spans.find((s) => s.traceId === traceId && s.name === 'webhook attempt'));
    const operation = inTrace().find((s) => s.name === 'mutation CreateIncident')!;
    const request = inTrace().find((s) => s.parentSpanId === callerSpanId)!;

    // The request's span continues the caller's trace; every span is Tessera's, as OTEL_SERVICE_NAME names it.
    expect(request).toMatchObject({ kind: 2, scope: '@fastify/otel' });
    expect(new Set(inTrace().map((s) => s.resource['service.name']))).toEqual(new Set(['tessera-under-test']));
    // The operation: inside the request, named as OpenTelemetry's GraphQL conventions say, with its caller.
    expect(operation.attributes).toEqual({
      'graphql.operation.name': 'CreateIncident',
      'graphql.operation.type': 'mutation',
      'graphql.document.id': CREATE,
      'tessera.client_id': partner.clientId,
      'tessera.tenant_id': partner.tenantId,
    });
    expect(ancestors(inTrace(), operation)).toContain(request);
    // Its SQL: the incident, its event and deliveries written in one statement, a child of the operation.
    const sql = inTrace().filter((s) => s.scope === '@opentelemetry/instrumentation-pg' && ancestors(inTrace(), s).includes(operation));
    expect(sql.some((s) => String(s.attributes['db.statement'] ?? s.attributes['db.query.text']).includes('insert into domain_events'))).toBe(true);
    // The attempt, made by the worker later: in the same trace, under the operation that caused the event.
    expect(attempt).toMatchObject({ kind: 3, attributes: expect.objectContaining({ 'tessera.webhook_id': partner.webhookId, 'tessera.tenant_id': partner.tenantId, 'http.response.status_code': 204 }) });
    expect(ancestors(inTrace(), attempt)).toContain(operation);
    // The receiver is told the attempt's trace context, as W3C traceparent.
    expect(delivered[0]!.headers.traceparent).toBe(`00-${traceId}-${attempt.spanId}-01`);
    // Variables are data: the title is in no span.
    expect(JSON.stringify(otlp.spans)).not.toContain(TITLE);
    // Probes make no traces.
    await fetch(`${server.url}/readyz`);
    await fetch(`${server.url}/healthz`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await stopProcess(server);
    expect(otlp.spans.filter((s) => String(s.attributes['url.path'] ?? s.attributes['http.route'] ?? '').match(/^\/(readyz|healthz)$/))).toEqual([]);
  }, 2 * STARTUP_MS);

  it('are sent as protobuf by default, and not at all without an endpoint', async () => {
    const protobuf = await startServer({ ...env, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url }, { timeoutMs: STARTUP_MS });
    servers.push(protobuf);
    const traceId = randomBytes(16).toString('hex');
    expect((await fetch(`${protobuf.url}/v1/platform/scopes`, { headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } })).status).toBe(401);
    // A protobuf ExportTraceServiceRequest carries the trace id as its 16 raw bytes.
    const sent = await otlp.waitFor((_spans) => otlp.protobuf.find((request) => request.body.includes(Buffer.from(traceId, 'hex'))));
    expect(sent.contentType).toBe('application/x-protobuf');
    await stopProcess(protobuf);

    const before = { json: otlp.spans.length, protobuf: otlp.protobuf.length };
    const untraced = await startServer(env, { timeoutMs: STARTUP_MS });
    servers.push(untraced);
    expect((await fetch(`${untraced.url}/v1/platform/scopes`, { headers: { traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01` } })).status).toBe(401);
    await stopProcess(untraced);
    expect({ json: otlp.spans.length, protobuf: otlp.protobuf.length }).toEqual(before);
  }, 3 * STARTUP_MS);
});
