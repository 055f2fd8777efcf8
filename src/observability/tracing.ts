// OpenTelemetry traces, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set:
// a span per HTTP request (@fastify/otel, Fastify's official instrumentation, which also reads an incoming W3C
// `traceparent`), per GraphQL operation (graphql/transport.ts), per SQL statement (@opentelemetry/instrumentation-pg,
// only inside a request's or a job's trace, so that the worker's polling makes none), and per webhook attempt
// (webhooks/engine.ts), whose parent is the change that caused the event (carried in the event's row).
//
// Unset, nothing here runs: the code that makes spans calls @opentelemetry/api, whose default tracer does nothing.
// The exporters read the rest of the standard OTEL_* variables themselves (headers, timeouts, batch delays).
import { register } from 'node:module';
import type { Config } from '../config.js';

export interface Tracing {
  /** Exports what is buffered, then stops. */
  shutdown(): Promise<void>;
}

/**
 * Starts tracing when configured. Must run before anything imports pg or fastify (main.ts loads the rest of
 * Tessera after it): instrumentation patches a module as it is loaded, through Node's module hooks for ES modules
 * (import-in-the-middle) and require's for CommonJS.
 */
export async function startTracing(config: Config): Promise<Tracing | null> {
  if (!config.tracing) return null;
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const [{ NodeTracerProvider, BatchSpanProcessor }, { resourceFromAttributes }, { registerInstrumentations }, { PgInstrumentation }, { FastifyOtelInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/instrumentation-pg'),
    import('@fastify/otel'),
  ]);
  // http/protobuf is the specification's default; http/json for collectors (and tests) that read JSON.
  const { OTLPTraceExporter } =
    config.tracing.protocol === 'http/json' ? await import('@opentelemetry/exporter-trace-otlp-http') : await import('@opentelemetry/exporter-trace-otlp-proto');
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.tracing.serviceName, 'service.instance.role': config.role }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // The W3C trace context propagator and an AsyncLocalStorage context manager.
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      // MikroORM sends its statements with the values written into them: the recorded text keeps their shape only.
      new PgInstrumentation({ requireParentSpan: true, requestHook: (span, { query }) => void span.setAttribute('db.query.text', withoutLiterals(query.text)) }),
      // Spans for the request and its handler, not for every hook of every request.
      new FastifyOtelInstrumentation({ registerOnInitialization: true, instrumentHooks: false, ignorePaths: (route) => PROBES.has(route.url) }),
    ],
  });
  return { shutdown: () => provider.shutdown() };
}

/**
 * A statement with every literal replaced by `?`, as OpenTelemetry's database conventions ask of `db.query.text`
 * ("sanitized ... to exclude sensitive information"): quoted strings (with '' inside, and E'' strings with
 * backslash escapes) and numbers that are not part of a name. Identifiers ("quoted" or bare) and placeholders
 * ($1) stay. Tessera writes no dollar-quoted strings at run time (migrations only, which are not traced).
 */
export function withoutLiterals(sql: string): string {
  return sql.replace(/(?<!\w)[Ee]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|"(?:[^"]|"")*"|\$\d+|\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b/g, (token) =>
    token.startsWith('"') || token.startsWith('$') ? token : '?',
  );
}

/** A load balancer's and Prometheus's requests: no trace of their own. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);
