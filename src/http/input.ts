// Text that PostgreSQL cannot store, refused at the edge: a NUL character (PostgreSQL's text and jsonb have none)
// or an unpaired UTF-16 surrogate (not a character at all; it has no UTF-8 form). REST checks every request here,
// before validation; the GraphQL transport checks its variables with the same function (graphql/yoga.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidRequest, NotFound } from '../errors.js';

export const TEXT_PROBLEM = 'must not contain a NUL character or an unpaired surrogate';

function unstorable(text: string): boolean {
  return text.includes('\u0000') || !text.isWellFormed();
}

/**
 * The path of the first string in `value` (keys included) that PostgreSQL could not store, or null: `body.email`,
 * `body.redirect_uris[1]`, `variables.input.title`.
 */
export function firstUnstorableText(value: unknown, path: string): string | null {
  if (typeof value === 'string') return unstorable(value) ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = firstUnstorableText(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (unstorable(key)) return `${path} (a field name)`;
      const found = firstUnstorableText(item, `${path}.${key}`);
      if (found) return found;
    }
  }
  return null;
}

/** Whether the route answers its own input (the GraphQL transport, in its own words). */
declare module 'fastify' {
  interface FastifyContextConfig {
    checksItsOwnInput?: boolean;
  }
}

/**
 * A path id that cannot be stored identifies nothing: 404, like any unknown id. A query parameter or a body field
 * that cannot be stored is the caller's mistake: 400 naming it.
 */
function checkRequest(request: FastifyRequest): void {
  for (const [name, value] of Object.entries((request.params ?? {}) as Record<string, unknown>)) {
    if (firstUnstorableText(value, name)) throw new NotFound(`params.${name} identifies nothing: it holds a NUL character or an unpaired surrogate`);
  }
  const found = firstUnstorableText(request.query, 'query') ?? firstUnstorableText(request.body, 'body');
  if (found) throw InvalidRequest.field(found, TEXT_PROBLEM);
}

export function registerInputChecks(app: FastifyInstance): void {
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.routeOptions.config?.checksItsOwnInput) return done();
    try {
      checkRequest(request);
      done();
    } catch (error) {
      done(error as Error);
    }
  });
}
