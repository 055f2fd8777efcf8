// What the operator's pages share beyond the console's kit (kit.ts): the role their pages are for, their notices after
// a change (keys of the table below), and a tenant's link.
import { esc } from '../html.js';
import type { SessionKind } from '../session.js';
import { enc, noticeBook } from './kit.js';

export const OPERATOR: SessionKind[] = ['operator'];

/** What an operator's page says after a change. */
export const notices = noticeBook({
  'scopes-chosen': "The tenant's scopes were saved: its apps may use only the scopes now listed.",
  'scopes-all': 'The tenant may use every published scope again, those published later too.',
  'bundle-assigned': 'The bundle was assigned: the app may run its operations at once, on every server.',
  'bundle-already-assigned': 'The app already held this bundle on that track: nothing changed.',
  'bundle-unassigned': 'The bundle was unassigned: the app can no longer run the operations of that track.',
  'version-deprecated': 'The version was deprecated: it is still served, and its answers carry a Deprecation header.',
  'version-retired': 'The version was retired: its operations now answer as unknown ones.',
  'version-retired-forced': 'The version was retired, by force: the apps that still used it were cut off, and the audit log names them.',
  'request-approved': 'The request was approved, and what it asked for was done.',
  'request-denied': 'The request was denied. The requester is told why.',
  'keys-rotated': 'The signing keys were rotated: the former next key signs now, and the retired one stays published until its tokens expire.',
});

/** A tenant id as a link to its page. */
export function tenantLink(tenantId: string, label?: string): string {
  return `<a href="/console/tenants/${esc(enc(tenantId))}">${esc(label ?? tenantId)}</a>`;
}
