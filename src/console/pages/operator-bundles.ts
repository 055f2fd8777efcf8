// The operator's operation bundles (README "Operation bundles"): the bundles with their versions and status
// (GET /api/v1/platform/bundles), one bundle's versions with each version's operations, their ids and the scopes
// each needs (GET /api/v1/platform/bundles/{bundle}?version=), the apps holding it on each track
// (GET .../assignments), and the release steps: assign to an app by client id, the channel or a pinned version
// (POST /api/v1/platform/apps/{client_id}/bundles), unassign, deprecate, and retire: the last-use report first
// (GET .../versions/{v}/usage), then the retirement, whose refusal names the apps that still use the version, with a
// forced retirement offered beside. Each change is confirmed on a page of its own first.
import type { FastifyInstance } from 'fastify';
import { problemOf, type ApiAnswer } from '../api.js';
import { one, paramOf, queryOf, type ActionContext, type Form, type PageContext } from '../context.js';
import { codeList, csrfField, esc, facts, field, page, pager, queryString, selectField, table, when } from '../html.js';
import { confirmation, enc, errorsOf, refused, stateBadge, type AreaDeps, type Back, type FormErrors } from './kit.js';
import { notices, OPERATOR, tenantLink } from './operator-shared.js';

const ACTIVE = '/console/bundles';
const TO_BUNDLES: Back = { href: '/console/bundles', label: 'Back to the bundles', active: ACTIVE };
/** The bundles list is one REST answer (bundles are curated files, few); the page shows it this many at a time. */
const BUNDLES_PER_PAGE = 20;
const CHANNEL = 'latest';

interface VersionSummary {
  version: string;
  status: string;
  published_at: string;
  deprecated_at: string | null;
  retired_at: string | null;
  operations: number;
}

interface BundleSummary {
  name: string;
  description: string;
  latest_version: string;
  versions: VersionSummary[];
}

interface Assignment {
  client_id: string;
  app_name: string | null;
  tenant_id: string;
  track: string;
  version: string | null;
  status: string | null;
  assigned_at: string;
  assigned_by: string;
}

interface RecentUse {
  client_id: string;
  app_name: string | null;
  tenant_id: string;
  last_used_at: string;
  calls: number;
}

const bundlePath = (bundle: string) => `/console/bundles/${enc(bundle)}`;
const versionPath = (bundle: string, version: string) => `${bundlePath(bundle)}/versions/${enc(version)}`;
const apiVersionPath = (bundle: string, version: string) => `/api/v1/platform/bundles/${enc(bundle)}/versions/${enc(version)}`;
const trackLabel = (track: string) => (track === CHANNEL ? 'the channel (every version not retired)' : `pinned to ${track}`);
const backTo = (bundle: string): Back => ({ href: bundlePath(bundle), label: `Back to ${bundle}`, active: ACTIVE });

async function bundlesPage({ request, reply, session, api }: PageContext) {
  const answer = await api.get('/api/v1/platform/bundles');
  if (answer.status !== 200) return refused(reply, session, answer, TO_BUNDLES);
  const after = queryOf(request).after;
  const sorted = (answer.body.bundles as BundleSummary[]).sort((a, b) => a.name.localeCompare(b.name));
  const rest = after ? sorted.filter((b) => b.name.localeCompare(after) > 0) : sorted;
  const shown = rest.slice(0, BUNDLES_PER_PAGE);
  const rows = shown.map((b) => [
    `<a href="${esc(bundlePath(b.name))}">${esc(b.name)}</a>`,
    esc(b.description),
    esc(b.latest_version),
    b.versions.map((v) => `${esc(v.version)} ${stateBadge(v.status)}`).join('<br>'),
  ]);
  const next = rest.length > BUNDLES_PER_PAGE ? `<p class="pager"><a href="/console/bundles?after=${esc(enc(shown[shown.length - 1]!.name))}">Next page</a></p>` : '';
  return page(reply, {
    title: 'Bundles',
    session,
    active: ACTIVE,
    notice: notices.of(request),
    body: `<h1>Operation bundles</h1>
<p>Curated in <code>operations/</code> and published with <code>tessera operations publish</code>. Open a bundle to see its operations, the apps that hold it, and to assign, deprecate or retire it.</p>
${table('Published bundles', ['Bundle', 'Description', 'Latest', 'Versions'], rows, 'No bundle is published yet.')}
${next}`,
  });
}

interface AssignForm {
  values: Form;
  errors: FormErrors;
  status: number;
}

