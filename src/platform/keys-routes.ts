// GET /api/v1/platform/keys and POST /api/v1/platform/keys/rotate: the signing keys and their rotation, for an operator
// (README "Signing keys"), as `tessera keys list` and `keys rotate` do. The keys are keys/' (the keyring, in the core
// every module is built on); their operator routes are here because keys/ sits below the transports and may not name
// the bearer checks of http/ (the import rules), and this module serves the control plane's /api/v1/platform/* that
// no other feature owns. Never any private material: the keyring's summaries carry none. Operator only, and out of
// the public OpenAPI document, like the rest of /api/v1/platform/*.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { authenticate, requireScope, SCOPE_OPERATOR } from '../http/auth.js';
import { decodeCursor, encodeCursor, isoSeconds } from '../http/pagination.js';
import { ErrorBody, NextCursor, Nullable, Pagination, stringEnum, Timestamp } from '../http/schemas.js';
import type { Keyring, KeySummary } from '../keys/keyring.js';
import type { TokenService } from '../keys/tokens.js';

const KeyView = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  state: stringEnum(['next', 'active', 'retired', 'expired'] as const, {
    description: '`next`: published, signs after the next rotation; `active`: signs; `retired`: published until its tokens expire; `expired`: gone from the JWKS',
  }),
  created_at: Timestamp,
  activated_at: Nullable(Timestamp),
  retired_at: Nullable(Timestamp),
  published_until: Nullable(Timestamp),
  token_horizon: Nullable(Timestamp),
});

const Rotation = Type.Object({
  activated: Type.String({ description: 'The kid that signs from now on (the former next key)' }),
  retired: Type.String({ description: 'The kid that signed until now; published until its tokens have expired' }),
  next: Type.String({ description: 'The new next key, published now' }),
});

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody };

/** Newest first; keys made in one instant (the first two) by kid, so that the order, and so the cursor, is total. */
function newestFirst(a: KeySummary, b: KeySummary): number {
  return b.created_at.localeCompare(a.created_at) || b.kid.localeCompare(a.kid);
}

function keyView(key: KeySummary) {
  return {
    kid: key.kid,
    alg: key.alg,
    state: key.state,
    created_at: isoSeconds(new Date(key.created_at)),
    activated_at: key.activated_at ? isoSeconds(new Date(key.activated_at)) : null,
    retired_at: key.retired_at ? isoSeconds(new Date(key.retired_at)) : null,
    published_until: key.published_until ? isoSeconds(new Date(key.published_until)) : null,
    token_horizon: key.token_horizon ? isoSeconds(new Date(key.token_horizon)) : null,
  };
}

export function registerKeyRoutes(root: FastifyInstance, { keyring, tokens }: { keyring: Keyring; tokens: TokenService }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const operator = [authenticate(tokens), requireScope(SCOPE_OPERATOR)];

  app.get(
    '/api/v1/platform/keys',
    { preHandler: operator, schema: { hide: true, querystring: Pagination, response: { 200: Type.Object({ keys: Type.Array(KeyView), next_cursor: NextCursor }), ...errors } } },
    async (request) => {
      const { limit, cursor } = request.query;
      const after = decodeCursor(cursor);
      // One key a rotation (a month by default): the few rows are read whole and paged here.
      const all = (await keyring.summaries()).sort(newestFirst);
      const rest = after ? all.filter((k) => newestFirst(k, { created_at: after.at.toISOString(), kid: after.id } as KeySummary) > 0) : all;
      const page = rest.slice(0, limit);
      const last = page[page.length - 1];
      return { keys: page.map(keyView), next_cursor: rest.length > limit && last ? encodeCursor({ at: new Date(last.created_at), id: last.kid }) : null };
    },
  );

  /** Promotes the next key, retires the active one and publishes a new next key; audited `signing_key.rotated`. */
  app.post('/api/v1/platform/keys/rotate', { preHandler: operator, schema: { hide: true, response: { 200: Rotation, ...errors } } }, async (request) => {
    const rotated = await keyring.rotate(request.principal!.subject);
    // Without `onlyIfDue` a rotation always happens.
    return rotated!;
  });
}
