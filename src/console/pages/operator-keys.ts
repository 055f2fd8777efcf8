// The operator's signing keys (README "Signing keys"): each key's state and dates (GET /api/v1/platform/keys), and a
// rotation (POST /api/v1/platform/keys/rotate, audited like `tessera keys rotate`), confirmed on a page of its own that
// names the keys it moves.
import type { FastifyInstance } from 'fastify';
import { queryOf, type ActionContext, type PageContext } from '../context.js';
import { esc, page, pager, queryString, table, when } from '../html.js';
import { confirmation, refused, stateBadge, type AreaDeps, type Back } from './kit.js';
import { notices, OPERATOR } from './operator-shared.js';

const ACTIVE = '/console/keys';
const TO_KEYS: Back = { href: ACTIVE, label: 'Back to the signing keys', active: ACTIVE };

interface KeyView {
  kid: string;
  alg: string;
  state: string;
  created_at: string;
  activated_at: string | null;
  retired_at: string | null;
  published_until: string | null;
  token_horizon: string | null;
}

async function keysPage({ request, reply, session, api }: PageContext) {
  const answer = await api.get(`/api/v1/platform/keys${queryString({ cursor: queryOf(request).cursor })}`);
  if (answer.status !== 200) return refused(reply, session, answer, TO_KEYS);
  const rows = (answer.body.keys as KeyView[]).map((k) => [
    `<code>${esc(k.kid)}</code>`,
    esc(k.alg),
    stateBadge(k.state),
    when(k.created_at),
    when(k.activated_at),
    when(k.retired_at),
    k.state === 'retired' ? `until ${when(k.published_until)}` : k.state === 'expired' ? 'no longer' : 'yes',
    when(k.token_horizon),
  ]);
  return page(reply, {
    title: 'Signing keys',
    session,
    active: ACTIVE,
    notice: notices.of(request),
    body: `<h1>Signing keys</h1>
<p>Keys move <strong>next</strong> (published in the JWKS, not signing yet) → <strong>active</strong> (signs every token) → <strong>retired</strong> (published until the last token it signed has expired) → <strong>expired</strong> (gone from the JWKS). They rotate by themselves every <code>KEY_ROTATION_INTERVAL</code>; rotate now after a suspected leak, or to move to a new <code>KEY_ALGORITHM</code>.</p>
<p class="row"><a class="button" href="${ACTIVE}/rotate">Rotate the keys…</a></p>
${table('Signing keys, newest first', ['Key id (kid)', 'Algorithm', 'State', 'Created', 'Signing since', 'Retired', 'In the JWKS', 'Its tokens expire by'], rows, 'No key yet.')}
${pager(ACTIVE, answer.body.next_cursor)}`,
  });
}

async function rotatePage({ reply, session, api }: PageContext) {
  // The next and active keys are the newest two: the first page has them.
  const answer = await api.get('/api/v1/platform/keys');
  if (answer.status !== 200) return refused(reply, session, answer, TO_KEYS);
  const keys = answer.body.keys as KeyView[];
  const kid = (state: string) => {
    const key = keys.find((k) => k.state === state);
    return key ? `<code>${esc(key.kid)}</code>` : 'the key';
  };
  return confirmation(reply, session, {
    title: 'Rotate the signing keys?',
    explain: `<p>The next key, ${kid('next')}, starts signing every new token now; verifiers have had it in the JWKS all along. The active key, ${kid('active')}, is retired: it stays published until the last token it signed has expired, so every token issued so far keeps working. A new next key is made and published.</p>
<p>The rotation is recorded in the audit log with your name.</p>`,
    action: `${ACTIVE}/rotate`,
    confirm: 'Rotate the keys',
    back: TO_KEYS,
  });
}

async function rotate({ reply, session, api }: ActionContext) {
  const answer = await api.post('/api/v1/platform/keys/rotate');
  if (answer.status === 200) return notices.done(reply, ACTIVE, 'keys-rotated');
  return refused(reply, session, answer, TO_KEYS);
}

export function registerOperatorKeyPages(app: FastifyInstance, { context }: AreaDeps): void {
  const hide = { schema: { hide: true } };
  app.get(ACTIVE, hide, context.page(OPERATOR, keysPage));
  app.get(`${ACTIVE}/rotate`, hide, context.page(OPERATOR, rotatePage));
  app.post(`${ACTIVE}/rotate`, hide, context.action(OPERATOR, rotate));
}
