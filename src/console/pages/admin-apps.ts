// The tenant admin's apps (README "Console"): the list, paginated, with each app's state, and the registration form
// (GET /v1/platform/scopes for the scopes the tenant may use). The client secret of a new app is shown once, on the
// page that answers the registration, with a copy button; never again.
import type { FastifyInstance } from 'fastify';
import { all, one, queryOf, type ActionContext, type Form, type PageContext } from '../context.js';
import { checkboxes, codeList, csrfField, esc, facts, field, page, pager, queryString, secretOnce, selectField, table } from '../html.js';
import { lines, notices } from './admin-shared.js';
import { enc, errorsOf, firstUse, onceField, refused, stateBadge, usedTwice, type AreaDeps, type FormErrors } from './kit.js';

const ACTIVE = '/console/apps';
const PAGE_SIZE = 20;

export const GRANT_TYPES = [
  { value: 'client_credentials', label: 'client_credentials (a service calls the API as itself)' },
  { value: 'authorization_code', label: 'authorization_code (users sign in and consent)' },
  { value: 'refresh_token', label: 'refresh_token (with authorization_code)' },
];

const AUTH_METHODS = [
  { value: 'client_secret_basic', label: 'client_secret_basic (HTTP Basic; the default)' },
  { value: 'client_secret_post', label: 'client_secret_post (in the form body)' },
  { value: 'none', label: 'none (a public client: no secret, PKCE required)' },
];

/** What the registration and edit forms hold, as typed. */
export interface AppFormValues {
  name: string;
  grant_types: string[];
  redirect_uris: string;
  post_logout_redirect_uris: string;
  requested_scopes: string[];
  token_endpoint_auth_method?: string;
}

export const APP_FIELDS = ['name', 'grant_types', 'redirect_uris', 'post_logout_redirect_uris', 'requested_scopes', 'token_endpoint_auth_method'];

export function appFormValues(form: Form): AppFormValues {
  return {
    name: one(form, 'name') ?? '',
    grant_types: all(form, 'grant_types'),
    redirect_uris: one(form, 'redirect_uris') ?? '',
    post_logout_redirect_uris: one(form, 'post_logout_redirect_uris') ?? '',
    requested_scopes: all(form, 'requested_scopes'),
    token_endpoint_auth_method: one(form, 'token_endpoint_auth_method'),
  };
}

/** The REST body of a registration or an edit, from the form as typed (the API checks it). */
export function appBody(values: AppFormValues) {
  return {
    name: values.name,
    grant_types: values.grant_types,
    redirect_uris: lines(values.redirect_uris),
    post_logout_redirect_uris: lines(values.post_logout_redirect_uris),
    requested_scopes: values.requested_scopes,
  };
}

export interface Scope {
  name: string;
  description: string;
}

/** The scope checkboxes: the tenant's scopes, and any the app holds that the tenant may no longer give. */
export function scopeOptions(catalog: Scope[], held: string[] = []) {
  const names = new Set(catalog.map((s) => s.name));
  return [...catalog.map((s) => ({ value: s.name, label: s.description ? `${s.name}: ${s.description}` : s.name })), ...held.filter((s) => !names.has(s)).map((s) => ({ value: s, label: `${s} (no longer available to the tenant)` }))];
}

/** The fields of an app's registration (and, without the authentication method, of its edit form). */
export function appFields(values: AppFormValues, errors: Record<string, string>, catalog: Scope[], options: { registering: boolean; held?: string[] }): string {
  return `${field({ name: 'name', label: 'Name', value: values.name, required: true, error: errors.name, autocomplete: 'off' })}
${checkboxes('grant_types', 'Grant types', GRANT_TYPES, values.grant_types, errors.grant_types)}
${field({ name: 'redirect_uris', label: 'Redirect URIs', value: values.redirect_uris, textarea: true, hint: 'One a line; https (http only for loopback). Needed by authorization_code, and only by it.', error: errors.redirect_uris })}
${field({ name: 'post_logout_redirect_uris', label: 'Post-logout redirect URIs (optional)', value: values.post_logout_redirect_uris, textarea: true, hint: 'One a line: where OpenID Connect logout may send users back to.', error: errors.post_logout_redirect_uris })}
${checkboxes('requested_scopes', 'Requested scopes', scopeOptions(catalog, options.held), values.requested_scopes, errors.requested_scopes)}
${options.registering ? selectField({ name: 'token_endpoint_auth_method', label: 'Token endpoint authentication method', options: AUTH_METHODS, value: values.token_endpoint_auth_method ?? 'client_secret_basic', error: errors.token_endpoint_auth_method }) : ''}`;
}

