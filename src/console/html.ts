// The console's HTML: the page shell (navigation by role, who is signed in, sign out), the security headers of
// every page (a strict Content-Security-Policy: the console's own stylesheet and script only, no inline script or
// style), and the pieces every page is made of (fields, selects, checkboxes and radios, facts, tables, badges), so
// that forms show the server's field errors next to their fields, lists paginate, and secrets are shown once with a
// copy button.
import type { FastifyReply } from 'fastify';
import { SCRIPT, STYLESHEET } from './assets.js';
import type { ConsoleSession, SessionKind } from './session.js';

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => escapes[c]!);
}

/** Every console page: no framing, no caching, no referrer, nothing but our own stylesheet and script. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export interface NavItem {
  href: string;
  label: string;
}

/** What each role finds in the navigation. */
export const NAVIGATION: Record<SessionKind, NavItem[]> = {
  admin: [
    { href: '/console/apps', label: 'Apps' },
    { href: '/console/users', label: 'Users' },
    { href: '/console/webhooks', label: 'Webhooks' },
    { href: '/console/audit', label: 'Audit log' },
    { href: '/console/identity-providers', label: 'Identity providers' },
    { href: '/console/requests', label: 'Integration requests' },
    { href: '/console/settings', label: 'Settings' },
  ],
  operator: [
    { href: '/console/tenants', label: 'Tenants' },
    { href: '/console/bundles', label: 'Bundles' },
    { href: '/console/operator/requests', label: 'Integration requests' },
    { href: '/console/keys', label: 'Signing keys' },
  ],
  partner: [
    { href: '/console/partner/operations', label: 'Operations' },
    { href: '/console/partner/webhooks', label: 'Webhooks' },
  ],
  member: [],
};

export interface PageOptions {
  title: string;
  session?: ConsoleSession | null;
  /** The navigation entry to mark as the current page. */
  active?: string;
  body: string;
  /** A confirmation of what was just done, or what went wrong. */
  notice?: string;
  error?: string;
  narrow?: boolean;
  status?: number;
}

