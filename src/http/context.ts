// The request's context: its caller (set by `authenticate`) and `request.em`, a fork of the EntityManager per
// request (DESIGN "Conventions" 8) whose tenant filter is bound to the caller's tenant.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bindTenant } from '../db/tenant.js';
import type { Principal } from '../keys/tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** A fork per request, tenant-filtered once the caller is known. */
    readonly em: EntityManager;
  }
}

const forks = new WeakMap<FastifyRequest, EntityManager>();

export function registerRequestContext(app: FastifyInstance, orm: MikroORM): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('em', {
    getter(this: FastifyRequest) {
      let em = forks.get(this);
      if (!em) {
        em = orm.em.fork();
        if (this.principal?.tenantId) bindTenant(em, this.principal.tenantId);
        forks.set(this, em);
      }
      return em;
    },
  });
}
