// An app's activity in pictures (README "Console"): its GraphQL calls and errors per hour with their mean latency, and
// its webhooks' delivery attempts per hour by outcome with their latency, over the last days. For the tenant admin at
// /console/apps/{client_id}/activity (linked from the app's page); the partner sees its own app's on its operations
// page (partner.ts). The numbers come from the REST API (GET /v1/platform/apps/{client_id}/activity/graphql and
// .../activity/webhooks), as any client would read them.
import type { FastifyInstance } from 'fastify';
import { problemOf, type ApiAnswer, type ConsoleApi } from '../api.js';
import { paramOf } from '../context.js';
import { esc, page, table, when } from '../html.js';
import { timeChart, hourLabel, type Bucket } from './charts.js';
import { enc, type AreaDeps } from './kit.js';

/** The windows a person may pick, in days. */
export const ACTIVITY_DAYS = [1, 7, 30] as const;
export const DEFAULT_ACTIVITY_DAYS = 7;

interface CallCounts {
  calls: number;
  errors: number;
  mean_latency_ms: number;
}

export interface GraphqlActivity extends CallCounts {
  client_id: string;
  since: string;
  until: string;
  hours: Array<CallCounts & { hour: string }>;
  operations: Array<CallCounts & { operation_id: string; operation_name: string }>;
}

export interface AttemptCounts {
  attempts: number;
  succeeded: number;
  failed: number;
  p50_latency_ms: number | null;
  p95_latency_ms: number | null;
  p99_latency_ms: number | null;
}

export interface AttemptWindow extends AttemptCounts {
  since: string;
  until: string;
  hours: Array<AttemptCounts & { hour: string }>;
}

export interface AppDeliveryActivity extends AttemptWindow {
  client_id: string;
  webhooks: Array<AttemptCounts & { id: string; url: string }>;
}

