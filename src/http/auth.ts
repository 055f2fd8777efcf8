// Bearer authentication (RFC 6750) for every protected REST route, and the one reading of the bearer header that
// the GraphQL transport shares. Roles are scopes: `platform:admin` (a tenant admin), `platform:operator` (an
// operator, across tenants).
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { Forbidden, Unauthorized } from '../errors.js';
import type { TokenService } from '../keys/tokens.js';
import { noteCaller } from '../observability/log.js';

export const SCOPE_ADMIN = 'platform:admin';
export const SCOPE_OPERATOR = 'platform:operator';

/** RFC 6750 section 2.1: `Bearer` and a b64token (RFC 6750 section 2.1), case-insensitive scheme. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * The token of an `Authorization: Bearer <token>` header. Without any header: 401 with a bare challenge (RFC 6750
 * section 3.1, last paragraph); a header of another shape: 401 invalid_request.
 */
export function bearerToken(header: string | null | undefined): string {
  if (!header) throw new Unauthorized('an Authorization: Bearer token is required');
  const match = BEARER.exec(header.trim());
  if (!match) throw new Unauthorized('the Authorization header must be "Bearer <token>"', 'invalid_request');
  return match[1]!;
}

/** preHandler: a valid token of any kind. */
export function authenticate(tokens: TokenService): preHandlerAsyncHookHandler {
  return async (request) => {
    request.principal = await tokens.verify(bearerToken(request.headers.authorization));
    noteCaller(request.log, request.principal);
  };
}

/** preHandler after `authenticate`: the token carries `scope` and belongs to a tenant. */
export function requireTenantScope(scope: string): preHandlerAsyncHookHandler {
  return async (request) => {
    if (!request.principal?.scopes.has(scope)) throw Forbidden.missingScope(scope);
    tenantOf(request);
  };
}

/** preHandler after `authenticate`: any token issued for a tenant. */
export const requireTenant: preHandlerAsyncHookHandler = async (request) => {
  tenantOf(request);
};

/** preHandler after `authenticate`: the token carries one of `scopes` (the first is named when none is). */
export function requireScope(...scopes: string[]): preHandlerAsyncHookHandler {
  return async (request) => {
    if (!scopes.some((scope) => request.principal?.scopes.has(scope))) throw Forbidden.missingScope(scopes[0]!);
  };
}

export function tenantOf(request: FastifyRequest): string {
  const tenantId = request.principal?.tenantId;
  if (!tenantId) throw new Forbidden('this action needs a token issued for a tenant');
  return tenantId;
}