export function page(reply: FastifyReply, options: PageOptions): FastifyReply {
  const { session } = options;
  const nav = session
    ? `<nav aria-label="Console"><ul>${NAVIGATION[session.kind]
        .map((item) => `<li><a href="${item.href}"${item.href === options.active ? ' aria-current="page"' : ''}>${esc(item.label)}</a></li>`)
        .join('')}</ul></nav>
  <div class="who"><span>${esc(session.who)}${session.tenantSlug ? ` · ${esc(session.tenantSlug)}` : ''} · ${esc(roleName(session.kind))}</span>
    <form method="post" action="/console/logout" class="inline">${csrfField(session)}<button type="submit">Sign out</button></form></div>`
    : '';
  return reply
    .code(options.status ?? 200)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', CSP)
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .send(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(options.title)} · Tessera console</title>
<link rel="stylesheet" href="/console/assets/console.css?v=${STYLESHEET.hash}">
<script src="/console/assets/console.js?v=${SCRIPT.hash}" defer></script></head>
<body>
<a class="skip" href="#content">Skip to content</a>
<header class="top"><a class="brand" href="/console">Tessera console</a>${nav}</header>
<main id="content"${options.narrow ? ' class="narrow"' : ''}>
${options.notice ? `<div class="notice" role="status">${esc(options.notice)}</div>` : ''}${options.error ? `<div class="error" role="alert">${esc(options.error)}</div>` : ''}
${options.body}
</main>
</body>
</html>`);
}

export function roleName(kind: SessionKind): string {
  return { admin: 'tenant admin', operator: 'operator', partner: 'partner', member: 'member' }[kind];
}

export function csrfField(session: ConsoleSession): string {
  return `<input type="hidden" name="csrf" value="${esc(session.csrf)}">`;
}

export interface FieldOptions {
  name: string;
  label: string;
  value?: unknown;
  type?: 'text' | 'email' | 'password' | 'url' | 'number' | 'datetime-local';
  hint?: string;
  /** The server's message for this field, shown next to it. */
  error?: string | null;
  required?: boolean;
  textarea?: boolean;
  autocomplete?: string;
}

/** A labelled input with its hint and its error, tied together for screen readers. */
export function field(o: FieldOptions): string {
  const id = `f-${o.name}`;
  const described = [o.hint ? `${id}-hint` : '', o.error ? `${id}-error` : ''].filter(Boolean).join(' ');
  const attrs = `id="${id}" name="${esc(o.name)}"${o.required ? ' required' : ''}${described ? ` aria-describedby="${described}"` : ''}${o.error ? ' aria-invalid="true"' : ''}${o.autocomplete ? ` autocomplete="${esc(o.autocomplete)}"` : ''}`;
  const control = o.textarea ? `<textarea ${attrs} rows="4">${esc(o.value ?? '')}</textarea>` : `<input type="${o.type ?? 'text'}" ${attrs} value="${esc(o.value ?? '')}">`;
  return `<label for="${id}">${esc(o.label)}</label>${control}${o.hint ? `<p class="hint" id="${id}-hint">${esc(o.hint)}</p>` : ''}${o.error ? `<p class="field-error" id="${id}-error">${esc(o.error)}</p>` : ''}`;
}

/** Checkboxes of one name, the checked ones given. */
export function checkboxes(name: string, legend: string, options: Array<{ value: string; label?: string }>, checked: string[], error?: string | null): string {
  const id = `f-${name}`;
  return `<fieldset class="checks"${error ? ` aria-describedby="${id}-error"` : ''}><legend>${esc(legend)}</legend>${options
    .map((o, i) => `<label for="${id}-${i}"><input type="checkbox" id="${id}-${i}" name="${esc(name)}" value="${esc(o.value)}"${checked.includes(o.value) ? ' checked' : ''}> ${esc(o.label ?? o.value)}</label>`)
    .join('')}${error ? `<p class="field-error" id="${id}-error">${esc(error)}</p>` : ''}</fieldset>`;
}

/** A labelled select, its hint and its error tied to it as field() does. */
export function selectField(o: { name: string; label: string; options: Array<{ value: string; label?: string }>; value?: string; hint?: string; error?: string | null }): string {
  const id = `f-${o.name}`;
  const described = [o.hint ? `${id}-hint` : '', o.error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return `<label for="${id}">${esc(o.label)}</label><select id="${id}" name="${esc(o.name)}"${described ? ` aria-describedby="${described}"` : ''}${o.error ? ' aria-invalid="true"' : ''}>${o.options
    .map((opt) => `<option value="${esc(opt.value)}"${opt.value === o.value ? ' selected' : ''}>${esc(opt.label ?? opt.value)}</option>`)
    .join('')}</select>${o.hint ? `<p class="hint" id="${id}-hint">${esc(o.hint)}</p>` : ''}${o.error ? `<p class="field-error" id="${id}-error">${esc(o.error)}</p>` : ''}`;
}

/** Radio buttons of one name in a fieldset, side by side, or one a line (`stacked`) where the labels are sentences. */
export function radios(o: { name: string; legend: string; options: Array<{ value: string; label?: string }>; checked?: string; error?: string | null; stacked?: boolean }): string {
  const id = `f-${o.name}`;
  return `<fieldset class="${o.stacked ? 'choices' : 'checks'}"${o.error ? ` aria-describedby="${id}-error"` : ''}><legend>${esc(o.legend)}</legend>${o.options
    .map((opt, i) => `<label for="${id}-${i}"><input type="radio" id="${id}-${i}" name="${esc(o.name)}" value="${esc(opt.value)}"${opt.value === o.checked ? ' checked' : ''}> ${esc(opt.label ?? opt.value)}</label>`)
    .join('')}${o.error ? `<p class="field-error" id="${id}-error">${esc(o.error)}</p>` : ''}</fieldset>`;
}

/** A list of facts (`<dl>`), values given as HTML. */
export function facts(rows: Array<[string, string]>): string {
  return `<dl class="facts">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

/** Values as code, separated by commas, or a word saying there are none. */
export function codeList(values: string[], empty = 'none'): string {
  return values.length ? values.map((v) => `<code>${esc(v)}</code>`).join(', ') : esc(empty);
}

/** A secret shown once, with a copy button (the script shows it); the page says it will not be shown again. */
export function secretOnce(id: string, label: string, value: string): string {
  return `<div class="secret" role="region" aria-label="${esc(label)}"><p><strong>${esc(label)}</strong>: shown once. Store it now; it cannot be shown again.</p>
<p><code id="${esc(id)}">${esc(value)}</code></p>
<button type="button" class="secondary" data-copy="${esc(id)}" hidden>Copy</button> <span id="${esc(id)}-status" role="status"></span></div>`;
}

/** A table with a caption (for screen readers), its header and its rows, or a line saying there is nothing. */
export function table(caption: string, headers: string[], rows: string[][], empty = 'Nothing yet.'): string {
  if (!rows.length) return `<p>${esc(empty)}</p>`;
  return `<table><caption class="skip">${esc(caption)}</caption><thead><tr>${headers.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead>
<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n')}</tbody></table>`;
}

/** A query string of the parameters that have a value (`?` included), or nothing: a REST list's, or a page's link. */
export function queryString(params: Record<string, string | number | undefined>): string {
  const query = new URLSearchParams(Object.entries(params).flatMap(([k, v]) => (v === undefined || v === '' ? [] : [[k, String(v)]]))).toString();
  return query ? `?${query}` : '';
}

/** The link to the next page of a list (REST `next_cursor`), keeping the list's filters. */
export function pager(base: string, nextCursor: string | null, params: Record<string, string | undefined> = {}): string {
  if (!nextCursor) return '';
  return `<p class="pager"><a href="${esc(`${base}${queryString({ ...params, cursor: nextCursor })}`)}">Next page</a></p>`;
}

/** A POST button in a form of its own (an action that changes something), with the session's CSRF token. */
export function actionButton(session: ConsoleSession, action: string, label: string, options: { danger?: boolean; hidden?: Record<string, string> } = {}): string {
  const hidden = Object.entries(options.hidden ?? {}).map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('');
  return `<form method="post" action="${esc(action)}" class="inline">${csrfField(session)}${hidden}<button type="submit"${options.danger ? ' class="danger"' : ''}>${esc(label)}</button></form>`;
}

export function badge(text: string, tone: 'ok' | 'bad' | 'warn' | 'muted'): string {
  return `<span class="badge ${tone}">${esc(text)}</span>`;
}

/** ISO 8601 to what a person reads (UTC, to the minute), or a dash. */
export function when(iso: unknown): string {
  return typeof iso === 'string' && iso ? esc(iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC')) : '–';
}
