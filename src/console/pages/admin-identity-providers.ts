// The tenant's identity providers, for its admins (README "Console", "Federation per tenant"): the list; adding a SAML
// 2.0 IdP (its metadata XML, or entity id, SSO URL and certificates) or an OpenID provider (issuer, client id and
// secret, scopes), with a name, email domains and a role mapping; editing, enabling and disabling one; removing one
// after a confirmation; and what to give the provider (the SP metadata URL, ACS URL and entity id, or the redirect
// URI). Through /v1/platform/identity-providers as the signed-in admin; the client secret is never shown back.
import type { FastifyInstance } from 'fastify';
import { one, paramOf, queryOf, type ActionContext, type Form, type PageContext } from '../context.js';
import { badge, codeList, csrfField, esc, facts, field, page, pager, queryString, selectField, table, when } from '../html.js';
import { checkbox, lines, notFound, notices, ticked, words } from './admin-shared.js';
import { confirmation, enc, errorsOf, refused, type AreaDeps, type Back, type FormErrors } from './kit.js';

const ACTIVE = '/console/identity-providers';
const PAGE_SIZE = 20;
const BACK: Back = { href: ACTIVE, label: 'Back to the identity providers', active: ACTIVE };

type Protocol = 'saml' | 'oidc';
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the shape GET /v1/platform/identity-providers/{id} documents
type Provider = Record<string, any>;

/** The provider form as typed (every field text, as the page shows it back). */
interface ProviderValues {
  name: string;
  email_domains: string;
  enabled: boolean;
  role_mapping_claim: string;
  role_mapping_values: string;
  role_mapping_default: string;
  metadata_xml: string;
  entity_id: string;
  sso_url: string;
  certificates: string;
  allow_idp_initiated: boolean;
  issuer: string;
  client_id: string;
  scopes: string;
}

const FIELDS = ['name', 'email_domains', 'enabled', 'role_mapping_values', 'metadata_xml', 'entity_id', 'sso_url', 'certificates', 'allow_idp_initiated', 'issuer', 'client_id', 'client_secret', 'scopes'];
/** The API names the role mapping as a whole (`body.role_mapping.values…`): shown under its values. */
const ALIASES = { role_mapping: 'role_mapping_values' };

const BLANK: ProviderValues = {
  name: '',
  email_domains: '',
  enabled: true,
  role_mapping_claim: '',
  role_mapping_values: '',
  role_mapping_default: 'member',
  metadata_xml: '',
  entity_id: '',
  sso_url: '',
  certificates: '',
  allow_idp_initiated: false,
  issuer: '',
  client_id: '',
  scopes: 'openid email profile',
};

/** A certificate as PEM, 64 characters a line (RFC 7468), as people paste and read them. */
function pem(base64: string): string {
  return `-----BEGIN CERTIFICATE-----\n${base64.match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END CERTIFICATE-----`;
}

/** The certificates of the textarea: PEM blocks, or base64 texts separated by blank lines. */
function certificatesOf(text: string): string[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (blocks) return blocks;
  return text.split(/\r?\n\s*\r?\n/).map((t) => t.trim()).filter(Boolean);
}

function valuesOf(provider: Provider): ProviderValues {
  const mapping = provider.role_mapping;
  return {
    ...BLANK,
    name: provider.name,
    email_domains: provider.email_domains.join(', '),
    enabled: provider.enabled,
    role_mapping_claim: mapping?.claim ?? '',
    role_mapping_values: mapping ? Object.entries(mapping.values as Record<string, string>).map(([value, role]) => `${value} = ${role}`).join('\n') : '',
    role_mapping_default: mapping ? (mapping.default_role ?? 'refuse') : 'member',
    entity_id: provider.entity_id ?? '',
    sso_url: provider.sso_url ?? '',
    certificates: ((provider.certificates ?? []) as string[]).map(pem).join('\n\n'),
    allow_idp_initiated: provider.allow_idp_initiated ?? false,
    issuer: provider.issuer ?? '',
    client_id: provider.client_id ?? '',
    scopes: ((provider.scopes ?? []) as string[]).join(' '),
  };
}

