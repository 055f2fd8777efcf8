// /v1/platform/users: a tenant admin manages who can sign in to the tenant (hosted login, consent), reads one user
// (the console's confirmation pages name whom they act on) and resets a user's second factor (README "MFA"), through
// the tenancy service.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { NotFound } from '../errors.js';
import { authenticate, requireTenantScope, SCOPE_ADMIN, tenantOf } from '../http/auth.js';
import { ErrorBody, Pagination } from '../http/schemas.js';
import type { TokenService } from '../keys/tokens.js';
import type { TenancyService } from '../tenancy/service.js';
import { NewUserBody, UserList, UserParams, UserView } from './schemas.js';
import { userView } from './views.js';

export function registerUserRoutes(root: FastifyInstance, { tenancy, tokens }: { tenancy: TenancyService; tokens: TokenService }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const admin = [authenticate(tokens), requireTenantScope(SCOPE_ADMIN)];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody };

  app.post('/v1/platform/users', { preHandler: admin, schema: { hide: true, body: NewUserBody, response: { 201: UserView, ...errors } } }, async (request, reply) => {
    const user = await tenancy.createUser(request.em, tenantOf(request), request.principal!.subject, request.body);
    return reply.code(201).send(userView(user, false));
  });

  app.get('/v1/platform/users', { preHandler: admin, schema: { hide: true, querystring: Pagination, response: { 200: UserList, ...errors } } }, async (request) => {
    const page = await tenancy.listUsers(request.em, request.query.limit, request.query.cursor);
    const withMfa = await tenancy.mfa.enabledAmong(request.em, page.items.map((user) => user.id));
    return { users: page.items.map((user) => userView(user, withMfa.has(user.id))), next_cursor: page.nextCursor };
  });

  /** One user of the caller's tenant; another tenant's is not found (the request's tenant filter). */
  app.get(
    '/v1/platform/users/:user_id',
    { preHandler: admin, schema: { hide: true, params: UserParams, response: { 200: UserView, 404: ErrorBody, ...errors } } },
    async (request) => {
      const user = await tenancy.user(request.em, request.params.user_id);
      if (!user) throw new NotFound(`no user ${request.params.user_id}`);
      return userView(user, await tenancy.mfa.isEnabled(request.em, user.id));
    },
  );

  /** A lost authenticator: the user's TOTP secret and recovery codes go, and they enrol again where the policy asks. */
  app.delete(
    '/v1/platform/users/:user_id/mfa',
    { preHandler: admin, schema: { hide: true, params: UserParams, response: { 204: { type: 'null' }, 404: ErrorBody, ...errors } } },
    async (request, reply) => {
      await tenancy.mfa.reset(request.em, request.params.user_id, request.principal!.subject);
      return reply.code(204).send();
    },
  );
}
