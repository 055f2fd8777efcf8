// /v1/platform/users: a tenant admin manages who can sign in to the tenant (hosted login, consent), through the
// tenancy service.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { authenticate, requireTenantScope, SCOPE_ADMIN, tenantOf } from '../http/auth.js';
import { ErrorBody, Pagination } from '../http/schemas.js';
import type { TokenService } from '../keys/tokens.js';
import type { TenancyService } from '../tenancy/service.js';
import { NewUserBody, UserList, UserView } from './schemas.js';
import { userView } from './views.js';

export function registerUserRoutes(root: FastifyInstance, { tenancy, tokens }: { tenancy: TenancyService; tokens: TokenService }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const admin = [authenticate(tokens), requireTenantScope(SCOPE_ADMIN)];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody };

  app.post('/v1/platform/users', { preHandler: admin, schema: { hide: true, body: NewUserBody, response: { 201: UserView, ...errors } } }, async (request, reply) => {
    const user = await tenancy.createUser(request.em, tenantOf(request), request.principal!.subject, request.body);
    return reply.code(201).send(userView(user));
  });

  app.get('/v1/platform/users', { preHandler: admin, schema: { hide: true, querystring: Pagination, response: { 200: UserList, ...errors } } }, async (request) => {
    const page = await tenancy.listUsers(request.em, request.query.limit, request.query.cursor);
    return { users: page.items.map(userView), next_cursor: page.nextCursor };
  });
}
