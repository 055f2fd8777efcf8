// GET /v1/platform/audit-events: the tenant admin's view of who did what, newest first.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { authenticate, requireTenantScope, SCOPE_ADMIN } from '../http/auth.js';
import { afterCursor, decodeCursor, isoSeconds, toPage } from '../http/pagination.js';
import type { TokenService } from '../keys/tokens.js';
import { ErrorBody } from '../platform/schemas.js';
import { AuditEvent } from './entities.js';

const Query = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
    action: Type.Optional(Type.String({ maxLength: 100 })),
    target_id: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

const EventList = Type.Object({
  events: Type.Array(
    Type.Object({
      id: Type.String(),
      actor: Type.String(),
      action: Type.String(),
      target_type: Type.String(),
      target_id: Type.String(),
      details: Type.Record(Type.String(), Type.Unknown()),
      created_at: Type.String({ format: 'date-time' }),
    }),
  ),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

export function registerAuditRoutes(root: FastifyInstance, tokens: TokenService): void {
  root.withTypeProvider<TypeBoxTypeProvider>().get(
    '/v1/platform/audit-events',
    {
      preHandler: [authenticate(tokens), requireTenantScope(SCOPE_ADMIN)],
      schema: {
        tags: ['Audit'],
        summary: 'Audit log of the tenant',
        description: 'Admin actions (apps created, governance changed, secrets rotated, service tokens minted or revoked), newest first.',
        security: [{ bearerAuth: [] }],
        querystring: Query,
        response: { 200: EventList, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request) => {
      const { limit, cursor, action, target_id } = request.query;
      const where = {
        ...afterCursor(decodeCursor(cursor), 'desc'),
        ...(action ? { action } : {}),
        ...(target_id ? { targetId: target_id } : {}),
      };
      const rows = await request.em.find(AuditEvent, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: limit + 1 });
      const page = toPage(rows, limit);
      return {
        events: page.items.map((e) => ({
          id: e.id,
          actor: e.actor,
          action: e.action,
          target_type: e.targetType,
          target_id: e.targetId,
          details: e.details,
          created_at: isoSeconds(e.createdAt),
        })),
        next_cursor: page.nextCursor,
      };
    },
  );
}
