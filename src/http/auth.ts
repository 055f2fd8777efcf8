// Bearer authentication (RFC 6750) for every protected route, and the request's tenant context:
// `request.em` is a fork of the EntityManager whose tenant filter is bound to the caller's tenant.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { TENANT_FILTER } from '../db/orm.js';
import { Forbidden, Unauthorized } from '../errors.js';
import type { Principal, TokenService } from '../keys/tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** A fork per request (DESIGN "Conventions" 8), tenant-filtered once the caller is known. */
    readonly em: EntityManager;
  }
}

export const SCOPE_ADMIN = 'platform:admin';
export const SCOPE_OPERATOR = 'platform:operator';

const forks = new WeakMap<FastifyRequest, EntityManager>();

export function registerRequestContext(app: FastifyInstance, orm: MikroORM): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('em', {
    getter(this: FastifyRequest) {
      let em = forks.get(this);
      if (!em) {
        em = orm.em.fork();
        if (this.principal?.tenantId) em.setFilterParams(TENANT_FILTER, { tenantId: this.principal.tenantId });
        forks.set(this, em);
      }
      return em;
    },
  });
}

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (!header) throw new Unauthorized('an Authorization: Bearer token is required');
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
  if (!match) throw new Unauthorized('the Authorization header must be "Bearer <token>"', 'invalid_request');
  return match[1]!;
}

/** preHandler: a valid token of any kind. */
export function authenticate(tokens: TokenService): preHandlerAsyncHookHandler {
  return async (request) => {
    request.principal = await tokens.verify(bearerToken(request));
  };
}

/** preHandler after `authenticate`: the token carries `scope` and belongs to a tenant. */
export function requireTenantScope(scope: string): preHandlerAsyncHookHandler {
  return async (request) => {
    if (!request.principal?.scopes.has(scope)) throw Forbidden.missingScope(scope);
    if (!request.principal.tenantId) throw new Forbidden('this action needs a token issued for a tenant');
  };
}

/** preHandler after `authenticate`: any token issued for a tenant. */
export const requireTenant: preHandlerAsyncHookHandler = async (request) => {
  tenantOf(request);
};

export function requireScope(scope: string): preHandlerAsyncHookHandler {
  return async (request) => {
    if (!request.principal?.scopes.has(scope)) throw Forbidden.missingScope(scope);
  };
}

export function tenantOf(request: FastifyRequest): string {
  const tenantId = request.principal?.tenantId;
  if (!tenantId) throw new Forbidden('this action needs a token issued for a tenant');
  return tenantId;
}
