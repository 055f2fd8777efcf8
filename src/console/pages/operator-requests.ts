// The operator's integration requests (README "Integration requests"): every tenant's, newest first, filtered by
// status (GET /api/v1/platform/integration-requests), and one request's review page, which is the confirmation of its
// decision: it says what approving does, and decides with the operator's note (POST .../approve, the note optional;
// POST .../deny, the note required: the server's refusal is shown next to it, with what was typed). A request is
// decided once.
import type { FastifyInstance } from 'fastify';
import { fieldError, problemOf, type ApiAnswer } from '../api.js';
import { one, paramOf, queryOf, type ActionContext, type PageContext } from '../context.js';
import { codeList, csrfField, esc, facts, field, page, pager, queryString, selectField, table, when } from '../html.js';
import { enc, refused, stateBadge, type AreaDeps, type Back } from './kit.js';
import { notices, OPERATOR, tenantLink } from './operator-shared.js';

const ACTIVE = '/console/operator/requests';
const TO_REQUESTS: Back = { href: ACTIVE, label: 'Back to the integration requests', active: ACTIVE };
const STATUSES = ['pending', 'approved', 'denied'];

interface RequestView {
  id: string;
  tenant_id: string;
  kind: string;
  status: string;
  details: Record<string, unknown>;
  justification: string;
  requested_by: string;
  requester_client_id: string | null;
  decision_note: string | null;
  decided_by: string | null;
  decided_at: string | null;
  result: Record<string, unknown> | null;
  created_at: string;
}

const text = (value: unknown) => esc(typeof value === 'string' ? value : JSON.stringify(value));

/** What the request asks for, in a line. */
function askedFor(r: RequestView): string {
  const d = r.details;
  switch (r.kind) {
    case 'bundle':
      return `the bundle <code>${text(d.bundle)}</code> for ${d.client_id ? `the app <code>${text(d.client_id)}</code>` : 'the asking app'}`;
    case 'scopes':
      return `the scopes ${codeList(Array.isArray(d.scopes) ? d.scopes.map(String) : [])}`;
    case 'federation':
      return `${text(String(d.protocol ?? '').toUpperCase())} federation for <code>${text(d.domain)}</code>`;
    case 'sandbox':
      return `a sandbox named ${text(d.name)}${d.slug ? ` (<code>${text(d.slug)}</code>)` : ''}`;
    case 'platform_access':
      return `platform access: ${text(d.capability)}`;
    default:
      return text(d);
  }
}

/** What approving does, for the review page (README "Integration requests"). */
function approvalDoes(r: RequestView): string {
  switch (r.kind) {
    case 'bundle':
      return `assigns the bundle <code>${text(r.details.bundle)}</code> to the app on its channel, effective at once on every server.`;
    case 'scopes':
      return "adds the scopes to the tenant's scopes (a tenant that may use every published scope keeps that).";
    case 'sandbox':
      return 'makes a sandbox tenant linked to the requesting tenant, with its admin and sample incidents; whoever asked then claims the admin\'s password once.';
    default:
      return 'records the decision and its note: the work it asks for is done by an operator outside this decision.';
  }
}

async function requestsPage({ request, reply, session, api }: PageContext) {
  const q = queryOf(request);
  const status = STATUSES.includes(q.status ?? '') ? q.status : undefined;
  const answer = await api.get(`/api/v1/platform/integration-requests${queryString({ status, cursor: q.cursor })}`);
  if (answer.status !== 200) return refused(reply, session, answer, TO_REQUESTS);
  const rows = (answer.body.integration_requests as RequestView[]).map((r) => [
    when(r.created_at),
    tenantLink(r.tenant_id),
    esc(r.kind),
    askedFor(r),
    esc(r.justification),
    stateBadge(r.status),
    `<a href="${esc(`${ACTIVE}/${enc(r.id)}`)}">${r.status === 'pending' ? 'Review' : 'View'}<span class="skip"> request ${esc(r.id)}</span></a>`,
  ]);
  return page(reply, {
    title: 'Integration requests',
    session,
    active: ACTIVE,
    notice: notices.of(request),
    body: `<h1>Integration requests</h1>
<p>What tenants and their apps ask for: curated bundles, more scopes, federation, sandboxes, platform access. Open a pending request to approve or deny it.</p>
<form method="get" action="${ACTIVE}" class="row filters" aria-label="Filter the requests">
  ${selectField({ name: 'status', label: 'Status', value: status ?? '', options: [{ value: '', label: 'Every status' }, ...STATUSES.map((s) => ({ value: s }))] })}
  <button type="submit" class="secondary">Filter</button>
</form>
${table('Integration requests, newest first', ['Asked', 'Tenant', 'Kind', 'Asks for', 'Why', 'Status', 'Decision'], rows, 'No request matches.')}
${pager(ACTIVE, answer.body.next_cursor, { status })}`,
  });
}

