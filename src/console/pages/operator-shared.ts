// What the operator's pages share: their notices after a change (by key: a link can never put words of its own in the
// console's mouth), the confirmation page every destructive action goes through, the server's field errors sorted
// onto a form's fields, a few controls html.ts has no helper for (a select, radios, facts), the pages that say the API
// refused, and the guard that keeps a form whose answer shows a secret (a sandbox's admin password) from running twice
// when its answer is reloaded.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { fieldError, problemOf, type ApiAnswer } from '../api.js';
import { one, type Form } from '../context.js';
import { badge, csrfField, esc, page } from '../html.js';
import type { ConsoleSession, SessionKind } from '../session.js';

export const OPERATOR: SessionKind[] = ['operator'];

/** What a page says after a change (POST-redirect-GET `?notice=<key>`). */
const NOTICES = {
  'scopes-chosen': "The tenant's scopes were saved: its apps may use only the scopes now listed.",
  'scopes-all': 'The tenant may use every published scope again, those published later too.',
  'bundle-assigned': 'The bundle was assigned: the app may run its operations at once, on every server.',
  'bundle-already-assigned': 'The app already held this bundle on that track: nothing changed.',
  'bundle-unassigned': 'The bundle was unassigned: the app can no longer run the operations of that track.',
  'version-deprecated': 'The version was deprecated: it is still served, and its answers carry a Deprecation header.',
  'version-retired': "The version was retired: its operations now answer as unknown ones.",
  'version-retired-forced': 'The version was retired, by force: the apps that still used it were cut off, and the audit log names them.',
  'request-approved': 'The request was approved, and what it asked for was done.',
  'request-denied': 'The request was denied. The requester is told why.',
  'keys-rotated': 'The signing keys were rotated: the former next key signs now, and the retired one stays published until its tokens expire.',
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

/** A query string of the parameters that have a value (`?` included), or nothing. */
export function queryString(params: Record<string, string | undefined>): string {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== '') as Array<[string, string]>).toString();
  return query ? `?${query}` : '';
}

export const enc = encodeURIComponent;

/** A REST refusal sorted for a form: the message next to the field it names when the form has it, else for the page. */
export interface FormErrors {
  fields: Record<string, string>;
  page?: string;
}

export function errorsOf(answer: ApiAnswer, formFields: string[], aliases: Record<string, string> = {}): FormErrors {
  const named = fieldError(answer);
  const field = named ? (aliases[named.field] ?? named.field) : null;
  if (named && field && formFields.includes(field)) return { fields: { [field]: named.message } };
  return { fields: {}, page: problemOf(answer) };
}

/** The field a REST refusal names (`note` for `body.note ...`), or null. */
export function fieldOf(answer: ApiAnswer): string | null {
  return fieldError(answer)?.field ?? null;
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
export function radios(name: string, legend: string, options: Array<{ value: string; label: string }>, checked: string | undefined): string {
  const id = `f-${name}`;
  return `<fieldset class="choices"><legend>${esc(legend)}</legend>${options
    .map((o, i) => `<label for="${id}-${i}"><input type="radio" id="${id}-${i}" name="${esc(name)}" value="${esc(o.value)}"${o.value === checked ? ' checked' : ''}> ${esc(o.label)}</label>`)
    .join('')}</fieldset>`;
}

/** A list of facts (`<dl>`), values given as HTML. */
export function facts(rows: Array<[string, string]>): string {
  return `<dl class="facts">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

export function codeList(values: string[], empty = 'none'): string {
  return values.length ? values.map((v) => `<code>${esc(v)}</code>`).join(', ') : esc(empty);
}

/** A tenant id as a link to its page. */
export function tenantLink(tenantId: string, label?: string): string {
  return `<a href="/console/tenants/${esc(enc(tenantId))}">${esc(label ?? tenantId)}</a>`;
}

export function stateBadge(state: string | null | undefined): string {
  const tone = ({ published: 'ok', active: 'ok', approved: 'ok', pending: 'warn', deprecated: 'warn', next: 'muted', retired: 'bad', expired: 'bad', denied: 'bad' } as const)[state ?? ''] ?? 'muted';
  return badge(state ?? 'none', tone);
}

export interface Back {
  href: string;
  label: string;
  /** The navigation entry of the area. */
  active: string;
}

/**
 * The confirmation every destructive action asks for: a page that says what will happen, and a form that does it
 * (the session's CSRF token, the hidden fields the action needs) beside a way back that changes nothing.
 */
export function confirmation(
  reply: FastifyReply,
  session: ConsoleSession,
  o: { title: string; explain: string; action: string; confirm: string; back: Back; hidden?: Record<string, string | string[]>; danger?: boolean; error?: string; status?: number; extra?: string },
): FastifyReply {
  const hidden = Object.entries(o.hidden ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((value) => `<input type="hidden" name="${esc(k)}" value="${esc(value)}">`))
    .join('');
  return page(reply, {
    title: o.title,
    session,
    active: o.back.active,
    status: o.status,
    error: o.error,
    body: `<h1>${esc(o.title)}</h1>
${o.explain}
${o.extra ?? ''}
<form method="post" action="${esc(o.action)}" class="card">${csrfField(session)}${hidden}
  <div class="row"><button type="submit"${o.danger === false ? '' : ' class="danger"'}>${esc(o.confirm)}</button> <a class="button secondary" href="${esc(o.back.href)}">Cancel</a></div>
</form>`,
  });
}

/** What an operator is told when the API does not know what they asked for. */
export function notFound(reply: FastifyReply, session: ConsoleSession, answer: ApiAnswer, back: Back): FastifyReply {
  return page(reply, {
    title: 'Not found',
    session,
    active: back.active,
    status: 404,
    error: problemOf(answer),
    body: `<h1>Not found</h1><p><a href="${esc(back.href)}">${esc(back.label)}</a></p>`,
  });
}

/** A refusal the page cannot place: its own page, saying what the API said, with the API's status. */
export function refused(reply: FastifyReply, session: ConsoleSession, answer: ApiAnswer, back: Back): FastifyReply {
  if (answer.status === 404) return notFound(reply, session, answer, back);
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

const ONCE_COOKIE = 'tessera_console_operator_once';
const ONCE_KEPT = 20;
const ONCE_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** The hidden field of a form whose answer shows a secret: a random id for this rendering of the form. */
export function onceField(value?: string): string {
  return `<input type="hidden" name="once" value="${esc(value && ONCE_PATTERN.test(value) ? value : randomBytes(16).toString('base64url'))}">`;
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
export function usedTwice(reply: FastifyReply, session: ConsoleSession, back: Back): FastifyReply {
  return page(reply, {
    title: 'Already done',
    session,
    active: back.active,
    status: 409,
    error: 'This form was already sent, and what it made was shown once, on the page that answered it. It is not shown again and nothing was changed now.',
    body: `<h1>Already done</h1><p><a href="${esc(back.href)}">${esc(back.label)}</a></p>`,
  });
}
