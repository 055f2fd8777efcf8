// Webhooks in the console (README "Console"), for the tenant admin (/console/webhooks: the tenant's subscriptions) and
// for a partner (/console/partner/webhooks: its app's own), through REST /v1/webhooks as the signed-in person:
// - the list (paginated) with each subscription's state (enabled, disabled and why, held while its app is suspended)
//   and rate limit; a new subscription (url, events from the event catalog with their descriptions, an optional
//   secret, a rate limit), whose generated secret is shown once, in the answer to its creation;
// - a subscription: edit, enable or disable, delete (after a confirmation page), send a test, its delivery success
//   per hour (a picture), its deliveries (filtered by status, paginated), a delivery's attempts with the request
//   payload and each response, redeliver, and recover since a time with the recovery's progress.
// Every change is a POST (with the session's CSRF token) answered by a redirect to a page that says what was done, in
// a sentence of the table below (the URL names it; a detail such as a count is the page's own, from what it reads).
// The answer that shows a generated secret is guarded like every such answer of the console (kit.ts): its reload
// makes no second webhook and shows no secret.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { problemOf, type ApiAnswer, type ConsoleApi } from '../api.js';
import { all, one, paramOf, queryOf, type ActionContext, type Form, type PageContext } from '../context.js';
import { actionButton, badge, codeList, csrfField, esc, field, page, pager, queryString, secretOnce, selectField, table, when } from '../html.js';
import type { ConsoleSession, SessionKind } from '../session.js';
import { deliveryChart, type AttemptWindow } from './activity.js';
import { confirmation, enc, errorsOf, firstUse, noticeBook, numberOrText, onceField, stateBadge, usedTwice, type AreaDeps } from './kit.js';