async function bundlePage(context: PageContext, assign?: AssignForm) {
  const { request, reply, session, api } = context;
  const name = paramOf(request, 'bundle');
  const q = queryOf(request);
  const list = await api.get('/api/v1/platform/bundles');
  if (list.status !== 200) return refused(reply, session, list, TO_BUNDLES);
  const bundle = (list.body.bundles as BundleSummary[]).find((b) => b.name === name);
  if (!bundle) return refused(reply, session, { status: 404, body: { error: 'not_found', error_description: `no published bundle ${name}` }, headers: {}, text: '' }, TO_BUNDLES);
  const selected = bundle.versions.some((v) => v.version === q.version) ? q.version! : bundle.latest_version;
  const [detail, held] = await Promise.all([
    api.get(`/api/v1/platform/bundles/${enc(name)}?version=${enc(selected)}`),
    api.get(`/api/v1/platform/bundles/${enc(name)}/assignments${queryString({ cursor: q.cursor })}`),
  ]);
  if (detail.status !== 200) return refused(reply, session, detail, TO_BUNDLES);
  if (held.status !== 200) return refused(reply, session, held, backTo(name));

  const versions = [...bundle.versions].reverse().map((v) => [
    `${esc(v.version)}${v.version === selected ? ' <span class="hint">(shown below)</span>' : ''}`,
    stateBadge(v.status),
    when(v.published_at),
    when(v.deprecated_at),
    when(v.retired_at),
    esc(v.operations),
    [
      v.version === selected ? '' : `<a href="${esc(`${bundlePath(name)}?version=${enc(v.version)}`)}">Operations<span class="skip"> of ${esc(v.version)}</span></a>`,
      v.status === 'published' ? `<a href="${esc(`${versionPath(name, v.version)}/deprecate`)}">Deprecate<span class="skip"> ${esc(v.version)}</span>…</a>` : '',
      v.status !== 'retired' ? `<a href="${esc(`${versionPath(name, v.version)}/retire`)}">Retire<span class="skip"> ${esc(v.version)}</span>…</a>` : '',
    ]
      .filter(Boolean)
      .join(' · '),
  ]);
  const operations = (detail.body.operations as Array<{ id: string; name: string; type: string; required_scopes: string[]; document: string }>).map((o) => [
    `<strong>${esc(o.name)}</strong> <span class="hint">${esc(o.type)}</span>`,
    `<code>sha256:${esc(o.id)}</code>`,
    codeList(o.required_scopes),
    `<details><summary>Document<span class="skip"> of ${esc(o.name)}</span></summary><pre>${esc(o.document)}</pre></details>`,
  ]);
  const assignments = (held.body.assignments as Assignment[]).map((a) => [
    `${esc(a.app_name ?? 'an app')}<br><code>${esc(a.client_id)}</code>`,
    tenantLink(a.tenant_id),
    esc(trackLabel(a.track)),
    a.version ? `${esc(a.version)} ${stateBadge(a.status)}` : 'nothing (every version it may hold is retired)',
    `${when(a.assigned_at)}<br><span class="hint">by ${esc(a.assigned_by)}</span>`,
    `<a href="${esc(`${bundlePath(name)}/unassign${queryString({ client_id: a.client_id, track: a.track })}`)}">Unassign<span class="skip"> ${esc(a.app_name ?? a.client_id)} (${esc(a.track)})</span>…</a>`,
  ]);
  const values = assign?.values ?? {};
  const trackOptions = [
    { value: CHANNEL, label: 'The channel: every version not retired, new ones as they are published' },
    ...[...bundle.versions].reverse().filter((v) => v.status !== 'retired').map((v) => ({ value: v.version, label: `Pinned to ${v.version} (${v.status})` })),
  ];
  return page(reply, {
    title: name,
    session,
    active: ACTIVE,
    status: assign?.status,
    notice: notices.of(request),
    error: assign?.errors.page,
    body: `<p><a href="/console/bundles">Bundles</a></p>
<h1>${esc(name)}</h1>
<p>${esc(bundle.description)}</p>
<h2>Versions</h2>
${table(`Versions of ${name}, newest first`, ['Version', 'Status', 'Published', 'Deprecated', 'Retired', 'Operations', 'Actions'], versions)}
<h2>Operations of ${esc(selected)}</h2>
${facts([['Status', stateBadge(detail.body.status)], ['Published', `${when(detail.body.published_at)} by ${esc(detail.body.published_by)}`]])}
${table(`Operations of ${name} ${selected}`, ['Operation', 'Id', 'Scopes needed', 'Document'], operations, 'This version has no operation.')}
<h2 id="assignments">Apps holding ${esc(name)}</h2>
${table(`Apps holding ${name}`, ['App', 'Tenant', 'Track', 'Serves', 'Assigned', 'Action'], assignments, 'No app holds this bundle.')}
${pager(bundlePath(name), held.body.next_cursor, { version: q.version })}
<form method="post" action="${esc(`${bundlePath(name)}/assign`)}" class="card" aria-labelledby="assign" novalidate>${csrfField(session)}
  <h2 id="assign">Assign ${esc(name)} to an app</h2>
  ${field({ name: 'client_id', label: "The app's client id", value: one(values, 'client_id'), hint: 'An app of any tenant, e.g. app_…', error: assign?.errors.fields.client_id, required: true, autocomplete: 'off' })}
  ${selectField({ name: 'track', label: 'Track', value: one(values, 'track') ?? CHANNEL, options: trackOptions, error: assign?.errors.fields.track })}
  <button type="submit">Assign</button>
</form>`,
  });
}

