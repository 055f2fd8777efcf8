// The tenant's integration requests, for its admins (README "Console", "Integration requests"): the list, newest
// first and paginated, with each request's status and the operator's note; filing one (its kind first, then the
// kind's own fields and why); one request with what approval did; and, for an approved sandbox request, claiming the
// sandbox admin's password, shown once. Through /v1/platform/integration-requests as the signed-in admin.
import type { FastifyInstance } from 'fastify';
import { one, paramOf, queryOf, type ActionContext, type Form, type PageContext } from '../context.js';
import { codeList, csrfField, esc, facts, field, page, pager, queryString, secretOnce, selectField, table, when } from '../html.js';
import { details } from './admin-audit.js';
import { notFound, notices, words } from './admin-shared.js';
import { enc, errorsOf, refused, stateBadge, type AreaDeps, type Back, type FormErrors } from './kit.js';

const ACTIVE = '/console/requests';
const PAGE_SIZE = 20;
const BACK: Back = { href: ACTIVE, label: 'Back to the integration requests', active: ACTIVE };
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the shape GET /v1/platform/integration-requests documents
type Request = Record<string, any>;

type Kind = 'bundle' | 'scopes' | 'federation' | 'sandbox' | 'platform_access';

const KINDS: Array<{ value: Kind; label: string }> = [
  { value: 'bundle', label: 'A curated GraphQL operation bundle for an app' },
  { value: 'scopes', label: 'More published scopes for the tenant' },
  { value: 'federation', label: 'Enterprise federation (SAML or OpenID Connect)' },
  { value: 'sandbox', label: 'A sandbox tenant to try things out' },
  { value: 'platform_access', label: 'Access to a control-plane capability' },
];

/** Each kind's form fields (beside the justification). */
const KIND_FIELDS: Record<Kind, string[]> = {
  bundle: ['bundle', 'client_id'],
  scopes: ['scopes'],
  federation: ['protocol', 'domain'],
  sandbox: ['name', 'slug', 'admin_email'],
  platform_access: ['capability'],
};

function kindOf(value: string | undefined): Kind | null {
  return KINDS.some((k) => k.value === value) ? (value as Kind) : null;
}

function kindLabel(kind: string): string {
  return { bundle: 'bundle', scopes: 'scopes', federation: 'federation', sandbox: 'sandbox', platform_access: 'platform access' }[kind] ?? kind;
}

/** What was asked, in a few words. */
function summary(request: Request): string {
  const d = request.details ?? {};
  switch (request.kind) {
    case 'bundle':
      return `<code>${esc(d.bundle)}</code>${d.client_id ? ` for <code>${esc(d.client_id)}</code>` : ''}`;
    case 'scopes':
      return codeList(d.scopes ?? [], '');
    case 'federation':
      return `${esc(String(d.protocol).toUpperCase())} for <code>${esc(d.domain)}</code>`;
    case 'sandbox':
      return esc(d.name);
    case 'platform_access':
      return esc(d.capability);
    default:
      return '';
  }
}

async function listPage({ request, reply, session, api }: PageContext) {
  const { cursor, status = '' } = queryOf(request);
  const filter = ['pending', 'approved', 'denied'].includes(status) ? status : undefined;
  const answer = await api.get(`/v1/platform/integration-requests${queryString({ limit: PAGE_SIZE, status: filter, cursor })}`);
  if (answer.status !== 200) return refused(reply, session, answer, { href: '/console', label: 'Back to the console', active: ACTIVE });
  const rows = (answer.body.integration_requests as Request[]).map((r) => [
    `<a href="${ACTIVE}/${esc(enc(r.id))}">${when(r.created_at)}<span class="skip"> ${esc(r.id)}</span></a>`,
    esc(kindLabel(r.kind)),
    summary(r),
    stateBadge(r.status),
    r.decision_note ? esc(r.decision_note) : '<span class="hint">–</span>',
  ]);
  return page(reply, {
    title: 'Integration requests',
    session,
    active: ACTIVE,
    notice: notices.of(request),
    body: `<h1>Integration requests</h1>
<p>Ask the platform's operators for what an integration needs; they approve or deny each request, with a note.</p>
<form method="get" action="${ACTIVE}" class="row" aria-label="Filter by status">
  ${selectField({ name: 'status', label: 'Status', value: filter ?? '', options: [{ value: '', label: 'any' }, { value: 'pending' }, { value: 'approved' }, { value: 'denied' }] })}
  <button type="submit" class="secondary">Show</button>
</form>
${table('The tenant\'s integration requests, newest first', ['Filed', 'Kind', 'What', 'Status', 'Decision note'], rows, filter ? `No ${filter} request.` : 'No request yet.')}
${pager(ACTIVE, answer.body.next_cursor, { status: filter })}
<form method="get" action="${ACTIVE}/new" class="card" aria-labelledby="file">
  <h2 id="file">File a request</h2>
  ${selectField({ name: 'kind', label: 'What do you need?', options: KINDS })}
  <div><button type="submit">Continue</button></div>
</form>`,
  });
}