function formValues(form: Form): ProviderValues {
  const text = (name: string) => one(form, name) ?? '';
  return {
    name: text('name'),
    email_domains: text('email_domains'),
    enabled: ticked(form, 'enabled'),
    role_mapping_claim: text('role_mapping_claim'),
    role_mapping_values: text('role_mapping_values'),
    role_mapping_default: text('role_mapping_default') || 'member',
    metadata_xml: text('metadata_xml'),
    entity_id: text('entity_id'),
    sso_url: text('sso_url'),
    certificates: text('certificates'),
    allow_idp_initiated: ticked(form, 'allow_idp_initiated'),
    issuer: text('issuer'),
    client_id: text('client_id'),
    scopes: text('scopes'),
  };
}

/** The role mapping of the form: none when neither a claim nor a value is given (the API says what is missing). */
function roleMappingOf(values: ProviderValues) {
  const pairs = lines(values.role_mapping_values).map((line) => {
    const at = line.indexOf('=');
    return at < 0 ? [line, ''] : [line.slice(0, at).trim(), line.slice(at + 1).trim()];
  });
  if (!values.role_mapping_claim.trim() && !pairs.length) return null;
  return { claim: values.role_mapping_claim.trim(), values: Object.fromEntries(pairs), default_role: values.role_mapping_default === 'refuse' ? null : values.role_mapping_default };
}

/** The REST body of the form: the protocol's own fields; metadata XML, when given, instead of the fields it sets. */
function bodyOf(protocol: Protocol, values: ProviderValues, options: { creating: boolean; clientSecret: string }) {
  const common = {
    name: values.name,
    email_domains: words(values.email_domains),
    ...(options.creating ? { enabled: values.enabled } : {}),
    ...(options.creating && !roleMappingOf(values) ? {} : { role_mapping: roleMappingOf(values) }),
  };
  if (protocol === 'saml') {
    const direct = values.metadata_xml.trim()
      ? { metadata_xml: values.metadata_xml }
      : {
          ...(values.entity_id.trim() || !options.creating ? { entity_id: values.entity_id.trim() } : {}),
          ...(values.sso_url.trim() || !options.creating ? { sso_url: values.sso_url.trim() } : {}),
          ...(values.certificates.trim() || !options.creating ? { certificates: certificatesOf(values.certificates) } : {}),
        };
    return { ...common, ...direct, allow_idp_initiated: values.allow_idp_initiated };
  }
  const scopes = words(values.scopes);
  return {
    ...common,
    issuer: values.issuer.trim(),
    client_id: values.client_id.trim(),
    ...(options.clientSecret ? { client_secret: options.clientSecret } : {}),
    ...(scopes.length || !options.creating ? { scopes } : {}),
  };
}