async function assignBundle(context: ActionContext) {
  const { request, reply, api, form } = context;
  const name = paramOf(request, 'bundle');
  const clientId = (one(form, 'client_id') ?? '').trim();
  const track = one(form, 'track') ?? CHANNEL;
  const retry = (errors: FormErrors, status: number) => bundlePage(context, { values: form, errors, status });
  if (!clientId) return retry({ fields: { client_id: "Enter the client id of the app that is to hold the bundle." } }, 400);
  const answer = await api.post(`/api/v1/platform/apps/${enc(clientId)}/bundles`, { bundle: name, ...(track === CHANNEL ? {} : { version: track }) });
  if (answer.status === 201) return notices.done(reply, bundlePath(name), 'bundle-assigned');
  if (answer.status === 200) return notices.done(reply, bundlePath(name), 'bundle-already-assigned');
  // An unknown app is the client id's problem; an unknown or retired version, the track's.
  if (answer.status === 404 && /client_id/.test(problemOf(answer))) return retry({ fields: { client_id: problemOf(answer) } }, 404);
  if ((answer.status === 404 || answer.status === 409) && track !== CHANNEL) return retry({ fields: { track: problemOf(answer) } }, answer.status);
  return retry(errorsOf(answer, ['client_id', 'track'], { version: 'track' }), answer.status >= 400 && answer.status < 500 ? answer.status : 502);
}

function unassignPage({ request, reply, session }: PageContext) {
  const name = paramOf(request, 'bundle');
  const { client_id: clientId = '', track = CHANNEL } = queryOf(request);
  return confirmation(reply, session, {
    title: `Unassign ${name}?`,
    explain: `<p>The app <code>${esc(clientId)}</code> holds ${esc(name)} on ${esc(trackLabel(track))}. Unassigned, it can no longer run the operations it holds only through this track: they answer as unknown ones, on every server at once. Its other tracks stay.</p>`,
    action: `${bundlePath(name)}/unassign`,
    confirm: 'Unassign',
    hidden: { client_id: clientId, track },
    back: backTo(name),
  });
}

async function unassign({ request, reply, session, api, form }: ActionContext) {
  const name = paramOf(request, 'bundle');
  const clientId = one(form, 'client_id') ?? '';
  const track = one(form, 'track') ?? CHANNEL;
  const answer = await api.delete(`/api/v1/platform/apps/${enc(clientId)}/bundles/${enc(name)}${track === CHANNEL ? '' : `?version=${enc(track)}`}`);
  if (answer.status === 204) return notices.done(reply, bundlePath(name), 'bundle-unassigned');
  return refused(reply, session, answer, backTo(name));
}

function deprecatePage({ request, reply, session }: PageContext, error?: ApiAnswer) {
  const name = paramOf(request, 'bundle');
  const version = paramOf(request, 'version');
  return confirmation(reply, session, {
    title: `Deprecate ${name} ${version}?`,
    explain: `<p>The version stays served. Every answer to an operation an app holds only through it carries a <code>Deprecation</code> header (RFC 9745), and the app's operation list flags it, so its developers know to move on. A deprecated version is not published again: next comes its retirement.</p>`,
    action: `${versionPath(name, version)}/deprecate`,
    confirm: `Deprecate ${version}`,
    back: backTo(name),
    error: error ? problemOf(error) : undefined,
    status: error?.status,
  });
}

async function deprecate(context: ActionContext) {
  const { request, reply, api } = context;
  const name = paramOf(request, 'bundle');
  const version = paramOf(request, 'version');
  const answer = await api.post(`${apiVersionPath(name, version)}/deprecate`);
  if (answer.status === 200) return notices.done(reply, `${bundlePath(name)}?version=${enc(version)}`, 'version-deprecated');
  return deprecatePage(context, answer);
}

/** The report's lists come whole from the API: the first REPORT_ROWS are shown, and how many more there are. */
const REPORT_ROWS = 20;

function more(total: number, link: string): string {
  return total > REPORT_ROWS ? `<p>And ${esc(total - REPORT_ROWS)} more: ${link}.</p>` : '';
}