/** The new request's form as typed. */
type RequestValues = Record<string, string>;

async function kindFields(context: PageContext, kind: Kind, values: RequestValues, errors: Record<string, string>): Promise<string> {
  switch (kind) {
    case 'bundle': {
      // The tenant's apps to choose from (the first hundred; past that, the client id is typed).
      const apps = await context.api.get(`/v1/platform/apps${queryString({ limit: 100 })}`);
      const list = apps.status === 200 && !apps.body.next_cursor ? (apps.body.apps as Request[]) : null;
      const app = list
        ? selectField({ name: 'client_id', label: 'For the app', value: values.client_id, options: list.map((a) => ({ value: a.client_id, label: `${a.name} (${a.client_id})` })), error: errors.client_id })
        : field({ name: 'client_id', label: "The app's client id", value: values.client_id, required: true, error: errors.client_id, autocomplete: 'off' });
      return `${field({ name: 'bundle', label: 'Bundle', value: values.bundle, required: true, hint: 'The name of a published bundle, e.g. incident-read.', error: errors.bundle, autocomplete: 'off' })}${app}`;
    }
    case 'scopes':
      return field({ name: 'scopes', label: 'Scopes', value: values.scopes, required: true, hint: 'Published scopes the tenant may not use yet, separated by spaces.', error: errors.scopes, autocomplete: 'off' });
    case 'federation':
      return `${selectField({ name: 'protocol', label: 'Protocol', value: values.protocol, options: [{ value: 'saml', label: 'SAML 2.0' }, { value: 'oidc', label: 'OpenID Connect' }], error: errors.protocol })}
${field({ name: 'domain', label: 'Domain', value: values.domain, required: true, hint: 'Whose users sign in through it, e.g. acme.example.', error: errors.domain, autocomplete: 'off' })}`;
    case 'sandbox':
      return `${field({ name: 'name', label: 'Sandbox name', value: values.name, required: true, error: errors.name, autocomplete: 'off' })}
${field({ name: 'slug', label: 'Short name (optional)', value: values.slug, hint: 'Lowercase letters, digits and dashes; made from the name when empty.', error: errors.slug, autocomplete: 'off' })}
${field({ name: 'admin_email', label: "Its admin's email (optional)", type: 'email', value: values.admin_email, hint: 'Yours when empty.', error: errors.admin_email, autocomplete: 'off' })}`;
    case 'platform_access':
      return field({ name: 'capability', label: 'Capability', value: values.capability, required: true, hint: 'What you need under /api/v1/platform.', error: errors.capability, autocomplete: 'off' });
  }
}

async function newPage(context: PageContext, kind: Kind | null, state?: { values: RequestValues; errors: FormErrors }) {
  const { request, reply, session } = context;
  if (!kind) return notFound(reply, session, 'Choose what the request is for.', BACK);
  // A link may preset a field (the app page's "request a bundle for this app").
  const preset = queryOf(request);
  const values = state?.values ?? { client_id: preset.client_id ?? '' };
  const errors = state?.errors.fields ?? {};
  return page(reply, {
    title: 'File an integration request',
    session,
    active: ACTIVE,
    status: state ? 400 : 200,
    error: state?.errors.page,
    body: `<p><a href="${ACTIVE}">Integration requests</a> › new</p>
<h1>File an integration request</h1>
<p>${esc(KINDS.find((k) => k.value === kind)!.label)}. <a href="${ACTIVE}">Ask for something else</a></p>
<form method="post" action="${ACTIVE}" class="card">
  ${csrfField(session)}<input type="hidden" name="kind" value="${kind}">
  ${await kindFields(context, kind, values, errors)}
  ${field({ name: 'justification', label: 'Why', value: values.justification, textarea: true, required: true, hint: 'What the integration does with it: the operators read this.', error: errors.justification })}
  <div><button type="submit">File the request</button> <a class="button secondary" href="${ACTIVE}">Cancel</a></div>
</form>`,
  });
}

function bodyOf(kind: Kind, form: Form): { values: RequestValues; body: Record<string, unknown> } {
  const values: RequestValues = { justification: one(form, 'justification') ?? '' };
  const body: Record<string, unknown> = { kind, justification: values.justification };
  for (const name of KIND_FIELDS[kind]) {
    const value = one(form, name) ?? '';
    values[name] = value;
    if (!value.trim()) continue;
    body[name] = name === 'scopes' ? words(value) : value.trim();
  }
  return { values, body };
}

