// One app, for its tenant's admin (README "Console"): its details and operation bundles (read-only: an operator assigns
// them), the edit form (PATCH), governance, the secret (rotate, with the new one shown once; end the previous one),
// service tokens (mint, shown once; list; revoke), and suspend / resume / delete, each confirmed by typing the app's
// name. Every change goes through /v1/platform/apps/** as the signed-in admin; another tenant's app is not found.
import type { FastifyInstance } from 'fastify';
import type { ApiAnswer } from '../api.js';
import { all, one, paramOf, queryOf, type ActionContext, type PageContext } from '../context.js';
import { badge, checkboxes, codeList, csrfField, esc, facts, field, page, pager, queryString, secretOnce, table, when } from '../html.js';
import { appBody, appFields, appFormValues, APP_FIELDS, type AppFormValues, type Scope } from './admin-apps.js';
import { checkbox, notFound, notices, ticked } from './admin-shared.js';
import { confirmation, enc, errorsOf, firstUse, numberOrText, onceField, refused, stateBadge, usedTwice, type AreaDeps, type Back, type FormErrors } from './kit.js';

const ACTIVE = '/console/apps';
const TOKENS_PAGE_SIZE = 20;
/** Scopes about a signed-in user: a service token has none (the API refuses them), so they are not offered. */
const USER_SCOPES = new Set(['openid', 'profile', 'email']);
const BACK: Back = { href: ACTIVE, label: 'Back to the apps', active: ACTIVE };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the shape GET /v1/platform/apps/{client_id} documents
type App = Record<string, any>;

const appPath = (clientId: string) => `/console/apps/${enc(clientId)}`;
const apiPath = (clientId: string) => `/v1/platform/apps/${enc(clientId)}`;

/** The app, or the page that says it is not there (another tenant's, deleted, never made). */
async function appOr(context: PageContext, clientId: string): Promise<{ app: App } | { answered: unknown }> {
  const answer = await context.api.get(apiPath(clientId));
  if (answer.status === 200) return { app: answer.body };
  if (answer.status === 404) return { answered: notFound(context.reply, context.session, `No app with client id ${clientId} is registered in this tenant.`, BACK) };
  return { answered: refused(context.reply, context.session, answer, BACK) };
}

interface FormState<V> {
  values: V;
  errors: FormErrors;
}

interface GovernanceValues {
  allow_service_tokens: boolean;
  enforce_pkce: boolean;
  access_token_ttl: string;
  service_token_max_ttl: string;
}

interface MintValues {
  scopes: string[];
  expires_in: string;
}

interface AppPageState {
  edit?: FormState<AppFormValues>;
  governance?: FormState<GovernanceValues>;
  mint?: FormState<MintValues>;
}

function editValuesOf(app: App): AppFormValues {
  return {
    name: app.name,
    grant_types: app.grant_types,
    redirect_uris: app.redirect_uris.join('\n'),
    post_logout_redirect_uris: app.post_logout_redirect_uris.join('\n'),
    requested_scopes: app.requested_scopes,
  };
}

function governanceValuesOf(app: App): GovernanceValues {
  const g = app.governance;
  return { allow_service_tokens: g.allow_service_tokens, enforce_pkce: g.enforce_pkce, access_token_ttl: String(g.access_token_ttl), service_token_max_ttl: String(g.service_token_max_ttl) };
}

