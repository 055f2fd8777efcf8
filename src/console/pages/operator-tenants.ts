// The operator's tenants (README "Console"): every tenant, sandboxes marked (GET /api/v1/platform/tenants), one tenant
// with its counts and a sandbox's term (GET /api/v1/platform/tenants/{id}), the published scopes it may use (GET/PUT/
// DELETE /api/v1/platform/tenants/{id}/scopes: withholding a scope it has asks first, since its apps' tokens lose it at
// once), and a new sandbox (POST /api/v1/platform/sandboxes), its admin's password shown once.
import type { FastifyInstance } from 'fastify';
import { problemOf, type ApiAnswer } from '../api.js';
import { all, one, paramOf, queryOf, type ActionContext, type Form, type PageContext } from '../context.js';
import { badge, checkboxes, codeList, csrfField, esc, facts, field, page, pager, queryString, radios, secretOnce, selectField, table, when } from '../html.js';
import { confirmation, enc, errorsOf, firstUse, numberOrText, onceField, refused, stateBadge, usedTwice, type AreaDeps, type Back } from './kit.js';
import { notices, OPERATOR, tenantLink } from './operator-shared.js';

const ACTIVE = '/console/tenants';
const TO_TENANTS: Back = { href: '/console/tenants', label: 'Back to the tenants', active: ACTIVE };

interface TenantView {
  id: string;
  slug: string;
  name: string;
  sandbox: boolean;
  operators: boolean;
  status: 'active' | 'expired';
  parent_tenant_id: string | null;
  created_at: string;
  expires_at: string | null;
  disabled_at: string | null;
}

interface TenantDetail extends TenantView {
  mfa_required: string;
  federation_required: boolean;
  app_count: number;
  user_count: number;
}

function kindOf(tenant: TenantView): string {
  if (tenant.sandbox) return `${badge('sandbox', 'warn')}${tenant.status === 'expired' ? ` ${badge('expired', 'bad')}` : ''}`;
  if (tenant.operators) return badge('operators', 'muted');
  return 'production';
}

async function tenantsPage({ request, reply, session, api }: PageContext) {
  const q = queryOf(request);
  const filter = q.sandbox === 'true' || q.sandbox === 'false' ? q.sandbox : undefined;
  const answer = await api.get(`/api/v1/platform/tenants${queryString({ sandbox: filter, cursor: q.cursor })}`);
  if (answer.status !== 200) return refused(reply, session, answer, TO_TENANTS);
  const tenants = answer.body.tenants as TenantView[];
  const rows = tenants.map((t) => [
    `<a href="/console/tenants/${esc(enc(t.id))}">${esc(t.name)}</a>`,
    `<code>${esc(t.slug)}</code>`,
    kindOf(t),
    t.sandbox ? when(t.expires_at) : '–',
    when(t.created_at),
  ]);
  return page(reply, {
    title: 'Tenants',
    session,
    active: ACTIVE,
    notice: notices.of(request),
    body: `<h1>Tenants</h1>
<p class="row"><a class="button" href="/console/tenants/new-sandbox">Create a sandbox</a></p>
<form method="get" action="/console/tenants" class="row filters" aria-label="Filter the tenants">
  ${selectField({ name: 'sandbox', label: 'Show', value: filter ?? '', options: [{ value: '', label: 'Every tenant' }, { value: 'true', label: 'Sandboxes only' }, { value: 'false', label: 'Tenants that are not sandboxes' }] })}
  <button type="submit" class="secondary">Filter</button>
</form>
${table('Tenants, oldest first', ['Tenant', 'Slug', 'Kind', 'Sandbox expires', 'Created'], rows, 'No tenant matches.')}
${pager('/console/tenants', answer.body.next_cursor, { sandbox: filter })}`,
  });
}

interface ScopesForm {
  mode: 'all' | 'chosen';
  scopes: string[];
  error?: string;
}

/** The tenant, its scopes and the published ones; null (the page answered) when the tenant cannot be read. */
async function readTenant(context: PageContext, id: string) {
  const { reply, session, api } = context;
  const tenant = await api.get(`/api/v1/platform/tenants/${enc(id)}`);
  if (tenant.status !== 200) {
    refused(reply, session, tenant, TO_TENANTS);
    return null;
  }
  const [chosen, published] = await Promise.all([api.get(`/api/v1/platform/tenants/${enc(id)}/scopes`), api.get('/v1/platform/scopes')]);
  for (const answer of [chosen, published]) {
    if (answer.status !== 200) {
      refused(reply, session, answer, TO_TENANTS);
      return null;
    }
  }
  return {
    tenant: tenant.body as TenantDetail,
    scopes: chosen.body as { scopes: string[]; restricted: boolean },
    published: (published.body.scopes as Array<{ name: string; description: string }>).map((s) => s.name),
  };
}

