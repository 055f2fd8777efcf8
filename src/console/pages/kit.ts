// What the console's areas share (README "Console"), so that every page behaves alike whoever wrote it: the notices a
// page shows after a change (by key, from the area's own table, so a link can never put words of its own in the
// console's mouth), the API's refusals sorted onto a form's fields, the confirmation page of a destructive action, the
// page of a refusal the page cannot place, the badge of a state, and the guard that keeps a form whose answer shows a
// secret from running twice when that answer is reloaded (a reload sends the POST again: it would make, and show, a
// second secret, and silently replace or duplicate the first).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { fieldError, problemOf, type ApiAnswer } from '../api.js';
import { one, queryOf, type ConsoleContext, type Form } from '../context.js';
import { badge, csrfField, esc, page } from '../html.js';
import type { ConsoleSession } from '../session.js';

/** What an area's pages need of the console (a part of index.ts's PagesDeps: named here, so no import cycle). */
export interface AreaDeps {
  context: ConsoleContext;
}

export const enc = encodeURIComponent;

/** Where a page that did not do something sends the person back to. */
export interface Back {
  href: string;
  label: string;
  /** The navigation entry of the area. */
  active: string;
}

// ------------------------------------------------------------------------------------------------ notices

export interface NoticeBook<Key extends string> {
  /** The notice a page was sent back with (`?notice=<key>`), when it is one of the table's; anything else, none. */
  of(request: FastifyRequest): string | undefined;
  /** POST-redirect-GET: back to `path`, with the notice of `key`. */
  done(reply: FastifyReply, path: string, key: Key): FastifyReply;
}

/**
 * An area's notices: what its pages say after a change, each under a key. The URL carries the key only, so a crafted
 * link can show one of these sentences at most; a detail of the change (a count, an id) is the page's own to show,
 * from what it reads.
 */
export function noticeBook<Key extends string>(table: Record<Key, string>): NoticeBook<Key> {
  return {
    of(request) {
      const key = queryOf(request).notice;
      return key !== undefined && Object.hasOwn(table, key) ? table[key as Key] : undefined;
    },
    done(reply, path, key) {
      return reply.redirect(`${path}${path.includes('?') ? '&' : '?'}notice=${encodeURIComponent(key)}`, 303);
    },
  };
}

// ------------------------------------------------------------------------------------------------ forms

/** A REST refusal sorted for a form: the message next to the field it names when the form has it, else for the page. */
export interface FormErrors {
  fields: Record<string, string>;
  page?: string;
}

/** `aliases` names the form's field where it differs from the API's (`role_mapping` is shown under its values). */
export function errorsOf(answer: ApiAnswer, formFields: string[], aliases: Record<string, string> = {}): FormErrors {
  const named = fieldError(answer);
  const field = named ? (aliases[named.field] ?? named.field) : null;
  if (named && field && formFields.includes(field)) return { fields: { [field]: named.message } };
  return { fields: {}, page: problemOf(answer) };
}

/** A whole number typed in a form; anything else is sent as typed, for the API to say what is wrong with it. */
export function numberOrText(value: string | undefined): number | string | undefined {
  const text = (value ?? '').trim();
  if (!text) return undefined;
  return /^-?\d+$/.test(text) ? Number(text) : text;
}

// ------------------------------------------------------------------------------------------------ pages

/** The tone of each state a console page shows (an app's, a request's, a version's, a key's, a delivery's). */
const TONES = new Map<string, 'ok' | 'bad' | 'warn' | 'muted'>([
  ['active', 'ok'],
  ['published', 'ok'],
  ['approved', 'ok'],
  ['succeeded', 'ok'],
  ['pending', 'warn'],
  ['deprecated', 'warn'],
  ['retrying', 'warn'],
  ['held', 'warn'],
  ['next', 'muted'],
  ['queued', 'muted'],
  ['suspended', 'bad'],
  ['retired', 'bad'],
  ['expired', 'bad'],
  ['denied', 'bad'],
  ['failed', 'bad'],
]);

export function stateBadge(state: string | null | undefined): string {
  return badge(state ?? 'none', TONES.get(state ?? '') ?? 'muted');
}

export interface ConfirmationOptions {
  title: string;
  /** What will happen (HTML). */
  explain: string;
  /** More to read before deciding (HTML: a report, say), after the explanation. */
  extra?: string;
  /** The way up to where the page sits (HTML), above its heading. */
  trail?: string;
  action: string;
  confirm: string;
  back: Back;
  hidden?: Record<string, string | string[]>;
  /** The form's own fields (HTML: a name typed to confirm, a reason), above its buttons. */
  fields?: string;
  /** A red button (the default); false for a change that is not destructive. */
  danger?: boolean;
  narrow?: boolean;
  error?: string;
  status?: number;
}

/**
 * The confirmation every destructive action asks for: a page that says what will happen, and a form that does it
 * (the session's CSRF token, the hidden fields the action needs) beside a way back that changes nothing.
 */
export function confirmation(reply: FastifyReply, session: ConsoleSession, o: ConfirmationOptions): FastifyReply {
  const hidden = Object.entries(o.hidden ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((value) => `<input type="hidden" name="${esc(k)}" value="${esc(value)}">`))
    .join('');
  return page(reply, {
    title: o.title,
    session,
    active: o.back.active,
    narrow: o.narrow,
    status: o.status,
    error: o.error,
    body: `${o.trail ?? ''}
<h1>${esc(o.title)}</h1>
${o.explain}
${o.extra ?? ''}
<form method="post" action="${esc(o.action)}" class="card">${csrfField(session)}${hidden}
  ${o.fields ?? ''}
  <div class="row"><button type="submit"${o.danger === false ? '' : ' class="danger"'}>${esc(o.confirm)}</button> <a class="button secondary" href="${esc(o.back.href)}">Cancel</a></div>
</form>`,
  });
}

/** A refusal the page cannot place (403, 409, 5xx; or not found): its own page, saying what the API said, with its status. */
export function refused(reply: FastifyReply, session: ConsoleSession, answer: ApiAnswer, back: Back): FastifyReply {
  const notFound = answer.status === 404;
  return page(reply, {
    title: notFound ? 'Not found' : 'Not done',
    session,
    active: back.active,
    status: answer.status >= 400 && answer.status < 600 ? answer.status : 502,
    error: problemOf(answer),
    body: `<h1>${notFound ? 'Not found' : 'That was not done'}</h1><p><a href="${esc(back.href)}">${esc(back.label)}</a></p>`,
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
