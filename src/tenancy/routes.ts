// /v1/platform/users: a tenant admin manages who can sign in to the tenant (hosted login, consent).
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { authenticate, requireTenantScope, SCOPE_ADMIN, tenantOf } from '../http/auth.js';
import { afterCursor, decodeCursor, isoSeconds, toPage } from '../http/pagination.js';
import type { TokenService } from '../keys/tokens.js';
import { ErrorBody, Pagination } from '../platform/schemas.js';
import { User } from './entities.js';
import { createUser, MIN_PASSWORD_LENGTH } from './service.js';

const UserView = Type.Object({
  id: Type.String(),
  email: Type.String(),
  roles: Type.Array(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
});

const NewUser = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 320 }),
    password: Type.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 }),
    roles: Type.Array(Type.Unsafe<'admin' | 'member'>({ type: 'string', enum: ['admin', 'member'] }), { uniqueItems: true, default: ['member'] }),
  },
  { additionalProperties: false },
);

const view = (user: User) => ({ id: user.id, email: user.email, roles: user.roles, created_at: isoSeconds(user.createdAt) });

export function registerUserRoutes(root: FastifyInstance, tokens: TokenService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const admin = [authenticate(tokens), requireTenantScope(SCOPE_ADMIN)];
  const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody };

  app.post(
    '/v1/platform/users',
    { preHandler: admin, schema: { hide: true, body: NewUser, response: { 201: UserView, ...errors } } },
    async (request, reply) => {
      const user = await createUser(request.em, tenantOf(request), request.principal!.subject, request.body);
      return reply.code(201).send(view(user));
    },
  );

  app.get(
    '/v1/platform/users',
    { preHandler: admin, schema: { hide: true, querystring: Pagination, response: { 200: Type.Object({ users: Type.Array(UserView), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors } } },
    async (request) => {
      const { limit, cursor } = request.query;
      const rows = await request.em.find(User, afterCursor(decodeCursor(cursor)), { orderBy: { createdAt: 'asc', id: 'asc' }, limit: limit + 1 });
      const page = toPage(rows, limit);
      return { users: page.items.map(view), next_cursor: page.nextCursor };
    },
  );
}