async function tenantPage(context: PageContext, form?: ScopesForm, status?: number) {
  const { request, reply, session } = context;
  const read = await readTenant(context, paramOf(request, 'id'));
  if (!read) return reply;
  const { tenant: t, scopes, published } = read;
  const mode = form?.mode ?? (scopes.restricted ? 'chosen' : 'all');
  const checked = form?.scopes ?? scopes.scopes;
  const rows: Array<[string, string]> = [
    ['Name', esc(t.name)],
    ['Slug', `<code>${esc(t.slug)}</code>`],
    ['Id', `<code>${esc(t.id)}</code>`],
    ['Kind', kindOf(t)],
    ['Created', when(t.created_at)],
  ];
  if (t.sandbox) {
    rows.push(['Status', stateBadge(t.status)]);
    rows.push(['Expires', `${when(t.expires_at)}${t.status === 'expired' ? ' (its tokens are refused)' : ''}`]);
    if (t.disabled_at) rows.push(['Disabled', when(t.disabled_at)]);
    rows.push(['Asked for by', t.parent_tenant_id ? tenantLink(t.parent_tenant_id) : 'an operator']);
  }
  rows.push(['Apps', esc(t.app_count)], ['Users', esc(t.user_count)], ['Second factor required of', esc(t.mfa_required)], ['Federation required', t.federation_required ? 'yes' : 'no']);
  return page(reply, {
    title: t.name,
    session,
    active: ACTIVE,
    status,
    notice: notices.of(request),
    body: `<p><a href="/console/tenants">Tenants</a></p>
<h1>${esc(t.name)}</h1>
${facts(rows)}
<h2 id="scopes">Scopes</h2>
<p>Now: ${scopes.restricted ? `only ${codeList(scopes.scopes)}` : 'every published scope (the default, scopes published later included)'}.</p>
<form method="post" action="/console/tenants/${esc(enc(t.id))}/scopes" class="card" aria-labelledby="scopes">${csrfField(session)}
  ${radios({
    name: 'mode',
    legend: 'Which published scopes may this tenant use?',
    options: [
      { value: 'all', label: 'Every published scope (the default; scopes published later too)' },
      { value: 'chosen', label: 'Only the scopes ticked below' },
    ],
    checked: mode,
    stacked: true,
  })}
  ${checkboxes('scopes', 'Published scopes', published.map((name) => ({ value: name })), checked, form?.error)}
  <button type="submit">Save scopes</button>
</form>`,
  });
}

async function saveScopes(context: ActionContext) {
  const { request, reply, session, api, form } = context;
  const id = paramOf(request, 'id');
  const mode = one(form, 'mode') === 'all' ? 'all' : 'chosen';
  const chosen = all(form, 'scopes');
  const base = `/console/tenants/${enc(id)}`;
  if (mode === 'all') {
    const answer = await api.delete(`/api/v1/platform/tenants/${enc(id)}/scopes`);
    if (answer.status !== 200) return refused(reply, session, answer, { ...TO_TENANTS, href: base, label: 'Back to the tenant' });
    return notices.done(reply, base, 'scopes-all');
  }
  // Withholding a scope the tenant may use now takes it from its apps' tokens at once: asked first.
  const now = await api.get(`/api/v1/platform/tenants/${enc(id)}/scopes`);
  if (now.status !== 200) return refused(reply, session, now, TO_TENANTS);
  const withheld = (now.body.scopes as string[]).filter((s) => !chosen.includes(s));
  if (withheld.length && one(form, 'confirm') !== 'yes') {
    return confirmation(reply, session, {
      title: 'Withhold scopes from this tenant?',
      explain: `<p>The tenant <code>${esc(id)}</code> may use ${codeList(now.body.scopes)} now. Saving leaves it ${codeList(chosen)}.</p>
<p>Its apps lose ${codeList(withheld)} at once: new tokens do not get them, and tokens already issued stop carrying them at their next use (a call that needs one is refused). Giving them back later gives them back to the apps.</p>`,
      action: `${base}/scopes`,
      confirm: `Withhold ${withheld.length === 1 ? 'this scope' : `these ${withheld.length} scopes`}`,
      hidden: { mode: 'chosen', scopes: chosen, confirm: 'yes' },
      back: { href: base, label: 'Back to the tenant', active: ACTIVE },
    });
  }
  const answer = await api.put(`/api/v1/platform/tenants/${enc(id)}/scopes`, { scopes: chosen });
  if (answer.status === 200) return notices.done(reply, base, 'scopes-chosen');
  if (answer.status === 400) return tenantPage(context, { mode, scopes: chosen, error: problemOf(answer) }, 400);
  return refused(reply, session, answer, { href: base, label: 'Back to the tenant', active: ACTIVE });
}

