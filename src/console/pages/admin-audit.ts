// The tenant's audit log, for its admins (README "Console"): who did what, newest first, filtered by action and by
// target id, paginated (the filters kept on the next page), each event's details laid out to be read rather than as
// raw JSON. Through GET /v1/platform/audit-events as the signed-in admin.
import type { FastifyInstance } from 'fastify';
import { queryOf, type PageContext } from '../context.js';
import { esc, page, pager, queryString, table, when } from '../html.js';
import type { AreaDeps } from './kit.js';

const ACTIVE = '/console/audit';
const PAGE_SIZE = 25;

/** The actions a tenant's log holds, offered as suggestions (the filter takes any). */
const ACTIONS = [
  'app.created',
  'app.updated',
  'app.governance_changed',
  'app.secret_rotated',
  'app.previous_secret_ended',
  'app.suspended',
  'app.resumed',
  'app.deleted',
  'service_token.minted',
  'service_token.revoked',
  'user.created',
  'user.provisioned',
  'user.roles_changed',
  'user.mfa_enrolled',
  'user.mfa_reset',
  'user.mfa_recovery_code_used',
  'user.password_set',
  'tenant.sign_in_policy_changed',
  'tenant.scopes_changed',
  'identity_provider.created',
  'identity_provider.updated',
  'identity_provider.deleted',
  'integration_request.created',
  'integration_request.approved',
  'integration_request.denied',
  'integration_request.credentials_claimed',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.disabled',
  'bundle.assigned',
  'bundle.unassigned',
];

/** A value as a person reads it: text as it is, lists joined, anything else as compact JSON. */
function readable(value: unknown): string {
  if (value === null || value === undefined) return '<span class="hint">none</span>';
  if (typeof value === 'string') return esc(value);
  if (typeof value === 'number' || typeof value === 'boolean') return esc(String(value));
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.length ? value.map((v) => `<code>${esc(v)}</code>`).join(', ') : '<span class="hint">none</span>';
  return `<code>${esc(JSON.stringify(value))}</code>`;
}

type Fields = Record<string, unknown>;

const isFields = (v: unknown): v is Fields => Boolean(v) && typeof v === 'object' && !Array.isArray(v);
/** A change: `{before, after}` or `{from, to}`, and nothing else. */
function changeOf(v: unknown): { before: unknown; after: unknown } | null {
  if (!isFields(v) || Object.keys(v).length !== 2) return null;
  if ('before' in v && 'after' in v) return { before: v.before, after: v.after };
  if ('from' in v && 'to' in v) return { before: v.from, after: v.to };
  return null;
}
const label = (key: string) => esc(key.replace(/_/g, ' '));

/** A change, as before → after; of several fields at once (governance), only those that moved, one a line. */
function changed(change: { before: unknown; after: unknown }): string {
  if (!isFields(change.before) || !isFields(change.after)) return `${readable(change.before)} → ${readable(change.after)}`;
  const before = change.before;
  const after = change.after;
  const moved = Object.keys({ ...before, ...after }).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  return moved.length ? moved.map((k) => `${label(k)}: ${readable(before[k])} → ${readable(after[k])}`).join('<br>') : 'no change';
}

/** The details of an event: one line a field; a change (`{before, after}`, of the event or of a field) as before → after. */
export function details(value: Fields): string {
  const whole = changeOf(value);
  if (whole) return changed(whole);
  const entries = Object.entries(value ?? {});
  if (!entries.length) return '<span class="hint">–</span>';
  return `<dl class="facts">${entries.map(([key, v]) => `<dt>${label(key)}</dt><dd>${changeOf(v) ? changed(changeOf(v)!) : readable(v)}</dd>`).join('')}</dl>`;
}

async function auditPage({ request, reply, session, api }: PageContext) {
  const { cursor, action = '', target_id: targetId = '' } = queryOf(request);
  const filters = { action: action.trim() || undefined, target_id: targetId.trim() || undefined };
  const answer = await api.get(`/v1/platform/audit-events${queryString({ limit: PAGE_SIZE, ...filters, cursor })}`);
  const ok = answer.status === 200;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the shape GET /v1/platform/audit-events documents
  const events = ok ? (answer.body.events as Array<Record<string, any>>) : [];
  const filtered = Boolean(filters.action || filters.target_id);
  return page(reply, {
    title: 'Audit log',
    session,
    active: ACTIVE,
    status: ok ? 200 : answer.status,
    error: ok ? undefined : (answer.body?.error_description ?? 'The audit log could not be read.'),
    body: `<h1>Audit log</h1>
<form method="get" action="${ACTIVE}" class="card" aria-labelledby="filter">
  <h2 id="filter">Filter</h2>
  <label for="f-action">Action</label>
  <input type="text" id="f-action" name="action" value="${esc(action)}" list="audit-actions" aria-describedby="f-action-hint" autocomplete="off">
  <datalist id="audit-actions">${ACTIONS.map((a) => `<option value="${esc(a)}"></option>`).join('')}</datalist>
  <p class="hint" id="f-action-hint">Exactly, e.g. app.suspended.</p>
  <label for="f-target_id">Target id</label>
  <input type="text" id="f-target_id" name="target_id" value="${esc(targetId)}" aria-describedby="f-target_id-hint" autocomplete="off">
  <p class="hint" id="f-target_id-hint">An app's client id, a user's id, a provider's id…</p>
  <div><button type="submit">Filter</button>${filtered ? ` <a class="button secondary" href="${ACTIVE}">Clear the filter</a>` : ''}</div>
</form>
${table(
  'Audit events, newest first',
  ['When', 'Action', 'Target', 'By', 'Details'],
  events.map((event) => [
    when(event.created_at),
    `<code>${esc(event.action)}</code>`,
    `${esc(event.target_type)} <code>${esc(event.target_id)}</code>`,
    `<code>${esc(event.actor)}</code>`,
    details(event.details),
  ]),
  filtered ? 'No event matches the filter.' : 'No event yet.',
)}
${ok ? pager(ACTIVE, answer.body.next_cursor, filters) : ''}`,
  });
}

export function registerAuditPages(app: FastifyInstance, { context }: AreaDeps): void {
  app.get(ACTIVE, { schema: { hide: true } }, context.page(['admin'], auditPage));
}