async function appPage(context: PageContext, state: AppPageState = {}) {
  const { request, reply, session, api } = context;
  const clientId = paramOf(request, 'client_id');
  const found = await appOr(context, clientId);
  if ('answered' in found) return found.answered;
  const { app } = found;
  const { cursor } = queryOf(request);
  const [scopes, tokens, bundles] = await Promise.all([
    api.get('/v1/platform/scopes'),
    api.get(`${apiPath(clientId)}/service-tokens${queryString({ limit: TOKENS_PAGE_SIZE, cursor })}`),
    api.get(`/api/v1/platform/apps/${enc(clientId)}/bundles`),
  ]);
  const catalog: Scope[] = scopes.status === 200 ? scopes.body.scopes : [];
  const here = appPath(clientId);
  const failed = state.edit ?? state.governance ?? state.mint;
  return page(reply, {
    title: app.name,
    session,
    active: ACTIVE,
    status: failed ? 400 : 200,
    notice: notices.of(request),
    error: failed?.errors.page,
    body: `<p><a href="${ACTIVE}">Apps</a> › ${esc(app.name)}</p>
<h1>${esc(app.name)} ${stateBadge(app.status)}</h1>
${app.status === 'suspended' ? `<div class="warning">Suspended ${when(app.suspended_at)}${app.suspended_reason ? `: ${esc(app.suspended_reason)}` : ''}. It gets no token, its tokens are refused and its webhook deliveries are held.</div>` : ''}
${facts([
  ['Client id', `<code>${esc(app.client_id)}</code>`],
  ['Authentication', `<code>${esc(app.token_endpoint_auth_method)}</code>`],
  ['Grant types', esc(app.grant_types.join(', '))],
  ['Redirect URIs', codeList(app.redirect_uris)],
  ['Post-logout redirect URIs', codeList(app.post_logout_redirect_uris)],
  ['Scopes', codeList(app.requested_scopes)],
  ['Registered', when(app.created_at)],
  ['Last changed', when(app.updated_at)],
])}
<p class="row"><a href="${here}/activity">Activity</a>
${app.status === 'suspended' ? `<a class="button secondary" href="${here}/resume">Resume…</a>` : `<a class="button secondary" href="${here}/suspend">Suspend…</a>`}
<a class="button secondary" href="${here}/delete">Delete…</a></p>
${secretSection(app)}
${tokensSection(context, app, tokens, state.mint)}
${governanceForm(context, app, state.governance)}
${bundlesSection(app, bundles)}
${editForm(context, app, catalog, state.edit)}`,
  });
}

function editForm({ session }: PageContext, app: App, catalog: Scope[], state?: FormState<AppFormValues>): string {
  return `<form method="post" action="${appPath(app.client_id)}" class="card" aria-labelledby="edit">
  <h2 id="edit">Edit</h2>
  ${csrfField(session)}
  ${appFields(state?.values ?? editValuesOf(app), state?.errors.fields ?? {}, catalog, { registering: false, held: app.requested_scopes })}
  <div><button type="submit">Save changes</button></div>
</form>`;
}

function governanceForm({ session }: PageContext, app: App, state?: FormState<GovernanceValues>): string {
  const values = state?.values ?? governanceValuesOf(app);
  const errors = state?.errors.fields ?? {};
  return `<form method="post" action="${appPath(app.client_id)}/governance" class="card" aria-labelledby="governance">
  <h2 id="governance">Governance</h2>
  ${csrfField(session)}
  ${checkbox('allow_service_tokens', 'Service tokens', 'Allow service tokens to be minted for this app', values.allow_service_tokens, errors.allow_service_tokens)}
  ${checkbox('enforce_pkce', 'PKCE', 'Require PKCE for the authorization code grant', values.enforce_pkce, errors.enforce_pkce)}
  ${field({ name: 'access_token_ttl', label: 'Access token lifetime (seconds)', type: 'number', value: values.access_token_ttl, error: errors.access_token_ttl })}
  ${field({ name: 'service_token_max_ttl', label: 'Longest service token lifetime (seconds)', type: 'number', value: values.service_token_max_ttl, error: errors.service_token_max_ttl })}
  <div><button type="submit">Save governance</button></div>
</form>`;
}

function secretSection(app: App): string {
  const here = appPath(app.client_id);
  if (app.token_endpoint_auth_method === 'none') return `<section class="card" aria-labelledby="secret"><h2 id="secret">Client secret</h2><p>A public client has no secret: it proves itself with PKCE.</p></section>`;
  return `<section class="card" aria-labelledby="secret"><h2 id="secret">Client secret</h2>
<p>The secret is stored as a hash: it cannot be shown again. Rotating makes a new one (shown once) and keeps the previous one working for a grace period.</p>
<p class="row"><a class="button secondary" href="${here}/rotate">Rotate the secret…</a> <a class="button secondary" href="${here}/end-previous-secret">End the previous secret…</a></p></section>`;
}