interface Registration {
  values: AppFormValues;
  errors: FormErrors;
}

const EMPTY: AppFormValues = { name: '', grant_types: ['client_credentials'], redirect_uris: '', post_logout_redirect_uris: '', requested_scopes: [], token_endpoint_auth_method: 'client_secret_basic' };

async function listPage({ request, reply, session, api }: PageContext, registration?: Registration) {
  const { cursor } = queryOf(request);
  const [apps, scopes] = await Promise.all([api.get(`/v1/platform/apps${queryString({ limit: PAGE_SIZE, cursor })}`), api.get('/v1/platform/scopes')]);
  if (apps.status !== 200) return refused(reply, session, apps, { href: ACTIVE, label: 'Back to the apps', active: ACTIVE });
  const catalog: Scope[] = scopes.status === 200 ? scopes.body.scopes : [];
  const rows = (apps.body.apps as Array<Record<string, any>>).map((app) => [
    `<a href="/console/apps/${esc(enc(app.client_id))}">${esc(app.name)}</a>`,
    `<code>${esc(app.client_id)}</code>`,
    stateBadge(app.status),
    esc((app.grant_types as string[]).join(', ')),
    codeList(app.requested_scopes),
  ]);
  const values = registration?.values ?? EMPTY;
  return page(reply, {
    title: 'Apps',
    session,
    active: ACTIVE,
    status: registration ? 400 : 200,
    notice: notices.of(request),
    error: registration?.errors.page,
    body: `<h1>Apps</h1>
${table('The tenant\'s apps', ['Name', 'Client id', 'Status', 'Grant types', 'Scopes'], rows, 'No app is registered yet.')}
${pager(ACTIVE, apps.body.next_cursor)}
<form method="post" action="${ACTIVE}" class="card" aria-labelledby="register">
  <h2 id="register">Register an app</h2>
  ${csrfField(session)}${onceField()}
  ${appFields(values, registration?.errors.fields ?? {}, catalog, { registering: true })}
  <div><button type="submit">Register</button></div>
</form>`,
  });
}

async function register(context: ActionContext) {
  const { request, reply, session, api, form } = context;
  if (!firstUse(request, reply, form)) return usedTwice(reply, session, { href: ACTIVE, label: 'Back to the apps', active: ACTIVE });
  const values = appFormValues(form);
  const answer = await api.post('/v1/platform/apps', { ...appBody(values), ...(values.token_endpoint_auth_method ? { token_endpoint_auth_method: values.token_endpoint_auth_method } : {}) });
  if (answer.status !== 201) return listPage(context, { values, errors: errorsOf(answer, APP_FIELDS) });
  const app = answer.body;
  if (!app.client_secret) return notices.done(reply, `/console/apps/${enc(app.client_id)}`, 'app-registered');
  return page(reply, {
    title: 'App registered',
    session,
    active: ACTIVE,
    notice: `${app.name} was registered.`,
    body: `<h1>App registered: ${esc(app.name)}</h1>
${facts([
  ['Client id', `<code>${esc(app.client_id)}</code>`],
  ['Grant types', esc(app.grant_types.join(', '))],
  ['Scopes', codeList(app.requested_scopes)],
  ['Authentication', `<code>${esc(app.token_endpoint_auth_method)}</code>`],
])}
${secretOnce('client-secret', 'Client secret', app.client_secret)}
<p><a href="/console/apps/${esc(enc(app.client_id))}">Go to the app</a> · <a href="${ACTIVE}">Back to the apps</a></p>`,
  });
}

export function registerAppListPages(app: FastifyInstance, { context }: AreaDeps): void {
  app.get(ACTIVE, { schema: { hide: true } }, context.page(['admin'], (c) => listPage(c)));
  app.post(ACTIVE, { schema: { hide: true } }, context.action(['admin'], register));
}
