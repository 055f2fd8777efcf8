// What every request leaves behind, written when its response is sent, in one hook:
// - one log line: method, route pattern, path, status and time, with the request id and, once known, the caller's
//   tenant and client (log.ts noteCaller). Fastify's own two lines per request are off (app.ts). Probes, which a
//   load balancer or Prometheus sends every few seconds, are logged at debug;
// - `tessera_http_request_duration_seconds{route, method, status_class}`: the route's pattern, never its URL, so
//   that the labels stay few; a request no route matched counts under `unmatched`.
import type { FastifyInstance } from 'fastify';
import { Histogram, type Registry } from 'prom-client';

const PROBES = new Set(['/healthz', '/readyz', '/metrics']);
const HTTP_DURATION = 'tessera_http_request_duration_seconds';

export function registerRequestObservers(app: FastifyInstance, registry: Registry): void {
  // One histogram per runtime, whichever of its apps (tests build several over one runtime) counts the request.
  const duration = (registry.getSingleMetric(HTTP_DURATION) as Histogram<'route' | 'method' | 'status_class'> | undefined) ?? new Histogram({
    name: HTTP_DURATION,
    help: 'HTTP requests by route pattern, method and status class (2xx, 4xx, ...), and how long they took',
    labelNames: ['route', 'method', 'status_class'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // Callback style, not async: a hook on every response should not cost a promise each.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    const ms = reply.elapsedTime;
    duration.observe({ route: route ?? 'unmatched', method: request.method, status_class: `${Math.floor(reply.statusCode / 100)}xx` }, ms / 1000);
    const query = request.url.indexOf('?');
    const line = {
      method: request.method,
      route: route ?? null,
      // Without the query string, which may carry what a log should not (a GraphQL query's variables).
      path: query === -1 ? request.url : request.url.slice(0, query),
      status: reply.statusCode,
      ms: Math.round(ms * 10) / 10,
    };
    if (route && PROBES.has(route)) request.log.debug(line, 'request');
    else request.log.info(line, 'request');
    done();
  });
}
