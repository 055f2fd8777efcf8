// The integration requests over REST:
//   POST/GET /v1/platform/integration-requests, GET .../{id},
//   POST .../{id}/sandbox-credentials                           a tenant admin, or an app for itself (public)
//   GET /api/v1/platform/integration-requests, GET .../{id},
//   POST .../{id}/approve, POST .../{id}/deny                    operators (out of the OpenAPI document, like the rest
//                                                                of /api/v1/platform/*)
// The policy is IntegrationRequestService's; handlers find the requester and hand over.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { authenticate, requireScope, requireTenant, SCOPE_OPERATOR } from '../http/auth.js';
import { bearerSecurity as security, ErrorBody } from '../http/schemas.js';
import type { TokenService } from '../keys/tokens.js';
import {
  ApproveBody,
  DenyBody,
  NewRequestBody,
  OperatorRequestQuery,
  RequestList,
  RequestParams,
  RequestQuery,
  RequestView,
  requestView,
  SandboxCredentials,
} from './schemas.js';
import type { IntegrationRequestService } from './service.js';

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const tags = ['Integration requests'];

export function registerRequestRoutes(root: FastifyInstance, { requests, tokens }: { requests: IntegrationRequestService; tokens: TokenService }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const requester = [authenticate(tokens), requireTenant];
  const operator = [authenticate(tokens), requireScope(SCOPE_OPERATOR)];

  app.post(
    '/v1/platform/integration-requests',
    {
      preHandler: requester,
      schema: {
        tags,
        summary: 'Request an integration capability',
        description:
          'Asks the operators for a curated GraphQL bundle (`bundle`, `client_id`), more published scopes for the tenant (`scopes`), ' +
          'enterprise federation (`protocol`: saml or oidc, `domain`), a sandbox tenant (`name`, `slug`?, `admin_email`?) or platform access ' +
          '(`capability`). A tenant admin asks for the tenant; an app asks for itself. The decision reaches the tenant admins\' ' +
          'subscriptions to `integration_request.decided`.',
        security,
        body: NewRequestBody,
        response: { 201: RequestView, ...errors },
      },
    },
    async (request, reply) => {
      const created = await requests.create(request.em, await requests.requesterOf(request.principal!), request.body);
      return reply.code(201).send(requestView(created));
    },
  );

  app.get(
    '/v1/platform/integration-requests',
    {
      preHandler: requester,
      schema: {
        tags,
        summary: 'List integration requests',
        description: "A tenant admin sees the tenant's requests, an app its own; newest first.",
        security,
        querystring: RequestQuery,
        response: { 200: RequestList, ...errors },
      },
    },
    async (request) => {
      const page = await requests.list(request.em, await requests.requesterOf(request.principal!), request.query);
      return { integration_requests: page.items.map(requestView), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/platform/integration-requests/:id',
    {
      preHandler: requester,
      schema: { tags, summary: 'Inspect an integration request', security, params: RequestParams, response: { 200: RequestView, ...errors } },
    },
    async (request) => requestView(await requests.get(request.em, await requests.requesterOf(request.principal!), request.params.id)),
  );

  app.post(
    '/v1/platform/integration-requests/:id/sandbox-credentials',
    {
      preHandler: requester,
      schema: {
        tags,
        summary: "Claim an approved sandbox's admin credentials",
        description: "Once, for whoever asked: the sandbox admin's password (set now, shown once) and a tenant-admin token of the sandbox. A second claim is 409.",
        security,
        params: RequestParams,
        response: { 200: SandboxCredentials, ...errors },
      },
    },
    async (request, reply) => {
      const credentials = await requests.claimSandboxCredentials(request.em, await requests.requesterOf(request.principal!), request.params.id);
      return reply.header('cache-control', 'no-store').send(credentials);
    },
  );

  app.get(
    '/api/v1/platform/integration-requests',
    { preHandler: operator, schema: { hide: true, querystring: OperatorRequestQuery, response: { 200: RequestList, ...errors } } },
    async (request) => {
      const { status, tenant_id: tenantId, limit, cursor } = request.query;
      const page = await requests.listAll(request.em, { status, tenantId, limit, cursor });
      return { integration_requests: page.items.map(requestView), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/api/v1/platform/integration-requests/:id',
    { preHandler: operator, schema: { hide: true, params: RequestParams, response: { 200: RequestView, ...errors } } },
    async (request) => requestView(await requests.getAny(request.em, request.params.id)),
  );

  app.post(
    '/api/v1/platform/integration-requests/:id/approve',
    {
      preHandler: operator,
      // The note is optional, and so is a body.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: { hide: true, params: RequestParams, body: ApproveBody, response: { 200: RequestView, ...errors } },
    },
    async (request) => requestView(await requests.approve(request.em, request.params.id, request.principal!.subject, request.body?.note ?? null)),
  );

  app.post(
    '/api/v1/platform/integration-requests/:id/deny',
    { preHandler: operator, schema: { hide: true, params: RequestParams, body: DenyBody, response: { 200: RequestView, ...errors } } },
    async (request) => requestView(await requests.deny(request.em, request.params.id, request.principal!.subject, request.body.note)),
  );
}