// ------------------------------------------------------------------------------------------------ a new sandbox

const SANDBOX_FIELDS = ['name', 'slug', 'admin_email', 'ttl_days'];

function sandboxForm(context: PageContext, values: Form = {}, errors: { fields: Record<string, string>; page?: string } = { fields: {} }, status?: number) {
  const { reply, session } = context;
  return page(reply, {
    title: 'Create a sandbox',
    session,
    active: ACTIVE,
    status,
    error: errors.page,
    body: `<p><a href="/console/tenants">Tenants</a></p>
<h1>Create a sandbox</h1>
<p>A sandbox is a tenant for trying Tessera out: it gets a first admin (a generated password, shown once), five sample incidents, lower limits, and it expires.</p>
<form method="post" action="/console/tenants/new-sandbox" class="card" novalidate>${csrfField(session)}${onceField()}
  ${field({ name: 'name', label: 'Name', value: one(values, 'name'), error: errors.fields.name, required: true })}
  ${field({ name: 'slug', label: 'Slug (optional)', value: one(values, 'slug'), hint: 'Lowercase letters, digits and dashes; made from the name when left empty.', error: errors.fields.slug })}
  ${field({ name: 'admin_email', label: "Admin's email", type: 'email', value: one(values, 'admin_email'), error: errors.fields.admin_email, required: true, autocomplete: 'off' })}
  ${field({ name: 'ttl_days', label: 'Days until it expires (optional)', type: 'number', value: one(values, 'ttl_days'), hint: "1 to 365; the server's default (SANDBOX_TTL_DAYS) when left empty.", error: errors.fields.ttl_days })}
  <button type="submit">Create the sandbox</button>
</form>`,
  });
}

async function createSandbox(context: ActionContext) {
  const { request, reply, session, api, form } = context;
  if (!firstUse(request, reply, form)) return usedTwice(reply, session, TO_TENANTS);
  const slug = (one(form, 'slug') ?? '').trim();
  const body = {
    name: one(form, 'name') ?? '',
    ...(slug ? { slug } : {}),
    admin_email: (one(form, 'admin_email') ?? '').trim(),
    ...(numberOrText(one(form, 'ttl_days')) !== undefined ? { ttl_days: numberOrText(one(form, 'ttl_days')) } : {}),
  };
  const answer: ApiAnswer = await api.post('/api/v1/platform/sandboxes', body);
  if (answer.status === 201) {
    const s = answer.body;
    return page(reply, {
      title: 'Sandbox created',
      session,
      active: ACTIVE,
      body: `<p><a href="/console/tenants">Tenants</a></p>
<h1>Sandbox created</h1>
${facts([
  ['Name', esc(s.name)],
  ['Slug', `<code>${esc(s.tenant_slug)}</code>`],
  ['Expires', when(s.expires_at)],
  ['Admin', esc(s.admin_email)],
  ['Sample incidents', esc(s.sample_incidents)],
])}
${secretOnce('admin-password', "The admin's password", String(s.admin_password))}
<p>The admin signs in to the console with the organisation <code>${esc(s.tenant_slug)}</code> and this password.</p>
<p><a class="button" href="/console/tenants/${esc(enc(s.tenant_id))}">Open the sandbox</a></p>`,
    });
  }
  // A slug already taken is the slug's problem.
  const errors = answer.status === 409 && /slug/.test(problemOf(answer)) ? { fields: { slug: problemOf(answer) } } : errorsOf(answer, SANDBOX_FIELDS);
  return sandboxForm(context, form, errors, answer.status >= 400 && answer.status < 500 ? answer.status : 502);
}

export function registerOperatorTenantPages(app: FastifyInstance, { context }: AreaDeps): void {
  app.get('/console/tenants', { schema: { hide: true } }, context.page(OPERATOR, tenantsPage));
  app.get('/console/tenants/new-sandbox', { schema: { hide: true } }, context.page(OPERATOR, async (c) => sandboxForm(c)));
  app.post('/console/tenants/new-sandbox', { schema: { hide: true } }, context.action(OPERATOR, createSandbox));
  app.get('/console/tenants/:id', { schema: { hide: true } }, context.page(OPERATOR, (c) => tenantPage(c)));
  app.post('/console/tenants/:id/scopes', { schema: { hide: true } }, context.action(OPERATOR, saveScopes));
}
