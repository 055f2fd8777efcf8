// What every tenant-admin page of the console shares: the notices a page shows after a change (by key, so a link can
// never put words of its own in the console's mouth), the server's field errors sorted onto a form's fields, a few
// form controls html.ts has no helper for (a select, radios, one checkbox), the not-found page, and the guard that
// keeps an action whose answer shows a secret from running twice when its page is reloaded (a reload sends the POST
// again: it would make, and show, a second secret and silently replace the first).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { fieldError, problemOf, type ApiAnswer } from '../api.js';
import { one, type ConsoleContext, type Form } from '../context.js';
import { checkboxes, esc, page } from '../html.js';
import type { ConsoleSession } from '../session.js';

/** What the admin pages need of the console (a part of index.ts's PagesDeps: named here, so no import cycle). */
export interface AdminPagesDeps {
  context: ConsoleContext;
}

/** What a page says after a change (POST-redirect-GET `?notice=<key>`). */
const NOTICES = {
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
} as const;
export type NoticeKey = keyof typeof NOTICES;

export function noticeOf(request: FastifyRequest): string | undefined {
  const key = queryOf(request).notice;
  return key && Object.hasOwn(NOTICES, key) ? NOTICES[key as NoticeKey] : undefined;
}

/** POST-redirect-GET: back to `path`, with the notice of `key`. */
export function done(reply: FastifyReply, path: string, key: NoticeKey): FastifyReply {
  return reply.redirect(`${path}${path.includes('?') ? '&' : '?'}notice=${encodeURIComponent(key)}`, 303);
}

/** The query string's parameters, one string each. */
export function queryOf(request: FastifyRequest): Record<string, string | undefined> {
  const raw = (request.query ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined]));
}

export function paramOf(request: FastifyRequest, name: string): string {
  return String((request.params as Record<string, unknown>)[name] ?? '');
}

/** `?limit=…&cursor=…` for a REST list. */
export function listQuery(limit: number, cursor: string | undefined, params: Record<string, string | undefined> = {}): string {
  const query = new URLSearchParams({ limit: String(limit) });
  for (const [k, v] of Object.entries({ ...params, cursor })) if (v) query.set(k, v);
  return query.toString();
}

export const enc = encodeURIComponent;

/** A REST refusal sorted for a form: the message next to the field it names when the form has it, else for the page. */
export interface FormErrors {
  fields: Record<string, string>;
  page?: string;
}

export function errorsOf(answer: ApiAnswer, formFields: string[], aliases: Record<string, string> = {}): FormErrors {
  const named = fieldError(answer) ?? nestedFieldError(answer);
  const field = named ? (aliases[named.field] ?? named.field) : null;
  if (named && field && formFields.includes(field)) return { fields: { [field]: named.message } };
  return { fields: {}, page: problemOf(answer) };
}

