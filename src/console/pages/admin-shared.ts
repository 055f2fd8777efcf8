// What the tenant admin's pages share beyond the console's kit (kit.ts): their notices after a change (keys of the
// table below), the text of a textarea or a list typed in one field, a yes/no checkbox, and the page that says the API
// does not know what was asked for (another tenant's thing is not found either).
import type { FastifyReply } from 'fastify';
import { one, type Form } from '../context.js';
import { checkboxes, esc, page } from '../html.js';
import type { ConsoleSession } from '../session.js';
import { noticeBook, type Back } from './kit.js';

/** What a tenant admin's page says after a change. */
export const notices = noticeBook({
  'app-updated': 'The app was updated.',
  'app-registered': 'The app was registered. It is a public client: it has no secret.',
  'governance-updated': 'The governance settings were saved.',
  'previous-secret-ended': 'The previous secret no longer works. The current secret is unchanged.',
  'token-revoked': 'The service token was revoked. It stopped working at once.',
  'app-suspended': 'The app is suspended: it gets no token, its tokens are refused and its webhook deliveries are held.',
  'app-resumed': 'The app was resumed: its tokens work again and its held deliveries go out in order.',
  'app-deleted': 'The app was deleted.',
  'user-created': 'The user was created. They can sign in on the hosted login page.',
  'mfa-reset': "The user's authenticator and recovery codes were removed.",
  'provider-created': 'The identity provider was added.',
  'provider-updated': 'The identity provider was saved.',
  'provider-enabled': 'The identity provider is enabled: it is offered on the sign-in page.',
  'provider-disabled': 'The identity provider is disabled: nobody can sign in through it.',
  'provider-deleted': 'The identity provider was removed. Its users stay.',
  'request-filed': 'The integration request was filed. An operator will decide on it.',
  'settings-saved': 'The sign-in policy was saved.',
});

/** The text of a textarea, one entry a line (blank lines left out). */
export function lines(text: string | undefined): string[] {
  return (text ?? '').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
}

/** Entries separated by commas, spaces or lines. */
export function words(text: string | undefined): string[] {
  return (text ?? '').split(/[\s,]+/).map((w) => w.trim()).filter(Boolean);
}

/** One yes/no checkbox (sent as `true` when ticked, absent when not). */
export function checkbox(name: string, legend: string, label: string, checked: boolean, error?: string | null): string {
  return checkboxes(name, legend, [{ value: 'true', label }], checked ? ['true'] : [], error);
}

export function ticked(form: Form, name: string): boolean {
  return one(form, name) === 'true';
}

/** What a tenant admin is told when the API does not know what they asked for: what the page looked for. */
export function notFound(reply: FastifyReply, session: ConsoleSession, what: string, back: Back): FastifyReply {
  return page(reply, {
    title: 'Not found',
    session,
    active: back.active,
    status: 404,
    body: `<h1>Not found</h1><p>${esc(what)}</p><p><a href="${esc(back.href)}">${esc(back.label)}</a></p>`,
  });
}