/** The form's fields: the common ones, then the protocol's. */
function providerFields(protocol: Protocol, values: ProviderValues, errors: Record<string, string>, creating: boolean): string {
  const common = `${field({ name: 'name', label: 'Name', value: values.name, required: true, hint: 'Shown on the sign-in page: "Sign in with <name>".', error: errors.name, autocomplete: 'off' })}
${field({ name: 'email_domains', label: 'Email domains', value: values.email_domains, hint: 'Separated by commas: users with these email domains are sent to this provider.', error: errors.email_domains, autocomplete: 'off' })}
${creating ? checkbox('enabled', 'Enabled', 'Offer it on the sign-in page now', values.enabled, errors.enabled) : ''}
<fieldset><legend>Role mapping (optional)</legend>
${field({ name: 'role_mapping_claim', label: protocol === 'saml' ? 'Attribute' : 'Claim', value: values.role_mapping_claim, hint: 'Whose values decide the roles, e.g. groups.', autocomplete: 'off' })}
${field({ name: 'role_mapping_values', label: 'Values', value: values.role_mapping_values, textarea: true, hint: 'One a line: value = admin, or value = member.', error: errors.role_mapping_values })}
${selectField({
  name: 'role_mapping_default',
  label: 'Anyone with none of these values',
  value: values.role_mapping_default,
  options: [
    { value: 'member', label: 'is a member' },
    { value: 'admin', label: 'is an admin' },
    { value: 'refuse', label: 'is refused' },
  ],
})}
</fieldset>`;
  if (protocol === 'saml') {
    return `${common}
<fieldset><legend>The identity provider</legend>
${field({ name: 'metadata_xml', label: 'Metadata XML', value: values.metadata_xml, textarea: true, hint: "Paste the IdP's metadata: its entity id, SSO URL and signing certificates are read from it. Or leave it empty and fill in the three fields below.", error: errors.metadata_xml })}
${field({ name: 'entity_id', label: 'Entity id', value: values.entity_id, error: errors.entity_id, autocomplete: 'off' })}
${field({ name: 'sso_url', label: 'SSO URL (HTTP-Redirect binding)', type: 'url', value: values.sso_url, error: errors.sso_url, autocomplete: 'off' })}
${field({ name: 'certificates', label: 'Signing certificates', value: values.certificates, textarea: true, hint: 'PEM; several one after the other.', error: errors.certificates })}
${checkbox('allow_idp_initiated', 'IdP-initiated sign-in', 'Accept sign-ins started at the IdP (they continue a sign-in under way in the same browser)', values.allow_idp_initiated, errors.allow_idp_initiated)}
</fieldset>`;
  }
  return `${common}
<fieldset><legend>The OpenID provider</legend>
${field({ name: 'issuer', label: 'Issuer', type: 'url', value: values.issuer, required: creating, error: errors.issuer, autocomplete: 'off' })}
${field({ name: 'client_id', label: 'Client id', value: values.client_id, required: creating, error: errors.client_id, autocomplete: 'off' })}
${field({ name: 'client_secret', label: 'Client secret', type: 'password', required: creating, hint: creating ? 'Stored sealed; never shown again.' : 'Stored sealed and never shown. Leave empty to keep the current one.', error: errors.client_secret, autocomplete: 'off' })}
${field({ name: 'scopes', label: 'Scopes', value: values.scopes, hint: 'Separated by spaces; openid is always asked.', error: errors.scopes, autocomplete: 'off' })}
</fieldset>`;
}

function protocolName(protocol: string): string {
  return protocol === 'saml' ? 'SAML 2.0' : 'OpenID Connect';
}

async function listPage({ request, reply, session, api }: PageContext) {
  const { cursor } = queryOf(request);
  const answer = await api.get(`/v1/platform/identity-providers${queryString({ limit: PAGE_SIZE, cursor })}`);
  if (answer.status !== 200) return refused(reply, session, answer, { href: '/console', label: 'Back to the console', active: ACTIVE });
  const rows = (answer.body.identity_providers as Provider[]).map((p) => [
    `<a href="${ACTIVE}/${esc(enc(p.id))}">${esc(p.name)}</a>`,
    esc(protocolName(p.protocol)),
    p.enabled ? badge('enabled', 'ok') : badge('disabled', 'muted'),
    codeList(p.email_domains),
    when(p.created_at),
  ]);
  return page(reply, {
    title: 'Identity providers',
    session,
    active: ACTIVE,
    notice: notices.of(request),
    body: `<h1>Identity providers</h1>
<p>Users of the tenant can sign in through the tenant's own SAML 2.0 or OpenID Connect identity providers.</p>
${table("The tenant's identity providers", ['Name', 'Protocol', 'State', 'Email domains', 'Added'], rows, 'No identity provider yet: users sign in with their password.')}
${pager(ACTIVE, answer.body.next_cursor)}
<p class="row"><a class="button" href="${ACTIVE}/new?protocol=saml">Add a SAML provider</a> <a class="button" href="${ACTIVE}/new?protocol=oidc">Add an OpenID Connect provider</a></p>`,
  });
}

function protocolOf(value: string | undefined): Protocol | null {
  return value === 'saml' || value === 'oidc' ? value : null;
}

