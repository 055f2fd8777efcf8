// The tenant's users, for its admins (README "Console"): the list, paginated, with roles and whether each has an
// authenticator; a form to add a user who signs in on the hosted login page; and an authenticator reset (a lost
// phone), confirmed first. Through /v1/platform/users as the signed-in admin.
import type { FastifyInstance } from 'fastify';
import { all, one, paramOf, queryOf, type ActionContext, type PageContext } from '../context.js';
import { badge, checkboxes, csrfField, esc, facts, field, page, pager, queryString, table, when } from '../html.js';
import { notFound, notices } from './admin-shared.js';
import { confirmation, enc, errorsOf, refused, type AreaDeps, type Back, type FormErrors } from './kit.js';

const ACTIVE = '/console/users';
const PAGE_SIZE = 20;
const BACK: Back = { href: ACTIVE, label: 'Back to the users', active: ACTIVE };
const ROLES = [
  { value: 'member', label: 'member (signs in to apps)' },
  { value: 'admin', label: 'admin (manages the tenant)' },
];

interface NewUser {
  email: string;
  roles: string[];
}

async function usersPage({ request, reply, session, api }: PageContext, creation?: { values: NewUser; errors: FormErrors }) {
  const { cursor } = queryOf(request);
  const users = await api.get(`/v1/platform/users${queryString({ limit: PAGE_SIZE, cursor })}`);
  if (users.status !== 200) return refused(reply, session, users, BACK);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the shape GET /v1/platform/users documents
  const rows = (users.body.users as Array<Record<string, any>>).map((user) => [
    esc(user.email),
    esc((user.roles as string[]).join(', ')),
    user.mfa_enabled ? badge('on', 'ok') : badge('off', 'muted'),
    when(user.created_at),
    user.mfa_enabled ? `<a href="${ACTIVE}/${esc(enc(user.id))}/reset-mfa">Reset MFA<span class="skip"> of ${esc(user.email)}</span></a>` : '',
  ]);
  const values = creation?.values ?? { email: '', roles: ['member'] };
  const errors = creation?.errors.fields ?? {};
  return page(reply, {
    title: 'Users',
    session,
    active: ACTIVE,
    status: creation ? 400 : 200,
    notice: notices.of(request),
    error: creation?.errors.page,
    body: `<h1>Users</h1>
${table("The tenant's users", ['Email', 'Roles', 'MFA', 'Created', ''], rows, 'No user yet.')}
${pager(ACTIVE, users.body.next_cursor)}
<form method="post" action="${ACTIVE}" class="card" aria-labelledby="create">
  <h2 id="create">Add a user</h2>
  ${csrfField(session)}
  ${field({ name: 'email', label: 'Email', type: 'email', value: values.email, required: true, error: errors.email, autocomplete: 'off' })}
  ${field({ name: 'password', label: 'Password', type: 'password', required: true, hint: 'Give it to the user by a safe channel; it is not shown again.', error: errors.password, autocomplete: 'new-password' })}
  ${checkboxes('roles', 'Roles', ROLES, values.roles, errors.roles)}
  <div><button type="submit">Add the user</button></div>
</form>`,
  });
}

async function createUser(context: ActionContext) {
  const { reply, api, form } = context;
  const values: NewUser = { email: (one(form, 'email') ?? '').trim(), roles: all(form, 'roles') };
  const answer = await api.post('/v1/platform/users', { email: values.email, password: one(form, 'password') ?? '', roles: values.roles });
  if (answer.status === 201) return notices.done(reply, ACTIVE, 'user-created');
  // A taken email is a conflict about the email: shown next to it.
  const errors = answer.status === 409 ? { fields: { email: answer.body?.error_description ?? 'This email is taken.' } } : errorsOf(answer, ['email', 'password', 'roles']);
  return usersPage(context, { values, errors });
}

async function resetPage({ request, reply, session, api }: PageContext, error?: string) {
  const userId = paramOf(request, 'user_id');
  const answer = await api.get(`/v1/platform/users/${enc(userId)}`);
  if (answer.status === 404) return notFound(reply, session, `No user ${userId} in this tenant.`, BACK);
  if (answer.status !== 200) return refused(reply, session, answer, BACK);
  const user = answer.body;
  return confirmation(reply, session, {
    title: `Reset the MFA of ${user.email}`,
    trail: `<p><a href="${ACTIVE}">Users</a> › ${esc(user.email)}</p>`,
    explain: `${facts([
      ['Roles', esc(user.roles.join(', '))],
      ['Authenticator', user.mfa_enabled ? 'set up' : 'none'],
    ])}
<div class="warning">Their authenticator and recovery codes are removed. Where the sign-in policy asks for a second factor, they set up a new authenticator at their next sign-in. Do this only when you are sure who asks (a lost phone).</div>`,
    action: `${ACTIVE}/${enc(user.id)}/reset-mfa`,
    confirm: 'Reset the MFA',
    back: BACK,
    narrow: true,
    status: error ? 409 : 200,
    error,
  });
}

async function resetMfa(context: ActionContext) {
  const { request, reply, api } = context;
  const answer = await api.delete(`/v1/platform/users/${enc(paramOf(request, 'user_id'))}/mfa`);
  if (answer.status === 204) return notices.done(reply, ACTIVE, 'mfa-reset');
  if (answer.status === 404) return resetPage(context);
  return resetPage(context, answer.body?.error_description ?? 'The reset failed.');
}

export function registerUserPages(app: FastifyInstance, { context }: AreaDeps): void {
  const hide = { schema: { hide: true } };
  app.get(ACTIVE, hide, context.page(['admin'], (c) => usersPage(c)));
  app.post(ACTIVE, hide, context.action(['admin'], createUser));
  app.get(`${ACTIVE}/:user_id/reset-mfa`, hide, context.page(['admin'], (c) => resetPage(c)));
  app.post(`${ACTIVE}/:user_id/reset-mfa`, hide, context.action(['admin'], resetMfa));
}