function tokensSection({ session }: PageContext, app: App, tokens: ApiAnswer, state?: FormState<MintValues>): string {
  const here = appPath(app.client_id);
  const list =
    tokens.status === 200
      ? `${table(
          'Service tokens',
          ['Id', 'Scopes', 'Status', 'Minted', 'Expires', ''],
          (tokens.body.service_tokens as App[]).map((t) => [
            `<code>${esc(t.id)}</code>`,
            codeList(t.scopes),
            t.status === 'active' ? badge('active', 'ok') : t.status === 'revoked' ? badge(`revoked ${when(t.revoked_at)}`, 'bad') : badge('expired', 'muted'),
            when(t.created_at),
            when(t.expires_at),
            t.status === 'active' ? `<a href="${here}/service-tokens/${esc(enc(t.id))}/revoke">Revoke<span class="skip"> ${esc(t.id)}</span></a>` : '',
          ]),
          'No service token was minted.',
        )}${pager(here, tokens.body.next_cursor)}`
      : `<p class="error">${esc(tokens.body?.error_description ?? 'The service tokens could not be listed.')}</p>`;
  const offered = (app.requested_scopes as string[]).filter((s) => !USER_SCOPES.has(s));
  const values = state?.values ?? { scopes: [], expires_in: '' };
  const errors = state?.errors.fields ?? {};
  const mint = !app.governance.allow_service_tokens
    ? '<p>Service tokens are off for this app: allow them under Governance first.</p>'
    : app.status !== 'active'
      ? '<p>A suspended app gets no new service token.</p>'
      : `<form method="post" action="${here}/service-tokens" aria-labelledby="mint"><h3 id="mint">Mint a service token</h3>
  ${csrfField(session)}${onceField()}
  ${checkboxes('scopes', 'Scopes', offered.map((s) => ({ value: s })), values.scopes, errors.scopes)}
  ${field({ name: 'expires_in', label: 'Expires in (seconds, optional)', type: 'number', value: values.expires_in, hint: `At most ${app.governance.service_token_max_ttl} (governance).`, error: errors.expires_in })}
  <div><button type="submit">Mint</button></div></form>`;
  return `<section class="card" aria-labelledby="tokens"><h2 id="tokens">Service tokens</h2>${list}${mint}</section>`;
}

function bundlesSection(app: App, bundles: ApiAnswer): string {
  const body =
    bundles.status === 200
      ? table(
          'Operation bundles',
          ['Bundle', 'Track', 'Version', 'Status', 'Assigned'],
          (bundles.body.bundles as App[]).map((b) => [
            `<code>${esc(b.bundle)}</code>`,
            esc(b.track === 'latest' ? 'channel (every live version)' : `pinned to ${b.track}`),
            esc(b.version ?? '–'),
            b.status ? badge(b.status, b.status === 'published' ? 'ok' : 'warn') : badge('none live', 'muted'),
            when(b.assigned_at),
          ]),
          'This app holds no operation bundle.',
        )
      : `<p class="error">${esc(bundles.body?.error_description ?? 'The bundles could not be listed.')}</p>`;
  return `<section class="card" aria-labelledby="bundles"><h2 id="bundles">Operation bundles</h2>${body}
<p class="hint">An operator assigns bundles. <a href="/console/requests/new?kind=bundle&amp;client_id=${esc(enc(app.client_id))}">Request a bundle for this app</a></p></section>`;
}

// ------------------------------------------------------------------------------------------------ changes

async function edit(context: ActionContext) {
  const { request, reply, api, form } = context;
  const clientId = paramOf(request, 'client_id');
  const values = appFormValues(form);
  const answer = await api.patch(apiPath(clientId), appBody(values));
  if (answer.status === 200) return notices.done(reply, appPath(clientId), 'app-updated');
  if (answer.status === 404) return appPage(context);
  return appPage(context, { edit: { values, errors: errorsOf(answer, APP_FIELDS) } });
}

