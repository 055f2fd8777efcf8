// GET /v1/platform/audit-events: the tenant admin's view of who did what, newest first (the audit service).
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AuditService } from '../audit/service.js';
import { authenticate, requireTenantScope, SCOPE_ADMIN } from '../http/auth.js';
import { bearerSecurity, ErrorBody } from '../http/schemas.js';
import type { TokenService } from '../keys/tokens.js';
import { AuditEventList, AuditQuery } from './schemas.js';
import { auditEventView } from './views.js';

export function registerAuditRoutes(root: FastifyInstance, { audit, tokens }: { audit: AuditService; tokens: TokenService }): void {
  root.withTypeProvider<TypeBoxTypeProvider>().get(
    '/v1/platform/audit-events',
    {
      preHandler: [authenticate(tokens), requireTenantScope(SCOPE_ADMIN)],
      schema: {
        tags: ['Audit'],
        summary: 'Audit log of the tenant',
        description: 'Admin actions (apps created, governance changed, secrets rotated, service tokens minted or revoked), newest first.',
        security: bearerSecurity,
        querystring: AuditQuery,
        response: { 200: AuditEventList, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request) => {
      const { limit, cursor, action, target_id: targetId } = request.query;
      const page = await audit.list(request.em, { limit, cursor, action, targetId });
      return { events: page.items.map(auditEventView), next_cursor: page.nextCursor };
    },
  );
}