interface DecisionForm {
  approveNote?: string;
  denyNote?: string;
  approveError?: string;
  denyError?: string;
  error?: string;
  status?: number;
}

async function reviewPage(context: PageContext, form: DecisionForm = {}) {
  const { request, reply, session, api } = context;
  const id = paramOf(request, 'id');
  const answer = await api.get(`/api/v1/platform/integration-requests/${enc(id)}`);
  if (answer.status !== 200) return refused(reply, session, answer, TO_REQUESTS);
  const r = answer.body as RequestView;
  const rows: Array<[string, string]> = [
    ['Tenant', tenantLink(r.tenant_id)],
    ['Kind', esc(r.kind)],
    ['Asks for', askedFor(r)],
    ['Why', esc(r.justification)],
    ['Asked by', r.requester_client_id ? `the app <code>${esc(r.requester_client_id)}</code>` : `<code>${esc(r.requested_by)}</code> (a tenant admin)`],
    ['Asked', when(r.created_at)],
    ['Status', stateBadge(r.status)],
  ];
  if (r.status !== 'pending') {
    rows.push(['Decided', `${when(r.decided_at)} by <code>${esc(r.decided_by)}</code>`], ['Note', esc(r.decision_note ?? '–')]);
    if (r.result) rows.push(['What approval did', `<pre>${esc(JSON.stringify(r.result, null, 2))}</pre>`]);
  }
  const base = `${ACTIVE}/${enc(r.id)}`;
  const decide =
    r.status === 'pending'
      ? `<p>A request is decided once. Approving ${approvalDoes(r)} The tenant's admins are told of the decision, with the note.</p>
<form method="post" action="${esc(`${base}/approve`)}" class="card" aria-labelledby="approve" novalidate>${csrfField(session)}
  <h2 id="approve">Approve</h2>
  ${field({ name: 'approve_note', label: 'Note for the requester (optional)', textarea: true, value: form.approveNote, hint: 'What to do next, say.', error: form.approveError })}
  <button type="submit">Approve the request</button>
</form>
<form method="post" action="${esc(`${base}/deny`)}" class="card" aria-labelledby="deny" novalidate>${csrfField(session)}
  <h2 id="deny">Deny</h2>
  ${field({ name: 'deny_note', label: 'Why it is denied (required)', textarea: true, value: form.denyNote, hint: 'Told to the requester.', error: form.denyError })}
  <button type="submit" class="danger">Deny the request</button>
</form>`
      : '';
  return page(reply, {
    title: `Request ${r.id}`,
    session,
    active: ACTIVE,
    status: form.status,
    error: form.error,
    body: `<p><a href="${ACTIVE}">Integration requests</a></p>
<h1>${r.status === 'pending' ? 'Review the request' : 'The request'} <code>${esc(r.id)}</code></h1>
${facts(rows)}
${decide}`,
  });
}

/** A refusal of a decision: the note's problem next to the note, what was typed kept; anything else for the page. */
function decisionRefused(context: ActionContext, answer: ApiAnswer, which: 'approve' | 'deny', note: string) {
  const onNote = fieldError(answer)?.field === 'note';
  const status = answer.status >= 400 && answer.status < 500 ? answer.status : 502;
  return which === 'approve'
    ? reviewPage(context, { approveNote: note, ...(onNote ? { approveError: problemOf(answer) } : { error: problemOf(answer) }), status })
    : reviewPage(context, { denyNote: note, ...(onNote ? { denyError: problemOf(answer) } : { error: problemOf(answer) }), status });
}

async function approve(context: ActionContext) {
  const { request, reply, api, form } = context;
  const id = paramOf(request, 'id');
  const note = one(form, 'approve_note') ?? '';
  const answer = await api.post(`/api/v1/platform/integration-requests/${enc(id)}/approve`, note.trim() ? { note } : {});
  if (answer.status === 200) return notices.done(reply, ACTIVE, 'request-approved');
  return decisionRefused(context, answer, 'approve', note);
}

async function deny(context: ActionContext) {
  const { request, reply, api, form } = context;
  const id = paramOf(request, 'id');
  const note = one(form, 'deny_note') ?? '';
  // Sent as typed, empty too: the server says what a denial needs.
  const answer = await api.post(`/api/v1/platform/integration-requests/${enc(id)}/deny`, { note });
  if (answer.status === 200) return notices.done(reply, ACTIVE, 'request-denied');
  return decisionRefused(context, answer, 'deny', note);
}

export function registerOperatorRequestPages(app: FastifyInstance, { context }: AreaDeps): void {
  const hide = { schema: { hide: true } };
  app.get(ACTIVE, hide, context.page(OPERATOR, requestsPage));
  app.get(`${ACTIVE}/:id`, hide, context.page(OPERATOR, (c) => reviewPage(c)));
  app.post(`${ACTIVE}/:id/approve`, hide, context.action(OPERATOR, approve));
  app.post(`${ACTIVE}/:id/deny`, hide, context.action(OPERATOR, deny));
}