async function governance(context: ActionContext) {
  const { request, reply, api, form } = context;
  const clientId = paramOf(request, 'client_id');
  const values: GovernanceValues = {
    allow_service_tokens: ticked(form, 'allow_service_tokens'),
    enforce_pkce: ticked(form, 'enforce_pkce'),
    access_token_ttl: one(form, 'access_token_ttl') ?? '',
    service_token_max_ttl: one(form, 'service_token_max_ttl') ?? '',
  };
  const body = {
    allow_service_tokens: values.allow_service_tokens,
    enforce_pkce: values.enforce_pkce,
    ...(numberOrText(values.access_token_ttl) !== undefined ? { access_token_ttl: numberOrText(values.access_token_ttl) } : {}),
    ...(numberOrText(values.service_token_max_ttl) !== undefined ? { service_token_max_ttl: numberOrText(values.service_token_max_ttl) } : {}),
  };
  const answer = await api.patch(`${apiPath(clientId)}/governance`, body);
  if (answer.status === 200) return notices.done(reply, appPath(clientId), 'governance-updated');
  if (answer.status === 404) return appPage(context);
  return appPage(context, { governance: { values, errors: errorsOf(answer, ['allow_service_tokens', 'enforce_pkce', 'access_token_ttl', 'service_token_max_ttl']) } });
}

async function mint(context: ActionContext) {
  const { request, reply, session, api, form } = context;
  const clientId = paramOf(request, 'client_id');
  if (!firstUse(request, reply, form)) return usedTwice(reply, session, { href: appPath(clientId), label: 'Back to the app', active: ACTIVE });
  const values: MintValues = { scopes: all(form, 'scopes'), expires_in: one(form, 'expires_in') ?? '' };
  const expiresIn = numberOrText(values.expires_in);
  const answer = await api.post(`${apiPath(clientId)}/service-token`, { scopes: values.scopes, ...(expiresIn !== undefined ? { expires_in: expiresIn } : {}) });
  if (answer.status === 404) return appPage(context);
  if (answer.status !== 201) return appPage(context, { mint: { values, errors: errorsOf(answer, ['scopes', 'expires_in']) } });
  const token = answer.body;
  return page(reply, {
    title: 'Service token minted',
    session,
    active: ACTIVE,
    notice: 'The service token was minted.',
    body: `<h1>Service token minted</h1>
${facts([
  ['Id', `<code>${esc(token.id)}</code>`],
  ['Scopes', codeList(token.scopes)],
  ['Expires', when(token.expires_at)],
])}
${secretOnce('service-token', 'Service token', token.token)}
<p><a href="${appPath(clientId)}">Back to the app</a></p>`,
  });
}

// ------------------------------------------------------------------------------------------------ confirmations

/** A confirmation page of the app: what will happen, and a form that does it. */
async function appConfirmation(
  context: PageContext,
  options: { title: (app: App) => string; action: string; warning: (app: App) => string; fields?: (app: App) => string; button: string; danger?: boolean; once?: boolean; status?: number; error?: string },
) {
  const { request, reply, session } = context;
  const found = await appOr(context, paramOf(request, 'client_id'));
  if ('answered' in found) return found.answered;
  const { app } = found;
  const here = appPath(app.client_id);
  return confirmation(reply, session, {
    title: options.title(app),
    trail: `<p><a href="${ACTIVE}">Apps</a> › <a href="${here}">${esc(app.name)}</a></p>`,
    explain: `<div class="warning">${options.warning(app)}</div>`,
    action: `${here}/${options.action}`,
    fields: `${options.once ? onceField() : ''}${options.fields?.(app) ?? ''}`,
    confirm: options.button,
    danger: options.danger ?? false,
    back: { href: here, label: 'Back to the app', active: ACTIVE },
    narrow: true,
    status: options.status,
    error: options.error,
  });
}

const typedName = (app: App, typed: string, error?: string) =>
  field({ name: 'confirm_name', label: `Type the app's name to confirm: ${app.name}`, value: typed, required: true, autocomplete: 'off', error });

interface Move {
  action: 'suspend' | 'resume' | 'delete';
  title: (app: App) => string;
  warning: (app: App) => string;
  button: string;
}