/** `?days=` as one of the offered windows, or the default. */
export function daysOf(query: unknown): number {
  const days = Number((query as Record<string, unknown> | undefined)?.days);
  return (ACTIVITY_DAYS as readonly number[]).includes(days) ? days : DEFAULT_ACTIVITY_DAYS;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const ms = (v: number | null) => (v === null ? '–' : String(v));

/** A GET form that picks the window, keeping the page's other parameters. */
export function daysPicker(action: string, days: number, keep: Record<string, string> = {}): string {
  const hidden = Object.entries(keep).map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('');
  return `<form method="get" action="${esc(action)}" class="row">${hidden}<label for="f-days">Window</label>
<select id="f-days" name="days">${ACTIVITY_DAYS.map((d) => `<option value="${d}"${d === days ? ' selected' : ''}>Last ${plural(d, 'day')}</option>`).join('')}</select>
<button type="submit" class="secondary">Show</button></form>`;
}

/** The GraphQL calls picture: answered calls and errors stacked per hour, the mean latency as a line. */
export function graphqlChart(id: string, activity: GraphqlActivity, days: number): string {
  const buckets: Bucket[] = activity.hours.map((h) => ({ start: Date.parse(h.hour), values: { ok: h.calls - h.errors, errors: h.errors }, line: h.calls ? h.mean_latency_ms : null }));
  const busiest = [...activity.hours].sort((a, b) => b.calls - a.calls)[0];
  return timeChart({
    id,
    title: `GraphQL calls per hour, last ${plural(days, 'day')}`,
    summary:
      `${plural(activity.calls, 'call')}, ${plural(activity.errors, 'error')}, mean latency ${activity.mean_latency_ms} ms, from ${hourLabel(Date.parse(activity.since))} UTC to now.` +
      (busiest ? ` The busiest hour was ${hourLabel(Date.parse(busiest.hour))} UTC with ${plural(busiest.calls, 'call')}.` : ' No calls in this window.'),
    since: Date.parse(activity.since),
    until: Date.parse(activity.until),
    series: [
      { key: 'ok', label: 'calls answered', className: 'bar-calls' },
      { key: 'errors', label: 'calls with errors', className: 'bar-bad' },
    ],
    buckets,
    line: { label: 'mean latency', unit: 'ms' },
    table: {
      caption: 'GraphQL calls per hour',
      headers: ['Hour (UTC)', 'Calls', 'Errors', 'Mean latency (ms)'],
      rows: activity.hours.map((h) => [esc(hourLabel(Date.parse(h.hour))), String(h.calls), String(h.errors), String(h.mean_latency_ms)]),
    },
  });
}

/** The delivery picture: succeeded and failed attempts stacked per hour, the 95th percentile latency as a line. */
export function deliveryChart(id: string, title: string, activity: AttemptWindow): string {
  const buckets: Bucket[] = activity.hours.map((h) => ({ start: Date.parse(h.hour), values: { ok: h.succeeded, failed: h.failed }, line: h.p95_latency_ms }));
  const rate = activity.attempts ? Math.round((activity.succeeded / activity.attempts) * 1000) / 10 : null;
  return timeChart({
    id,
    title,
    summary: activity.attempts
      ? `${plural(activity.attempts, 'attempt')}: ${activity.succeeded} succeeded and ${activity.failed} failed (${rate} % success), from ${hourLabel(Date.parse(activity.since))} UTC to now. ` +
        `Latency: median ${ms(activity.p50_latency_ms)} ms, 95th percentile ${ms(activity.p95_latency_ms)} ms, 99th percentile ${ms(activity.p99_latency_ms)} ms.`
      : `No delivery attempts from ${hourLabel(Date.parse(activity.since))} UTC to now.`,
    since: Date.parse(activity.since),
    until: Date.parse(activity.until),
    series: [
      { key: 'ok', label: 'succeeded', className: 'bar-ok' },
      { key: 'failed', label: 'failed', className: 'bar-bad' },
    ],
    buckets,
    line: { label: '95th percentile latency', unit: 'ms' },
    table: {
      caption: title,
      headers: ['Hour (UTC)', 'Attempts', 'Succeeded', 'Failed', 'p50 (ms)', 'p95 (ms)', 'p99 (ms)'],
      rows: activity.hours.map((h) => [esc(hourLabel(Date.parse(h.hour))), String(h.attempts), String(h.succeeded), String(h.failed), ms(h.p50_latency_ms), ms(h.p95_latency_ms), ms(h.p99_latency_ms)]),
    },
  });
}

/** A problem reading one part of the page, said where that part would be. */
function unavailable(what: string, answer: ApiAnswer): string {
  return `<p class="warning">${esc(what)} cannot be shown: ${esc(problemOf(answer))}</p>`;
}

/**
 * Both pictures of an app and their tables: its GraphQL calls (with the calls per operation) and its webhooks'
 * deliveries (with the attempts per subscription, each linked under `webhookBase`).
 */
export async function activitySections(api: ConsoleApi, clientId: string, days: number, webhookBase: string, level = 2): Promise<string> {
  const id = enc(clientId);
  const [graphql, deliveries] = await Promise.all([api.get(`/v1/platform/apps/${id}/activity/graphql?days=${days}`), api.get(`/v1/platform/apps/${id}/activity/webhooks?days=${days}`)]);
  let calls: string;
  if (graphql.status !== 200) calls = unavailable('GraphQL calls', graphql);
  else {
    const a = graphql.body as GraphqlActivity;
    calls = `${graphqlChart('chart-graphql', a, days)}
${table(
  'GraphQL calls per operation',
  ['Operation', 'Calls', 'Errors', 'Mean latency (ms)'],
  a.operations.map((o) => [`${esc(o.operation_name)}<br><code>${esc(o.operation_id)}</code>`, String(o.calls), String(o.errors), String(o.mean_latency_ms)]),
  'No operation was called in this window.',
)}`;
  }
  let hooks: string;
  if (deliveries.status !== 200) hooks = unavailable('Webhook deliveries', deliveries);
  else {
    const a = deliveries.body as AppDeliveryActivity;
    hooks = `${deliveryChart('chart-deliveries', `Webhook delivery attempts per hour, last ${plural(days, 'day')}`, a)}
${table(
  "Delivery attempts per subscription of the app",
  ['Subscription', 'Attempts', 'Succeeded', 'Failed', 'p50 (ms)', 'p95 (ms)'],
  a.webhooks.map((w) => [`<a href="${esc(`${webhookBase}/${enc(w.id)}`)}">${esc(w.url)}</a>`, String(w.attempts), String(w.succeeded), String(w.failed), ms(w.p50_latency_ms), ms(w.p95_latency_ms)]),
  'The app has no webhook subscriptions of its own.',
)}`;
  }
  const h = `h${level}`;
  return `<section aria-labelledby="graphql-activity"><${h} id="graphql-activity">GraphQL calls</${h}>${calls}</section>
<section aria-labelledby="delivery-activity"><${h} id="delivery-activity">Webhook deliveries</${h}>${hooks}</section>`;
}

export function registerActivityPages(app: FastifyInstance, { context }: AreaDeps): void {
  app.get(
    '/console/apps/:client_id/activity',
    { schema: { hide: true } },
    context.page(['admin'], async ({ request, reply, session, api }) => {
      const clientId = paramOf(request, 'client_id');
      const days = daysOf(request.query);
      const base = `/console/apps/${enc(clientId)}`;
      const found = await api.get(`/v1/platform/apps/${enc(clientId)}`);
      if (found.status !== 200) {
        return page(reply, { title: 'App not found', session, active: '/console/apps', status: found.status === 404 ? 404 : found.status, error: problemOf(found), body: '<p><a href="/console/apps">All apps</a></p>' });
      }
      const name = String(found.body.name ?? clientId);
      return page(reply, {
        title: `Activity of ${name}`,
        session,
        active: '/console/apps',
        body: `<p><a href="${esc(base)}">${esc(name)}</a></p>
<h1>Activity of ${esc(name)}</h1>
<p class="hint">Hours are UTC. Calls are counted by every server and written every few seconds; the last seconds may not be in yet. Status: ${esc(found.body.status ?? '')}${found.body.suspended_at ? `, suspended ${when(found.body.suspended_at)}` : ''}.</p>
${daysPicker(`${base}/activity`, days)}
${await activitySections(api, clientId, days, '/console/webhooks')}`,
      });
    }),
  );
}