interface WebhookView {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  rate_limit: number | null;
  held_since: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

interface DeliveryView {
  id: string;
  event_id: string;
  event_type: string;
  status: string;
  attempts: number;
  attempted_at: string | null;
  response_status: number | null;
  latency_ms: number | null;
  next_attempt_at: string | null;
  error: string | null;
}

interface AttemptView {
  number: number;
  attempted_at: string;
  response_status: number | null;
  latency_ms: number;
  error: string | null;
  response_snippet: string | null;
}

interface EventType {
  type: string;
  description: string;
  scope: string;
}

/** One of the two places webhooks are managed from. */
interface Area {
  base: string;
  kinds: SessionKind[];
  /** What the list is, in a sentence. */
  intro: string;
}

const AREAS: Area[] = [
  { base: '/console/webhooks', kinds: ['admin'], intro: "The tenant's webhook subscriptions: the admins' own and every app's." },
  { base: '/console/partner/webhooks', kinds: ['partner'], intro: "Your app's own webhook subscriptions." },
];

export const DELIVERY_STATUSES = ['queued', 'retrying', 'succeeded', 'failed', 'held'] as const;
/** The days the subscription's picture covers. */
const TIMELINE_DAYS = 7;
/** The fields of the subscription form, where the API's refusals are shown. */
const FORM_FIELDS = ['url', 'events', 'secret', 'rate_limit'];

/** What a webhook page says after a change. */
const notices = noticeBook({
  'webhook-created': 'The webhook was created.',
  saved: 'Saved.',
  'saved-new-secret': 'Saved. The new secret signs now; the previous one keeps signing beside it for 24 hours.',
  enabled: 'The webhook is enabled.',
  disabled: 'The webhook is disabled: nothing is delivered to it until it is enabled again.',
  'test-queued': 'A test delivery was queued. Reload to see it arrive.',
  'webhook-deleted': 'The webhook was deleted.',
  'recovery-started': 'Recovery started: the deliveries counted below are sent again, once each.',
  'recovery-started-more':
    'Recovery started: the deliveries counted below are sent again, once each. More matched than one request resends: recover the same window again for the rest.',
  redelivered: 'Queued again: a new attempt, with the same webhook-id.',
});

function subscriptionBadges(w: WebhookView): string {
  const state = w.enabled ? badge('enabled', 'ok') : `${badge('disabled', 'bad')}${w.disabled_reason ? ` <span class="hint">${esc(w.disabled_reason)}</span>` : ''}`;
  return w.held_since ? `${state} ${badge('held', 'warn')}` : state;
}

const rateLimitText = (w: WebhookView) => (w.rate_limit === null ? 'no limit' : `${w.rate_limit} a second`);

/** The event types as checkboxes, each with its description. */
function eventChoices(types: EventType[], checked: string[], error?: string | null): string {
  return `<fieldset class="checks event-choices"${error ? ' aria-describedby="f-events-error"' : ''}><legend>Events</legend>${types
    .map(
      (t, i) =>
        `<div class="event-choice"><input type="checkbox" id="f-events-${i}" name="events" value="${esc(t.type)}" aria-describedby="f-events-${i}-hint"${checked.includes(t.type) ? ' checked' : ''}> <label for="f-events-${i}">${esc(t.type)}</label><p class="hint" id="f-events-${i}-hint">${esc(t.description)}</p></div>`,
    )
    .join('')}${error ? `<p class="field-error" id="f-events-error">${esc(error)}</p>` : ''}</fieldset>`;
}

/** The event types this session may subscribe to (a partner: those its app's scopes allow). */
async function eventTypes(api: ConsoleApi, session: ConsoleSession): Promise<EventType[]> {
  const answer = await api.get('/v1/webhooks/event-types');
  if (answer.status !== 200) return [];
  const types = answer.body.event_types as EventType[];
  const admin = session.scopes.includes('platform:admin') || session.kind === 'admin';
  return types.filter((t) => admin || session.scopes.includes(t.scope));
}

/** `datetime-local` (UTC, as the console shows every time) to ISO 8601; anything else as typed, for the API to refuse. */
export function instantOf(text: string | undefined): string | undefined {
  const trimmed = (text ?? '').trim();
  if (!trimmed) return undefined;
  const local = /^(\d{4}-\d\d-\d\dT\d\d:\d\d)(:\d\d)?$/.exec(trimmed);
  return local ? `${local[1]}${local[2] ?? ':00'}Z` : trimmed;
}

/** An ISO time as a `datetime-local` value (UTC). */
const localOf = (iso: string) => iso.replace(/(:\d\d)?(\.\d+)?Z$/, '').slice(0, 16);

/** The page that says a REST call was refused (not found, not allowed). */
function refused(context: PageContext, area: Area, answer: ApiAnswer, title = 'Webhook not found'): FastifyReply {
  const status = [403, 404, 409].includes(answer.status) ? answer.status : 400;
  return page(context.reply, {
    title: answer.status === 404 ? title : 'Not possible',
    session: context.session,
    active: area.base,
    status,
    error: problemOf(answer),
    body: `<p><a href="${esc(area.base)}">All webhooks</a></p>`,
  });
}

interface FormState {
  url?: string;
  events?: string[];
  rateLimit?: string;
  errors?: Record<string, string>;
  problem?: string;
  status?: number;
}

/** The form of a new subscription, or of an existing one's changes. */
async function webhookForm(context: PageContext, area: Area, state: FormState, existing?: WebhookView): Promise<FastifyReply> {
  const { reply, session, api } = context;
  const types = await eventTypes(api, session);
  const errors = state.errors ?? {};
  const action = existing ? `${area.base}/${enc(existing.id)}/edit` : area.base;
  const title = existing ? 'Edit webhook' : 'New webhook';
  return page(reply, {
    title,
    session,
    active: area.base,
    status: state.status,
    error: state.problem,
    body: `<p><a href="${esc(existing ? `${area.base}/${enc(existing.id)}` : area.base)}">${existing ? 'Back to the webhook' : 'All webhooks'}</a></p>
<h1>${title}</h1>
<form method="post" action="${esc(action)}" class="card" novalidate>
${csrfField(session)}${existing ? '' : onceField()}
${field({ name: 'url', label: 'Endpoint URL', type: 'url', value: state.url ?? existing?.url, required: true, hint: 'Where deliveries are POSTed: https, on a public address.', error: errors.url })}
${eventChoices(types, state.events ?? existing?.events ?? [], errors.events)}
${field({
  name: 'secret',
  label: existing ? 'New signing secret (optional)' : 'Signing secret (optional)',
  type: 'password',
  autocomplete: 'off',
  hint: existing
    ? 'Leave empty to keep the current one. A new secret signs beside the old one for 24 hours, so that your receiver can roll over.'
    : 'whsec_ and the base64 of 24 to 64 random bytes. Leave empty and Tessera generates one, shown once after creation.',
  error: errors.secret,
})}
${field({ name: 'rate_limit', label: 'Rate limit (deliveries a second, optional)', type: 'number', value: state.rateLimit ?? (existing?.rate_limit ?? ''), hint: '1 to 1000; empty for no limit.', error: errors.rate_limit })}
<button type="submit">${existing ? 'Save changes' : 'Create webhook'}</button>
</form>`,
  });
}

/** The subscription form as typed (the rate limit as text, to be shown back as typed when it is refused). */
function typedOf(form: Form): { url: string; events: string[]; secret: string; rateText: string | undefined } {
  return { url: (one(form, 'url') ?? '').trim(), events: all(form, 'events'), secret: one(form, 'secret') ?? '', rateText: one(form, 'rate_limit') };
}

/** The status of a page answering a refused form: the API's 4xx, or 400. */
const clientStatus = (answer: ApiAnswer) => (answer.status >= 400 && answer.status < 500 ? answer.status : 400);

/** A refusal of a form's submission: next to its field when it names one, else above the form. */
function formErrors(answer: ApiAnswer): Pick<FormState, 'errors' | 'problem' | 'status'> {
  const sorted = errorsOf(answer, FORM_FIELDS);
  return { errors: sorted.fields, problem: sorted.page ?? 'The webhook was not saved: see the field marked below.', status: clientStatus(answer) };
}

interface DetailExtras {
  error?: string;
  status?: number;
  recover?: { since?: string; until?: string; errors?: Record<string, string> };
}

/** A subscription with its actions, its picture, its deliveries and the recover form. */
async function detailPage(context: PageContext, area: Area, webhookId: string, extras: DetailExtras = {}): Promise<FastifyReply> {
  const { reply, session, api } = context;
  const query = queryOf(context.request);
  const status = DELIVERY_STATUSES.find((s) => s === query.status);
  const id = enc(webhookId);
  const found = await api.get(`/v1/webhooks/${id}`);
  if (found.status !== 200) return refused(context, area, found);
  const w = found.body as WebhookView;
  const [timeline, deliveries] = await Promise.all([
    api.get(`/v1/webhooks/${id}/timeline?days=${TIMELINE_DAYS}`),
    api.get(`/v1/webhooks/${id}/deliveries${queryString({ limit: 20, status, cursor: query.cursor })}`),
  ]);
  const here = `${area.base}/${id}`;
  const picture =
    timeline.status === 200
      ? deliveryChart('chart-timeline', `Delivery success per hour, last ${TIMELINE_DAYS} days`, timeline.body as AttemptWindow)
      : `<p class="warning">${esc(problemOf(timeline))}</p>`;
  const rows =
    deliveries.status === 200
      ? (deliveries.body.deliveries as DeliveryView[]).map((d) => [
          `<a href="${esc(`${here}/deliveries/${enc(d.id)}`)}"><code>${esc(d.id)}</code></a>`,
          esc(d.event_type),
          stateBadge(d.status),
          String(d.attempts),
          when(d.attempted_at),
          d.response_status === null ? '–' : String(d.response_status),
          d.latency_ms === null ? '–' : `${d.latency_ms} ms`,
          when(d.next_attempt_at),
        ])
      : [];
  const recover = extras.recover ?? {};
  const recoverErrors = recover.errors ?? {};
  // A day before the server's now (the timeline's `until`), as a starting point.
  const defaultSince = timeline.status === 200 ? localOf(new Date(Date.parse(timeline.body.until) - 86_400_000).toISOString()) : undefined;
  return page(reply, {
    title: `Webhook ${w.url}`,
    session,
    active: area.base,
    status: extras.status,
    notice: notices.of(context.request),
    error: extras.error,
    body: `<p><a href="${esc(area.base)}">All webhooks</a></p>
<h1>Webhook <code>${esc(w.url)}</code></h1>
<dl class="facts">
<dt>Id</dt><dd><code>${esc(w.id)}</code></dd>
<dt>Endpoint</dt><dd><code>${esc(w.url)}</code></dd>
<dt>Events</dt><dd>${codeList(w.events)}</dd>
<dt>State</dt><dd>${subscriptionBadges(w)}${w.held_since ? ` <span class="hint">held since ${when(w.held_since)}: its app is suspended; deliveries are kept and sent in order once it is resumed</span>` : ''}</dd>
<dt>Rate limit</dt><dd>${esc(rateLimitText(w))}</dd>
${w.previous_secret_expires_at ? `<dt>Previous secret</dt><dd>still signs until ${when(w.previous_secret_expires_at)}</dd>` : ''}
<dt>Created</dt><dd>${when(w.created_at)}</dd>
<dt>Changed</dt><dd>${when(w.updated_at)}</dd>
</dl>
<div class="row actions">
<a class="button secondary" href="${esc(`${here}/edit`)}">Edit</a>
${actionButton(session, `${here}/enabled`, w.enabled ? 'Disable' : 'Enable', { hidden: { enabled: w.enabled ? 'false' : 'true' } })}
${actionButton(session, `${here}/test`, 'Send a test')}
<a class="button secondary" href="${esc(`${here}/delete`)}">Delete…</a>
</div>
<section aria-labelledby="timeline-heading"><h2 id="timeline-heading">Delivery success</h2>${picture}</section>
<section aria-labelledby="deliveries-heading"><h2 id="deliveries-heading">Deliveries</h2>
<form method="get" action="${esc(here)}" class="row" aria-label="Filter deliveries">
${selectField({ name: 'status', label: 'Status', options: [{ value: '', label: 'Any status' }, ...DELIVERY_STATUSES.map((s) => ({ value: s }))], value: status ?? '' })}
<button type="submit" class="secondary">Filter</button>
</form>
${deliveries.status === 200 ? table('Deliveries of the webhook, newest first', ['Delivery', 'Event', 'Status', 'Attempts', 'Last attempt', 'Response', 'Latency', 'Next attempt'], rows, status ? `No ${status} deliveries.` : 'No deliveries yet.') : `<p class="warning">${esc(problemOf(deliveries))}</p>`}
${deliveries.status === 200 ? pager(here, deliveries.body.next_cursor, { status }) : ''}
</section>
<section aria-labelledby="recover-heading"><h2 id="recover-heading">Recover failed deliveries</h2>
<form method="post" action="${esc(`${here}/recover`)}" class="card" novalidate>
${csrfField(session)}
<p class="hint">Sends again, once each, every delivery of this webhook that failed or is still retrying and was created in the window (UTC, at most 14 days), with the same webhook-id.</p>
${field({ name: 'since', label: 'Since (UTC)', type: 'datetime-local', value: recover.since ?? defaultSince, required: true, error: recoverErrors.since })}
${field({ name: 'until', label: 'Until (UTC, optional)', type: 'datetime-local', value: recover.until, hint: 'Empty: now.', error: recoverErrors.until })}
<button type="submit">Recover</button>
</form></section>`,
  });
}

/** Deliveries, each with its attempts: the request payload, and each response's status, snippet, latency and error. */
async function deliveryPage(context: PageContext, area: Area): Promise<FastifyReply> {
  const { reply, session, api } = context;
  const webhookId = enc(paramOf(context.request, 'webhook_id'));
  const answer = await api.get(`/v1/webhooks/${webhookId}/deliveries/${enc(paramOf(context.request, 'delivery_id'))}`);
  if (answer.status !== 200) return refused(context, area, answer, 'Delivery not found');
  const d = answer.body as DeliveryView & { payload: unknown; attempt_history: AttemptView[] };
  const here = `${area.base}/${webhookId}`;
  const attempts = d.attempt_history.map((a) => [
    String(a.number),
    when(a.attempted_at),
    a.response_status === null ? '–' : String(a.response_status),
    `${a.latency_ms} ms`,
    a.error ? esc(a.error) : '–',
    a.response_snippet ? `<pre>${esc(a.response_snippet)}</pre>` : '–',
  ]);
  return page(reply, {
    title: `Delivery ${d.id}`,
    session,
    active: area.base,
    notice: notices.of(context.request),
    body: `<p><a href="${esc(here)}">Back to the webhook</a></p>
<h1>Delivery <code>${esc(d.id)}</code></h1>
<dl class="facts">
<dt>Event</dt><dd><code>${esc(d.event_type)}</code></dd>
<dt>webhook-id</dt><dd><code>${esc(d.event_id)}</code> <span class="hint">(the same on every attempt: the receiver's idempotency key)</span></dd>
<dt>Status</dt><dd>${stateBadge(d.status)}</dd>
<dt>Attempts</dt><dd>${d.attempts}</dd>
<dt>Last attempt</dt><dd>${when(d.attempted_at)}</dd>
<dt>Next attempt</dt><dd>${when(d.next_attempt_at)}</dd>
${d.error ? `<dt>Last error</dt><dd>${esc(d.error)}</dd>` : ''}
</dl>
${actionButton(session, `${here}/deliveries/${enc(d.id)}/redeliver`, 'Redeliver')}
<h2>Attempts</h2>
${table('Attempts of the delivery, first first', ['#', 'Attempted', 'Response status', 'Latency', 'Error', 'Response (first 2 KB)'], attempts, 'Not attempted yet.')}
<h2>Request payload</h2>
<pre>${esc(JSON.stringify(d.payload, null, 2))}</pre>`,
  });
}

export function registerWebhookPages(app: FastifyInstance, { context }: AreaDeps): void {
  for (const area of AREAS) {
    const { base, kinds } = area;
    const route = { schema: { hide: true } };
    const webhookIdOf = (c: PageContext) => paramOf(c.request, 'webhook_id');

    app.get(
      base,
      route,
      context.page(kinds, async (c) => {
        const answer = await c.api.get(`/v1/webhooks${queryString({ limit: 20, cursor: queryOf(c.request).cursor })}`);
        const rows =
          answer.status === 200
            ? (answer.body.webhooks as WebhookView[]).map((w) => [
                `<a href="${esc(`${base}/${enc(w.id)}`)}"><code>${esc(w.url)}</code></a>`,
                codeList(w.events),
                subscriptionBadges(w),
                esc(rateLimitText(w)),
                when(w.created_at),
              ])
            : [];
        return page(c.reply, {
          title: 'Webhooks',
          session: c.session,
          active: base,
          notice: notices.of(c.request),
          error: answer.status === 200 ? undefined : problemOf(answer),
          body: `<h1>Webhooks</h1>
<p>${esc(area.intro)}</p>
<p><a class="button" href="${esc(`${base}/new`)}">New webhook</a></p>
${table('Webhook subscriptions, oldest first', ['Endpoint', 'Events', 'State', 'Rate limit', 'Created'], rows, 'No webhooks yet.')}
${answer.status === 200 ? pager(base, answer.body.next_cursor) : ''}`,
        });
      }),
    );

    app.get(`${base}/new`, route, context.page(kinds, (c) => webhookForm(c, area, {})));

    app.post(
      base,
      route,
      context.action(kinds, async (c: ActionContext) => {
        // A reload of the answer below sends this form again: refused, so no second webhook is made and no secret shown.
        if (!firstUse(c.request, c.reply, c.form)) return usedTwice(c.reply, c.session, { href: base, label: 'All webhooks', active: base });
        const { url, events, secret, rateText } = typedOf(c.form);
        const rateLimit = numberOrText(rateText);
        const answer = await c.api.post('/v1/webhooks', { url, events, ...(secret ? { secret } : {}), ...(rateLimit !== undefined ? { rate_limit: rateLimit } : {}) });
        // The secret typed is never put back into the page: it is typed again.
        if (answer.status !== 201) return webhookForm(c, area, { url, events, rateLimit: rateText, ...formErrors(answer) });
        const created = answer.body as WebhookView & { secret?: string };
        const here = `${base}/${enc(created.id)}`;
        if (!created.secret) return notices.done(c.reply, here, 'webhook-created');
        // The generated secret is in this answer alone (README "Webhooks"): it is shown here, once, and nowhere after.
        return page(c.reply, {
          title: 'Webhook created',
          session: c.session,
          active: base,
          notice: 'The webhook was created.',
          body: `<h1>Webhook created</h1>
<p>Deliveries to <code>${esc(created.url)}</code> are signed with this secret (Standard Webhooks: <code>webhook-signature</code>). Your receiver needs it to verify them.</p>
${secretOnce('webhook-secret', 'Signing secret', created.secret)}
<p><a class="button" href="${esc(here)}">Go to the webhook</a></p>`,
        });
      }),
    );

    app.get(`${base}/:webhook_id`, route, context.page(kinds, (c) => detailPage(c, area, webhookIdOf(c))));

    app.get(
      `${base}/:webhook_id/edit`,
      route,
      context.page(kinds, async (c) => {
        const found = await c.api.get(`/v1/webhooks/${enc(webhookIdOf(c))}`);
        if (found.status !== 200) return refused(c, area, found);
        return webhookForm(c, area, {}, found.body as WebhookView);
      }),
    );

    app.post(
      `${base}/:webhook_id/edit`,
      route,
      context.action(kinds, async (c: ActionContext) => {
        const id = enc(webhookIdOf(c));
        const found = await c.api.get(`/v1/webhooks/${id}`);
        if (found.status !== 200) return refused(c, area, found);
        const { url, events, secret, rateText } = typedOf(c.form);
        const answer = await c.api.put(`/v1/webhooks/${id}`, { url, events, rate_limit: numberOrText(rateText) ?? null, ...(secret ? { secret } : {}) });
        if (answer.status !== 200) return webhookForm(c, area, { url, events, rateLimit: rateText, ...formErrors(answer) }, found.body as WebhookView);
        return notices.done(c.reply, `${base}/${id}`, secret ? 'saved-new-secret' : 'saved');
      }),
    );

    app.post(
      `${base}/:webhook_id/enabled`,
      route,
      context.action(kinds, async (c: ActionContext) => {
        const id = enc(webhookIdOf(c));
        const enabled = one(c.form, 'enabled') === 'true';
        const answer = await c.api.put(`/v1/webhooks/${id}`, { enabled });
        if (answer.status !== 200) return detailPage(c, area, webhookIdOf(c), { error: problemOf(answer), status: answer.status });
        return notices.done(c.reply, `${base}/${id}`, enabled ? 'enabled' : 'disabled');
      }),
    );

    app.post(
      `${base}/:webhook_id/test`,
      route,
      context.action(kinds, async (c: ActionContext) => {
        const id = enc(webhookIdOf(c));
        const answer = await c.api.post(`/v1/webhooks/${id}/test`);
        if (answer.status !== 202) return detailPage(c, area, webhookIdOf(c), { error: problemOf(answer), status: answer.status });
        return notices.done(c.reply, `${base}/${id}`, 'test-queued');
      }),
    );

    app.get(
      `${base}/:webhook_id/delete`,
      route,
      context.page(kinds, async (c) => {
        const id = enc(webhookIdOf(c));
        const found = await c.api.get(`/v1/webhooks/${id}`);
        if (found.status !== 200) return refused(c, area, found);
        const w = found.body as WebhookView;
        return confirmation(c.reply, c.session, {
          title: 'Delete this webhook?',
          explain: `<p>Nothing more is delivered to <code>${esc(w.url)}</code>, and its deliveries and their history are deleted with it. This cannot be undone.</p>`,
          action: `${base}/${id}/delete`,
          confirm: 'Delete the webhook',
          back: { href: `${base}/${id}`, label: 'Back to the webhook', active: base },
          narrow: true,
        });
      }),
    );

    app.post(
      `${base}/:webhook_id/delete`,
      route,
      context.action(kinds, async (c: ActionContext) => {
        const answer = await c.api.delete(`/v1/webhooks/${enc(webhookIdOf(c))}`);
        if (answer.status !== 204) return refused(c, area, answer);
        return notices.done(c.reply, base, 'webhook-deleted');
      }),
    );

    app.post(
      `${base}/:webhook_id/recover`,
      route,
      context.action(kinds, async (c: ActionContext) => {
        const id = enc(webhookIdOf(c));
        const sinceText = one(c.form, 'since');
        const untilText = one(c.form, 'until');
        const since = instantOf(sinceText);
        const until = instantOf(untilText);
        const answer = await c.api.post(`/v1/webhooks/${id}/recover`, { since: since ?? '', ...(until ? { until } : {}) });
        if (answer.status !== 202) {
          const sorted = errorsOf(answer, ['since', 'until']);
          return detailPage(c, area, webhookIdOf(c), {
            error: sorted.page ?? 'Nothing was recovered: see the recover form below.',
            status: clientStatus(answer),
            recover: { since: sinceText, until: untilText, errors: sorted.fields },
          });
        }
        const r = answer.body as { recovery_id: string; next_since: string | null };
        // The counts are the recovery page's own (it reads them); the URL says only whether more matched.
        return notices.done(c.reply, `${base}/${id}/recoveries/${enc(r.recovery_id)}`, r.next_since ? 'recovery-started-more' : 'recovery-started');
      }),
    );

    app.get(
      `${base}/:webhook_id/recoveries/:recovery_id`,
      route,
      context.page(kinds, async (c) => {
        const id = enc(webhookIdOf(c));
        const here = `${base}/${id}`;
        const answer = await c.api.get(`/v1/webhooks/${id}/recoveries/${enc(paramOf(c.request, 'recovery_id'))}`);
        if (answer.status !== 200) return refused(c, area, answer, 'Recovery not found');
        const r = answer.body as { id: string; since: string; until: string; deliveries: number; remaining: number; succeeded: number; failed: number; status: string; created_at: string; completed_at: string | null };
        const done = r.deliveries - r.remaining;
        return page(c.reply, {
          title: `Recovery ${r.id}`,
          session: c.session,
          active: base,
          notice: notices.of(c.request),
          body: `<p><a href="${esc(here)}">Back to the webhook</a></p>
<h1>Recovery <code>${esc(r.id)}</code></h1>
<p>${r.status === 'completed' ? badge('completed', 'ok') : badge('in progress', 'warn')}</p>
<label for="recovery-progress">Deliveries sent again</label>
<progress id="recovery-progress" max="${Math.max(1, r.deliveries)}" value="${r.deliveries ? done : 1}">${done} of ${r.deliveries}</progress>
<dl class="facts">
<dt>Window</dt><dd>${when(r.since)} to ${when(r.until)}</dd>
<dt>Deliveries</dt><dd>${r.deliveries}</dd>
<dt>Still to send</dt><dd>${r.remaining}</dd>
<dt>Succeeded</dt><dd>${r.succeeded}</dd>
<dt>Failed</dt><dd>${r.failed}</dd>
<dt>Requested</dt><dd>${when(r.created_at)}</dd>
<dt>Completed</dt><dd>${when(r.completed_at)}</dd>
</dl>
${r.status === 'completed' ? '' : `<p><a class="button secondary" href="${esc(`${here}/recoveries/${enc(r.id)}`)}">Check the progress again</a></p>`}`,
        });
      }),
    );

    app.get(`${base}/:webhook_id/deliveries/:delivery_id`, route, context.page(kinds, (c) => deliveryPage(c, area)));

    app.post(
      `${base}/:webhook_id/deliveries/:delivery_id/redeliver`,
      route,
      context.action(kinds, async (c: ActionContext) => {
        const delivery = `${enc(webhookIdOf(c))}/deliveries/${enc(paramOf(c.request, 'delivery_id'))}`;
        const answer = await c.api.post(`/v1/webhooks/${delivery}/redeliver`);
        if (answer.status !== 202) return refused(c, area, answer, 'Delivery not found');
        return notices.done(c.reply, `${base}/${delivery}`, 'redelivered');
      }),
    );
  }
}