function recentTable(caption: string, recent: RecentUse[], bundle: string): string {
  return `${table(
    caption,
    ['App', 'Tenant', 'Last used', 'Calls'],
    recent.slice(0, REPORT_ROWS).map((r) => [`${esc(r.app_name ?? 'an app')}<br><code>${esc(r.client_id)}</code>`, tenantLink(r.tenant_id), when(r.last_used_at), esc(r.calls)]),
  )}${more(recent.length, `most recent first; <code>tessera operations usage ${esc(bundle)}@…</code> lists them all`)}`;
}

/** The last-use report, then the confirmation. */
async function retirePage({ request, reply, session, api }: PageContext) {
  const name = paramOf(request, 'bundle');
  const version = paramOf(request, 'version');
  const usage = await api.get(`${apiVersionPath(name, version)}/usage`);
  if (usage.status !== 200) return refused(reply, session, usage, backTo(name));
  const u = usage.body as { status: string; window_days: number; assigned: Array<{ client_id: string; tenant_id: string; track: string }>; recent_use: RecentUse[] };
  const report = `<h2>Who holds it</h2>
${table(`Apps holding ${name} ${version}`, ['App', 'Tenant', 'Track'], u.assigned.slice(0, REPORT_ROWS).map((a) => [`<code>${esc(a.client_id)}</code>`, tenantLink(a.tenant_id), esc(trackLabel(a.track))]), 'No app holds it.')}
${more(u.assigned.length, `see <a href="${esc(`${bundlePath(name)}#assignments`)}">the apps holding ${esc(name)}</a>`)}
<h2>Who used it in the last ${esc(u.window_days)} days</h2>
${u.recent_use.length ? recentTable(`Apps that used ${name} ${version} recently`, u.recent_use, name) : '<p>No app used it in that time.</p>'}`;
  if (u.status === 'retired') {
    return page(reply, { title: `${name} ${version} is retired`, session, active: ACTIVE, body: `<p><a href="${esc(bundlePath(name))}">${esc(name)}</a></p><h1>${esc(name)} ${esc(version)} is retired</h1>${report}` });
  }
  return confirmation(reply, session, {
    title: `Retire ${name} ${version}?`,
    explain: `<p>Status now: ${stateBadge(u.status)}. Retired, its operations answer exactly as unknown ones to every app, on every server at once; apps on the channel keep the other versions. A retirement is refused while an app used the version in the last ${esc(u.window_days)} days.</p>`,
    extra: report,
    action: `${versionPath(name, version)}/retire`,
    confirm: `Retire ${version}`,
    back: backTo(name),
  });
}

async function retire({ request, reply, session, api, form }: ActionContext) {
  const name = paramOf(request, 'bundle');
  const version = paramOf(request, 'version');
  const force = one(form, 'force') === 'yes';
  const answer = await api.post(`${apiVersionPath(name, version)}/retire`, force ? { force: true } : {});
  if (answer.status === 200) return notices.done(reply, `${bundlePath(name)}?version=${enc(version)}`, force ? 'version-retired-forced' : 'version-retired');
  if (answer.status === 409 && Array.isArray(answer.body?.recent_use)) {
    // Refused: the apps that still use it, and the forced retirement beside.
    return confirmation(reply, session, {
      title: `${name} ${version} is still in use`,
      status: 409,
      error: problemOf(answer),
      explain: `<p>These apps ran an operation of ${esc(name)} ${esc(version)} recently. Move them to another version first, or retire it anyway: they are cut off at once, and the audit log records whom.</p>`,
      extra: recentTable(`Apps that still use ${name} ${version}`, answer.body.recent_use as RecentUse[], name),
      action: `${versionPath(name, version)}/retire`,
      confirm: 'Retire anyway (force)',
      hidden: { force: 'yes' },
      back: backTo(name),
    });
  }
  return refused(reply, session, answer, backTo(name));
}

export function registerOperatorBundlePages(app: FastifyInstance, { context }: AreaDeps): void {
  const hide = { schema: { hide: true } };
  app.get('/console/bundles', hide, context.page(OPERATOR, bundlesPage));
  app.get('/console/bundles/:bundle', hide, context.page(OPERATOR, (c) => bundlePage(c)));
  app.post('/console/bundles/:bundle/assign', hide, context.action(OPERATOR, assignBundle));
  app.get('/console/bundles/:bundle/unassign', hide, context.page(OPERATOR, async (c) => unassignPage(c)));
  app.post('/console/bundles/:bundle/unassign', hide, context.action(OPERATOR, unassign));
  app.get('/console/bundles/:bundle/versions/:version/deprecate', hide, context.page(OPERATOR, async (c) => deprecatePage(c)));
  app.post('/console/bundles/:bundle/versions/:version/deprecate', hide, context.action(OPERATOR, deprecate));
  app.get('/console/bundles/:bundle/versions/:version/retire', hide, context.page(OPERATOR, retirePage));
  app.post('/console/bundles/:bundle/versions/:version/retire', hide, context.action(OPERATOR, retire));
}
