// The tenant's settings, for its admins (README "Console", "MFA for local accounts", "Federation per tenant"): the
// sign-in policy, who must confirm a second factor and whether passwords are off, through GET/PATCH
// /v1/platform/tenant as the signed-in admin.
import type { FastifyInstance } from 'fastify';
import { one, type ActionContext, type PageContext } from '../context.js';
import { csrfField, esc, facts, page, radios } from '../html.js';
import { checkbox, notices, ticked } from './admin-shared.js';
import { errorsOf, refused, type AreaDeps, type FormErrors } from './kit.js';

const ACTIVE = '/console/settings';
const MFA = [
  { value: 'none', label: 'Nobody (users may still set up an authenticator)' },
  { value: 'admins', label: 'Admins' },
  { value: 'everyone', label: 'Everyone with a password' },
];

interface Policy {
  mfa_required: string;
  federation_required: boolean;
}

async function settingsPage({ request, reply, session, api }: PageContext, state?: { values: Policy; errors: FormErrors; status: number }) {
  const answer = await api.get('/v1/platform/tenant');
  if (answer.status !== 200) return refused(reply, session, answer, { href: '/console', label: 'Back to the console', active: ACTIVE });
  const tenant = answer.body;
  const values = state?.values ?? { mfa_required: tenant.mfa_required, federation_required: tenant.federation_required };
  const errors = state?.errors.fields ?? {};
  return page(reply, {
    title: 'Settings',
    session,
    active: ACTIVE,
    status: state?.status,
    notice: notices.of(request),
    error: state?.errors.page,
    body: `<h1>Settings</h1>
${facts([
  ['Organisation', `${esc(tenant.name)} (<code>${esc(tenant.slug)}</code>)`],
  ['Tenant id', `<code>${esc(tenant.id)}</code>`],
  ...(tenant.sandbox ? ([['Sandbox', 'yes: it expires, and its tokens say so']] as Array<[string, string]>) : []),
])}
<form method="post" action="${ACTIVE}" class="card" aria-labelledby="policy">
  <h2 id="policy">Sign-in policy</h2>
  ${csrfField(session)}
  ${radios({ name: 'mfa_required', legend: 'Who must confirm a code from an authenticator after their password', options: MFA, checked: values.mfa_required, error: errors.mfa_required })}
  ${checkbox('federation_required', 'Passwords', 'Turn passwords off: users sign in through one of the identity providers', values.federation_required, errors.federation_required)}
  <p class="hint">Passwords can be turned off only while an identity provider is enabled.</p>
  <div><button type="submit">Save the policy</button></div>
</form>`,
  });
}

async function save(context: ActionContext) {
  const { reply, api, form } = context;
  const values: Policy = { mfa_required: one(form, 'mfa_required') ?? '', federation_required: ticked(form, 'federation_required') };
  const answer = await api.patch('/v1/platform/tenant', { ...(values.mfa_required ? { mfa_required: values.mfa_required } : {}), federation_required: values.federation_required });
  if (answer.status === 200) return notices.done(reply, ACTIVE, 'settings-saved');
  // Passwords off without an enabled provider is a conflict about that choice: said next to it.
  const errors: FormErrors =
    answer.status === 409 ? { fields: { federation_required: answer.body?.error_description ?? 'Not possible now.' } } : errorsOf(answer, ['mfa_required', 'federation_required']);
  return settingsPage(context, { values, errors, status: answer.status });
}

export function registerSettingsPages(app: FastifyInstance, { context }: AreaDeps): void {
  app.get(ACTIVE, { schema: { hide: true } }, context.page(['admin'], (c) => settingsPage(c)));
  app.post(ACTIVE, { schema: { hide: true } }, context.action(['admin'], save));
}