/** A refusal naming a part of a field (`body.role_mapping.values.x must be one of …`): the field it is part of. */
function nestedFieldError(answer: ApiAnswer): { field: string; message: string } | null {
  const description = typeof answer.body?.error_description === 'string' ? answer.body.error_description : '';
  const match = /^(?:body|query)\.([a-z_]+)[.[]/.exec(description);
  return match ? { field: match[1]!, message: description } : null;
}

/** The text of a textarea, one entry a line (blank lines left out). */
export function lines(text: string | undefined): string[] {
  return (text ?? '').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
}

/** Entries separated by commas, spaces or lines. */
export function words(text: string | undefined): string[] {
  return (text ?? '').split(/[\s,]+/).map((w) => w.trim()).filter(Boolean);
}

/** A whole number typed in a form; anything else is sent as typed, for the API to say what is wrong with it. */
export function numberOrText(value: string | undefined): number | string | undefined {
  const text = (value ?? '').trim();
  if (!text) return undefined;
  return /^-?\d+$/.test(text) ? Number(text) : text;
}

/** A labelled select, its hint and its error tied to it as field() does. */
export function selectField(o: { name: string; label: string; options: Array<{ value: string; label?: string }>; value?: string; hint?: string; error?: string | null }): string {
  const id = `f-${o.name}`;
  const described = [o.hint ? `${id}-hint` : '', o.error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return `<label for="${id}">${esc(o.label)}</label><select id="${id}" name="${esc(o.name)}"${described ? ` aria-describedby="${described}"` : ''}${o.error ? ' aria-invalid="true"' : ''}>${o.options
    .map((opt) => `<option value="${esc(opt.value)}"${opt.value === o.value ? ' selected' : ''}>${esc(opt.label ?? opt.value)}</option>`)
    .join('')}</select>${o.hint ? `<p class="hint" id="${id}-hint">${esc(o.hint)}</p>` : ''}${o.error ? `<p class="field-error" id="${id}-error">${esc(o.error)}</p>` : ''}`;
}

/** Radio buttons of one name in a fieldset. */
export function radios(name: string, legend: string, options: Array<{ value: string; label?: string }>, checked: string | undefined, error?: string | null): string {
  const id = `f-${name}`;
  return `<fieldset class="checks"${error ? ` aria-describedby="${id}-error"` : ''}><legend>${esc(legend)}</legend>${options
    .map((o, i) => `<label for="${id}-${i}"><input type="radio" id="${id}-${i}" name="${esc(name)}" value="${esc(o.value)}"${o.value === checked ? ' checked' : ''}> ${esc(o.label ?? o.value)}</label>`)
    .join('')}${error ? `<p class="field-error" id="${id}-error">${esc(error)}</p>` : ''}</fieldset>`;
}

/** One yes/no checkbox (sent as `true` when ticked, absent when not). */
export function checkbox(name: string, legend: string, label: string, checked: boolean, error?: string | null): string {
  return checkboxes(name, legend, [{ value: 'true', label }], checked ? ['true'] : [], error);
}

export function ticked(form: Form, name: string): boolean {
  return one(form, name) === 'true';
}

/** A list of facts (`<dl>`), values given as HTML. */
export function facts(rows: Array<[string, string]>): string {
  return `<dl class="facts">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

export function codeList(values: string[], empty = 'none'): string {
  return values.length ? values.map((v) => `<code>${esc(v)}</code>`).join(', ') : esc(empty);
}

/** What a tenant admin is told when the API does not know what they asked for (another tenant's is not found too). */
export function notFound(reply: FastifyReply, session: ConsoleSession, what: string, back: { href: string; label: string; active: string }): FastifyReply {
  return page(reply, {
    title: 'Not found',
    session,
    active: back.active,
    status: 404,
    body: `<h1>Not found</h1><p>${esc(what)}</p><p><a href="${esc(back.href)}">${esc(back.label)}</a></p>`,
  });
}

/** A refusal the page cannot place (403, 409, 5xx): its own page, saying what the API said. */
export function refused(reply: FastifyReply, session: ConsoleSession, answer: ApiAnswer, back: { href: string; label: string; active: string }): FastifyReply {
  return page(reply, {
    title: 'Not done',
    session,
    active: back.active,
    status: answer.status >= 400 && answer.status < 600 ? answer.status : 502,
    error: problemOf(answer),
    body: `<h1>That was not done</h1><p><a href="${esc(back.href)}">${esc(back.label)}</a></p>`,
  });
}

// ------------------------------------------------------------------------------------------------ used once

const ONCE_COOKIE = 'tessera_console_once';
const ONCE_KEPT = 20;
const ONCE_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** The hidden field of a form whose answer shows a secret: a random id for this rendering of the form. */
export function onceField(): string {
  return `<input type="hidden" name="once" value="${randomBytes(16).toString('base64url')}">`;
}

/**
 * Whether the form is sent for the first time: its id is remembered in a cookie of the console's path (no secret in
 * it: the ids of the last forms used), so the same form sent again (a reload of its answer page) is refused.
 */
export function firstUse(request: FastifyRequest, reply: FastifyReply, form: Form): boolean {
  const id = one(form, 'once') ?? '';
  if (!ONCE_PATTERN.test(id)) return false;
  const used = (request.cookies[ONCE_COOKIE] ?? '').split('.').filter((u) => ONCE_PATTERN.test(u));
  if (used.includes(id)) return false;
  const loopback = ['localhost', '127.0.0.1', '[::1]', '::1'].includes(request.hostname);
  reply.setCookie(ONCE_COOKIE, [...used, id].slice(-ONCE_KEPT).join('.'), { path: '/console', httpOnly: true, sameSite: 'lax', secure: !loopback });
  return true;
}

/** The page of a form sent twice: what it made was shown once, in the first answer. */
export function usedTwice(reply: FastifyReply, session: ConsoleSession, back: { href: string; label: string; active: string }): FastifyReply {
  return page(reply, {
    title: 'Already done',
    session,
    active: back.active,
    status: 409,
    error: 'This form was already sent, and what it made was shown once, on the page that answered it. It is not shown again and nothing was changed now.',
    body: `<h1>Already done</h1><p><a href="${esc(back.href)}">${esc(back.label)}</a></p>`,
  });
}