const MOVES: Move[] = [
  {
    action: 'suspend',
    title: (app) => `Suspend ${app.name}`,
    warning: () => 'At once, on every server: the app gets no token, every token it holds is refused, and its webhook deliveries are held until it is resumed.',
    button: 'Suspend the app',
  },
  {
    action: 'resume',
    title: (app) => `Resume ${app.name}`,
    warning: () => 'Its unexpired tokens work again, and its held webhook deliveries are sent, in the order they were held.',
    button: 'Resume the app',
  },
  {
    action: 'delete',
    title: (app) => `Delete ${app.name}`,
    warning: () =>
      'This cannot be undone. The app and everything it holds go: secrets, grants, refresh and service tokens (refused at once), consents, bundle assignments, webhook subscriptions. Its client id is never used again.',
    button: 'Delete the app',
  },
];

function moveForm(move: Move, typed = '', reason = '', errors: { confirm_name?: string; reason?: string } = {}) {
  return (app: App) =>
    `${move.action === 'suspend' ? field({ name: 'reason', label: 'Reason (optional, for the audit log and the app page)', value: reason, textarea: true, error: errors.reason }) : ''}${typedName(app, typed, errors.confirm_name)}`;
}

async function doMove(context: ActionContext, move: Move) {
  const { request, reply, api, form } = context;
  const clientId = paramOf(request, 'client_id');
  const found = await appOr(context, clientId);
  if ('answered' in found) return found.answered;
  const typed = one(form, 'confirm_name') ?? '';
  const reason = (one(form, 'reason') ?? '').trim();
  const again = (errors: { confirm_name?: string; reason?: string }, status: number, error?: string) =>
    appConfirmation(context, { ...move, fields: moveForm(move, typed, reason, errors), danger: move.action !== 'resume', status, error });
  // The typed confirmation: a slip of the hand on the wrong app's page does nothing.
  if (typed.trim() !== found.app.name) return again({ confirm_name: `That is not the app's name. Type ${found.app.name} exactly to ${move.action} it.` }, 400);
  const answer =
    move.action === 'delete' ? await api.delete(apiPath(clientId)) : await api.post(`${apiPath(clientId)}/${move.action}`, move.action === 'suspend' && reason ? { reason } : {});
  if (answer.status === 204) return notices.done(reply, ACTIVE, 'app-deleted');
  if (answer.status === 200) return notices.done(reply, appPath(clientId), move.action === 'suspend' ? 'app-suspended' : 'app-resumed');
  const problem = errorsOf(answer, ['reason']);
  return again(problem.fields, answer.status, problem.page);
}