async function newPage(context: PageContext, protocol: Protocol | null, state?: { values: ProviderValues; errors: FormErrors }) {
  const { reply, session } = context;
  if (!protocol) return notFound(reply, session, 'Choose SAML or OpenID Connect.', BACK);
  return page(reply, {
    title: `Add a ${protocolName(protocol)} provider`,
    session,
    active: ACTIVE,
    status: state ? 400 : 200,
    error: state?.errors.page,
    body: `<p><a href="${ACTIVE}">Identity providers</a> › new</p>
<h1>Add a ${esc(protocolName(protocol))} provider</h1>
${protocol === 'oidc' ? '<p>At the provider, register a confidential client whose redirect URI is the one this page shows once the provider is added.</p>' : "<p>Once it is added, give the IdP this tenant's service provider: the page of the provider shows its metadata URL.</p>"}
<form method="post" action="${ACTIVE}" class="card">
  ${csrfField(session)}<input type="hidden" name="protocol" value="${protocol}">
  ${providerFields(protocol, state?.values ?? BLANK, state?.errors.fields ?? {}, true)}
  <div><button type="submit">Add the provider</button> <a class="button secondary" href="${ACTIVE}">Cancel</a></div>
</form>`,
  });
}

async function create(context: ActionContext) {
  const { reply, api, form } = context;
  const protocol = protocolOf(one(form, 'protocol'));
  if (!protocol) return newPage(context, null);
  const values = formValues(form);
  const answer = await api.post('/v1/platform/identity-providers', { protocol, ...bodyOf(protocol, values, { creating: true, clientSecret: one(form, 'client_secret') ?? '' }) });
  if (answer.status === 201) return notices.done(reply, `${ACTIVE}/${enc(answer.body.id)}`, 'provider-created');
  return newPage(context, protocol, { values, errors: errorsOf(answer, FIELDS, ALIASES) });
}

async function providerOr(context: PageContext): Promise<{ provider: Provider } | { answered: unknown }> {
  const id = paramOf(context.request, 'id');
  const answer = await context.api.get(`/v1/platform/identity-providers/${enc(id)}`);
  if (answer.status === 200) return { provider: answer.body };
  if (answer.status === 404) return { answered: notFound(context.reply, context.session, `No identity provider ${id} in this tenant.`, BACK) };
  return { answered: refused(context.reply, context.session, answer, BACK) };
}

async function providerPage(context: PageContext, state?: { values: ProviderValues; errors: FormErrors; status?: number }) {
  const { request, reply, session } = context;
  const found = await providerOr(context);
  if ('answered' in found) return found.answered;
  const { provider } = found;
  const here = `${ACTIVE}/${enc(provider.id)}`;
  const protocol = provider.protocol as Protocol;
  const give =
    protocol === 'saml'
      ? facts([
          ['SP metadata URL', `<code>${esc(provider.sp_metadata_url)}</code>`],
          ['SP entity id', `<code>${esc(provider.sp_entity_id)}</code>`],
          ['ACS URL (HTTP-POST)', `<code>${esc(provider.acs_url)}</code>`],
        ])
      : facts([['Redirect URI', `<code>${esc(provider.redirect_uri)}</code>`]]);
  return page(reply, {
    title: provider.name,
    session,
    active: ACTIVE,
    status: state ? (state.status ?? 400) : 200,
    notice: notices.of(request),
    error: state?.errors.page,
    body: `<p><a href="${ACTIVE}">Identity providers</a> › ${esc(provider.name)}</p>
<h1>${esc(provider.name)} ${provider.enabled ? badge('enabled', 'ok') : badge('disabled', 'muted')}</h1>
${facts([
  ['Protocol', esc(protocolName(protocol))],
  ['Email domains', codeList(provider.email_domains)],
  ...(protocol === 'saml'
    ? ([
        ['IdP entity id', `<code>${esc(provider.entity_id)}</code>`],
        ['IdP SSO URL', `<code>${esc(provider.sso_url)}</code>`],
        ['Certificates', esc(String(provider.certificates.length))],
      ] as Array<[string, string]>)
    : ([
        ['Issuer', `<code>${esc(provider.issuer)}</code>`],
        ['Client id', `<code>${esc(provider.client_id)}</code>`],
        ['Scopes', codeList(provider.scopes)],
      ] as Array<[string, string]>)),
  ['Added', when(provider.created_at)],
  ['Last changed', when(provider.updated_at)],
])}
<section class="card" aria-labelledby="give"><h2 id="give">${protocol === 'saml' ? 'Give the IdP this service provider' : 'Register this redirect URI at the provider'}</h2>${give}</section>
<div class="row">${
      provider.enabled
        ? `<form method="post" action="${here}/disable" class="inline">${csrfField(session)}<button type="submit" class="secondary">Disable</button></form>`
        : `<form method="post" action="${here}/enable" class="inline">${csrfField(session)}<button type="submit">Enable</button></form>`
    } <a class="button secondary" href="${here}/delete">Remove…</a></div>
<form method="post" action="${here}" class="card" aria-labelledby="edit">
  <h2 id="edit">Edit</h2>
  ${csrfField(session)}
  ${providerFields(protocol, state?.values ?? valuesOf(provider), state?.errors.fields ?? {}, false)}
  <div><button type="submit">Save changes</button></div>
</form>`,
  });
}

