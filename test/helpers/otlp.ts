// An OTLP/HTTP trace receiver on 127.0.0.1, as a collector would be: POST /v1/traces, decoded per the OTLP
// specification's JSON encoding (ids as hex, attributes as typed AnyValues) into flat spans a test can follow.
// Protobuf requests are kept whole (their content type and bytes), for a test that only checks they arrive.
import { createServer, type Server } from 'node:http';
import { until } from './poll.js';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** The resource's attributes (service.name ...). */
  resource: Record<string, string | number | boolean>;
  scope: string;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: number;
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type KeyValue = { key: string; value: AnyValue };

function flatten(attributes: KeyValue[] = []): Record<string, string | number | boolean> {
  return Object.fromEntries(
    attributes.map(({ key, value }) => [key, value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.boolValue ?? value.doubleValue ?? '']),
  );
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly protobuf: Array<{ contentType: string; body: Buffer }> = [];
  private server?: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        const body = Buffer.concat(chunks);
        const type = req.headers['content-type'] ?? '';
        if (type.startsWith('application/x-protobuf')) {
          this.protobuf.push({ contentType: type, body });
          res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
          return;
        }
        this.decode(JSON.parse(body.toString('utf8')));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  private decode(request: { resourceSpans?: Array<{ resource?: { attributes?: KeyValue[] }; scopeSpans?: Array<{ scope?: { name?: string }; spans?: Array<Record<string, unknown>> }> }> }): void {
    for (const resourceSpans of request.resourceSpans ?? []) {
      const resource = flatten(resourceSpans.resource?.attributes);
      for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
        for (const span of scopeSpans.spans ?? []) {
          this.spans.push({
            traceId: String(span.traceId),
            spanId: String(span.spanId),
            parentSpanId: String(span.parentSpanId ?? ''),
            name: String(span.name),
            kind: Number(span.kind ?? 0),
            attributes: flatten(span.attributes as KeyValue[]),
            resource,
            scope: scopeSpans.scope?.name ?? '',
            status: Number((span.status as { code?: number } | undefined)?.code ?? 0),
          });
        }
      }
    }
  }

  /** Waits until `find` finds something among the spans received. */
  async waitFor<T>(find: (spans: ReceivedSpan[]) => T | undefined, timeoutMs = 15_000): Promise<T> {
    const found = await until(() => find(this.spans), (value) => value !== undefined, { timeoutMs, intervalMs: 50 });
    if (found === undefined) throw new Error(`not received within ${timeoutMs} ms; received: ${this.spans.map((s) => s.name).join(', ')}`);
    return found;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