async function rotate(context: ActionContext) {
  const { request, reply, session, api, form } = context;
  const clientId = paramOf(request, 'client_id');
  if (!firstUse(request, reply, form)) return usedTwice(reply, session, { href: appPath(clientId), label: 'Back to the app', active: ACTIVE });
  const typed = one(form, 'grace_period_seconds') ?? '';
  const grace = numberOrText(typed);
  const answer = await api.post(`${apiPath(clientId)}/rotate-secret`, grace !== undefined ? { grace_period_seconds: grace } : {});
  if (answer.status === 404) return appPage(context);
  if (answer.status !== 200) {
    const errors = errorsOf(answer, ['grace_period_seconds']);
    return appConfirmation(context, { ...ROTATE, fields: () => graceField(typed, errors.fields.grace_period_seconds), status: 400, error: errors.page });
  }
  const rotated = answer.body;
  return page(reply, {
    title: 'Secret rotated',
    session,
    active: ACTIVE,
    notice: 'The secret was rotated.',
    body: `<h1>Secret rotated</h1>
${secretOnce('client-secret', 'New client secret', rotated.client_secret)}
<p>${rotated.previous_secret_expires_at ? `The previous secret keeps working until ${when(rotated.previous_secret_expires_at)}; end it sooner from the app's page once every client uses the new one.` : 'There is no previous secret in a grace period: only the new secret works.'}</p>
<p><a href="${appPath(clientId)}">Back to the app</a></p>`,
  });
}

const graceField = (value = '86400', error?: string) =>
  field({ name: 'grace_period_seconds', label: 'Grace period of the previous secret (seconds)', type: 'number', value, hint: '86400 is a day; 0 ends the previous secret now.', error });

const ROTATE = {
  title: (app: App) => `Rotate the secret of ${app.name}`,
  action: 'rotate',
  warning: () => 'A new secret is made and shown once. The current one keeps working for the grace period, then stops: update every client that uses it.',
  button: 'Rotate the secret',
  once: true,
};

const END_PREVIOUS = {
  title: (app: App) => `End the previous secret of ${app.name}`,
  action: 'end-previous-secret',
  warning: () => 'The secret a rotation replaced stops working now, before its grace period ends. The current secret is not changed.',
  button: 'End the previous secret',
  danger: true,
};

async function endPrevious(context: ActionContext) {
  const { request, reply, api } = context;
  const clientId = paramOf(request, 'client_id');
  const answer = await api.delete(`${apiPath(clientId)}/secrets/previous`);
  if (answer.status === 204) return notices.done(reply, appPath(clientId), 'previous-secret-ended');
  if (answer.status === 404 && /previous secret/.test(String(answer.body?.error_description))) return appConfirmation(context, { ...END_PREVIOUS, status: 409, error: answer.body.error_description });
  if (answer.status === 404) return appPage(context);
  return appConfirmation(context, { ...END_PREVIOUS, status: answer.status, error: errorsOf(answer, []).page });
}

function revokeOptions(tokenId: string) {
  return {
    title: (app: App) => `Revoke a service token of ${app.name}`,
    action: `service-tokens/${enc(tokenId)}/revoke`,
    warning: () => `The service token <code>${esc(tokenId)}</code> stops working at once, on every server. This cannot be undone.`,
    button: 'Revoke the token',
    danger: true,
  };
}

async function revoke(context: ActionContext) {
  const { request, reply, api } = context;
  const clientId = paramOf(request, 'client_id');
  const tokenId = paramOf(request, 'token_id');
  const answer = await api.delete(`${apiPath(clientId)}/service-tokens/${enc(tokenId)}`);
  if (answer.status === 204) return notices.done(reply, appPath(clientId), 'token-revoked');
  return appConfirmation(context, { ...revokeOptions(tokenId), status: answer.status, error: errorsOf(answer, []).page });
}

export function registerAppPages(app: FastifyInstance, { context }: AreaDeps): void {
  const admin = ['admin'] as const;
  const hide = { schema: { hide: true } };
  app.get('/console/apps/:client_id', hide, context.page([...admin], (c) => appPage(c)));
  app.post('/console/apps/:client_id', hide, context.action([...admin], edit));
  app.post('/console/apps/:client_id/governance', hide, context.action([...admin], governance));
  app.post('/console/apps/:client_id/service-tokens', hide, context.action([...admin], mint));
  app.get('/console/apps/:client_id/service-tokens/:token_id/revoke', hide, context.page([...admin], (c) => appConfirmation(c, revokeOptions(paramOf(c.request, 'token_id')))));
  app.post('/console/apps/:client_id/service-tokens/:token_id/revoke', hide, context.action([...admin], revoke));
  app.get('/console/apps/:client_id/rotate', hide, context.page([...admin], (c) => appConfirmation(c, { ...ROTATE, fields: () => graceField() })));
  app.post('/console/apps/:client_id/rotate', hide, context.action([...admin], rotate));
  app.get('/console/apps/:client_id/end-previous-secret', hide, context.page([...admin], (c) => appConfirmation(c, END_PREVIOUS)));
  app.post('/console/apps/:client_id/end-previous-secret', hide, context.action([...admin], endPrevious));
  for (const move of MOVES) {
    app.get(`/console/apps/:client_id/${move.action}`, hide, context.page([...admin], (c) => appConfirmation(c, { ...move, fields: moveForm(move), danger: move.action !== 'resume' })));
    app.post(`/console/apps/:client_id/${move.action}`, hide, context.action([...admin], (c) => doMove(c, move)));
  }
}