async function edit(context: ActionContext) {
  const { request, reply, api, form } = context;
  const found = await providerOr(context);
  if ('answered' in found) return found.answered;
  const protocol = found.provider.protocol as Protocol;
  const values = formValues(form);
  const id = paramOf(request, 'id');
  const answer = await api.patch(`/v1/platform/identity-providers/${enc(id)}`, bodyOf(protocol, values, { creating: false, clientSecret: one(form, 'client_secret') ?? '' }));
  if (answer.status === 200) return notices.done(reply, `${ACTIVE}/${enc(id)}`, 'provider-updated');
  return providerPage(context, { values, errors: errorsOf(answer, FIELDS, ALIASES) });
}

async function setEnabled(context: ActionContext, enabled: boolean) {
  const { request, reply, api } = context;
  const id = paramOf(request, 'id');
  const answer = await api.patch(`/v1/platform/identity-providers/${enc(id)}`, { enabled });
  if (answer.status === 200) return notices.done(reply, `${ACTIVE}/${enc(id)}`, enabled ? 'provider-enabled' : 'provider-disabled');
  const found = await providerOr(context);
  if ('answered' in found) return found.answered;
  return providerPage(context, { values: valuesOf(found.provider), errors: errorsOf(answer, []), status: answer.status });
}

async function deletePage(context: PageContext, error?: { message: string; status: number }) {
  const { reply, session } = context;
  const found = await providerOr(context);
  if ('answered' in found) return found.answered;
  const { provider } = found;
  const here = `${ACTIVE}/${enc(provider.id)}`;
  return confirmation(reply, session, {
    title: `Remove ${provider.name}`,
    trail: `<p><a href="${ACTIVE}">Identity providers</a> › <a href="${here}">${esc(provider.name)}</a></p>`,
    explain: '<div class="warning">Nobody can sign in through it any more. The users it made stay; they sign in another way, if the tenant allows one. This cannot be undone.</div>',
    action: `${here}/delete`,
    confirm: 'Remove the provider',
    back: { href: here, label: 'Back to the provider', active: ACTIVE },
    narrow: true,
    status: error?.status,
    error: error?.message,
  });
}

async function remove(context: ActionContext) {
  const { request, reply, api } = context;
  const answer = await api.delete(`/v1/platform/identity-providers/${enc(paramOf(request, 'id'))}`);
  if (answer.status === 204) return notices.done(reply, ACTIVE, 'provider-deleted');
  return deletePage(context, { message: errorsOf(answer, []).page ?? 'The provider could not be removed.', status: answer.status });
}

export function registerIdentityProviderPages(app: FastifyInstance, { context }: AreaDeps): void {
  const hide = { schema: { hide: true } };
  app.get(ACTIVE, hide, context.page(['admin'], listPage));
  app.get(`${ACTIVE}/new`, hide, context.page(['admin'], (c) => newPage(c, protocolOf(queryOf(c.request).protocol))));
  app.post(ACTIVE, hide, context.action(['admin'], create));
  app.get(`${ACTIVE}/:id`, hide, context.page(['admin'], (c) => providerPage(c)));
  app.post(`${ACTIVE}/:id`, hide, context.action(['admin'], edit));
  app.post(`${ACTIVE}/:id/enable`, hide, context.action(['admin'], (c) => setEnabled(c, true)));
  app.post(`${ACTIVE}/:id/disable`, hide, context.action(['admin'], (c) => setEnabled(c, false)));
  app.get(`${ACTIVE}/:id/delete`, hide, context.page(['admin'], (c) => deletePage(c)));
  app.post(`${ACTIVE}/:id/delete`, hide, context.action(['admin'], remove));
}