async function file(context: ActionContext) {
  const { reply, api, form } = context;
  const kind = kindOf(one(form, 'kind'));
  if (!kind) return newPage(context, null);
  const { values, body } = bodyOf(kind, form);
  const answer = await api.post('/v1/platform/integration-requests', body);
  if (answer.status === 201) return notices.done(reply, `${ACTIVE}/${enc(answer.body.id)}`, 'request-filed');
  return newPage(context, kind, { values, errors: errorsOf(answer, [...KIND_FIELDS[kind], 'justification']) });
}

async function requestPage(context: PageContext, error?: { message: string; status: number }) {
  const { request, reply, session, api } = context;
  const id = paramOf(request, 'id');
  const answer = await api.get(`/v1/platform/integration-requests/${enc(id)}`);
  if (answer.status === 404) return notFound(reply, session, `No integration request ${id} in this tenant.`, BACK);
  if (answer.status !== 200) return refused(reply, session, answer, BACK);
  const r = answer.body as Request;
  const claimable = r.kind === 'sandbox' && r.status === 'approved' && r.result && !r.result.credentials_claimed_at;
  const result = r.result ? Object.fromEntries(Object.entries(r.result as Record<string, unknown>).filter(([k]) => k !== 'credentials_claimed_by')) : null;
  return page(reply, {
    title: `Integration request ${r.id}`,
    session,
    active: ACTIVE,
    status: error?.status,
    error: error?.message,
    notice: notices.of(request),
    body: `<p><a href="${ACTIVE}">Integration requests</a> › <code>${esc(r.id)}</code></p>
<h1>${esc(kindLabel(r.kind))} request ${stateBadge(r.status)}</h1>
${facts([
  ['Asked for', details(r.details)],
  ['Why', esc(r.justification)],
  ['Filed', `${when(r.created_at)} by <code>${esc(r.requested_by)}</code>`],
  ['Decided', r.decided_at ? `${when(r.decided_at)} by <code>${esc(r.decided_by)}</code>` : 'not yet'],
  ['Decision note', r.decision_note ? esc(r.decision_note) : '–'],
  ...(result ? ([['What approval did', details(result)]] as Array<[string, string]>) : []),
])}
${
  claimable
    ? `<form method="post" action="${ACTIVE}/${esc(enc(r.id))}/claim" class="card" aria-labelledby="claim"><h2 id="claim">The sandbox is ready</h2>
  <p>Claim its admin's password: it is set now and shown once, on the next page.</p>
  ${csrfField(session)}<button type="submit">Claim the credentials</button></form>`
    : ''
}`,
  });
}

async function claim(context: ActionContext) {
  const { request, reply, session, api } = context;
  const id = paramOf(request, 'id');
  const answer = await api.post(`/v1/platform/integration-requests/${enc(id)}/sandbox-credentials`);
  // A second claim (a reload of the answer) is the API's 409: the password was handed over once.
  if (answer.status !== 200) return requestPage(context, { message: errorsOf(answer, []).page ?? 'The credentials could not be claimed.', status: answer.status });
  const c = answer.body;
  return page(reply, {
    title: 'Sandbox credentials',
    session,
    active: ACTIVE,
    notice: 'The sandbox admin\'s password was set.',
    body: `<h1>Sandbox credentials</h1>
${facts([
  ['Organisation', `<code>${esc(c.tenant_slug)}</code>`],
  ['Admin email', esc(c.admin_email)],
  ['Expires', when(c.expires_at)],
])}
${secretOnce('sandbox-password', 'Sandbox admin password', c.admin_password)}
<p>Sign in to the console with the organisation <code>${esc(c.tenant_slug)}</code>, this email and this password.</p>
${secretOnce('sandbox-token', 'Sandbox admin access token', c.admin_access_token)}
<p><a href="${ACTIVE}/${esc(enc(id))}">Back to the request</a></p>`,
  });
}

export function registerRequestPages(app: FastifyInstance, { context }: AreaDeps): void {
  const hide = { schema: { hide: true } };
  app.get(ACTIVE, hide, context.page(['admin'], listPage));
  app.get(`${ACTIVE}/new`, hide, context.page(['admin'], (c) => newPage(c, kindOf(queryOf(c.request).kind))));
  app.post(ACTIVE, hide, context.action(['admin'], file));
  app.get(`${ACTIVE}/:id`, hide, context.page(['admin'], (c) => requestPage(c)));
  app.post(`${ACTIVE}/:id/claim`, hide, context.action(['admin'], claim));
}
