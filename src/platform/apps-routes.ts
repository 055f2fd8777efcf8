// /v1/platform/scopes and /v1/platform/apps/*: the scope catalog, apps, governance, secret rotation and service
// tokens. Handlers are short chains of named steps; the policy is PlatformService's.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { NotFound } from '../errors.js';
import { authenticate, requireTenant, requireTenantScope, SCOPE_ADMIN, tenantOf } from '../http/auth.js';
import { isoSeconds } from '../http/pagination.js';
import { bearerSecurity as security, ErrorBody, errorResponses as errors, Pagination } from '../http/schemas.js';
import type { TokenService } from '../keys/tokens.js';
import {
  AppList,
  AppPatchBody,
  AppView,
  ClientIdParams,
  CreatedApp,
  GovernancePatch,
  GovernanceView,
  MintedServiceToken,
  NewAppBody,
  RotatedSecret,
  RotateSecretBody,
  ScopeList,
  ServiceTokenBody,
  ServiceTokenList,
  ServiceTokenParams,
  SuspendBody,
} from './schemas.js';
import type { AppStates } from './app-states.js';
import { governanceOf, type Actor, type PlatformService } from './service.js';
import { appView, serviceTokenView } from './views.js';

/** The admin acting, as the audit log records them. */
function actorOf(request: FastifyRequest): Actor {
  return { id: request.principal!.subject, tenantId: tenantOf(request) };
}

/** An app token may read its own record; anything else about apps needs the tenant admin. */
function assertCanRead(request: FastifyRequest, clientId: string): void {
  const principal = request.principal!;
  if (principal.scopes.has(SCOPE_ADMIN)) return;
  if (principal.clientId !== clientId) throw new NotFound(`no app with client_id ${clientId}`);
}

export function registerAppRoutes(root: FastifyInstance, { platform, states, tokens }: { platform: PlatformService; states: AppStates; tokens: TokenService }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const authenticated = authenticate(tokens);
  const admin = [authenticated, requireTenantScope(SCOPE_ADMIN)];

  app.get(
    '/v1/platform/scopes',
    {
      preHandler: authenticated,
      schema: {
        tags: ['Apps'],
        summary: 'List available scopes',
        description:
          'The published scopes external apps of the caller\'s tenant can request at registration and token issuance. ' +
          '`sandbox: true` is added when the caller\'s tenant is a sandbox.',
        security,
        response: { 200: ScopeList, 401: ErrorBody },
      },
    },
    async (request) => {
      const { tenantId, sandbox } = request.principal!;
      const scopes = tenantId ? (await platform.scopes.availableTo(tenantId)).scopes : await platform.scopes.published();
      return { scopes, ...(sandbox ? { sandbox: true as const } : {}) };
    },
  );

  app.post(
    '/v1/platform/apps',
    {
      preHandler: admin,
      schema: {
        tags: ['Apps'],
        summary: 'Register an app',
        description: 'Creates an integration app for the caller\'s tenant. `client_secret` is returned once.',
        security,
        body: NewAppBody,
        response: { 201: CreatedApp, ...errors },
      },
    },
    async (request, reply) => {
      const { app: created, secret } = await platform.createApp(request.em, actorOf(request), request.body);
      return reply.code(201).send({ ...appView(created), ...(secret ? { client_secret: secret } : {}) });
    },
  );

  app.get(
    '/v1/platform/apps',
    {
      preHandler: admin,
      schema: { tags: ['Apps'], summary: 'List the tenant\'s apps', security, querystring: Pagination, response: { 200: AppList, ...errors } },
    },
    async (request) => {
      const page = await platform.listApps(request.em, request.query.limit, request.query.cursor);
      return { apps: page.items.map(appView), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/platform/apps/:client_id',
    {
      preHandler: [authenticated, requireTenant],
      schema: { tags: ['Apps'], summary: 'Inspect an app', security, params: ClientIdParams, response: { 200: AppView, ...errors } },
    },
    async (request) => {
      assertCanRead(request, request.params.client_id);
      return appView(await platform.getApp(request.em, request.params.client_id));
    },
  );

  app.patch(
    '/v1/platform/apps/:client_id',
    {
      preHandler: admin,
      schema: {
        tags: ['Apps'],
        summary: 'Edit an app',
        description:
          'Changes only the fields named: `name`, `redirect_uris`, `post_logout_redirect_uris`, `grant_types`, `requested_scopes`, checked as at registration. ' +
          'New tokens follow at once; a token already issued with a scope the app lost no longer carries that scope.',
        security,
        params: ClientIdParams,
        body: AppPatchBody,
        response: { 200: AppView, ...errors },
      },
    },
    async (request) => appView(await platform.updateApp(request.em, actorOf(request), request.params.client_id, request.body)),
  );

  app.post(
    '/v1/platform/apps/:client_id/suspend',
    {
      preHandler: admin,
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: ['Apps'],
        summary: 'Suspend an app',
        description:
          'At once, on every process: no token is issued to the app, each of its access, refresh and service tokens is refused, ' +
          'and its webhook deliveries are held (not attempted) until it is resumed. Suspending a suspended app changes nothing.',
        security,
        params: ClientIdParams,
        body: SuspendBody,
        response: { 200: AppView, ...errors },
      },
    },
    async (request) => appView(await states.suspend(request.em, actorOf(request), request.params.client_id, request.body?.reason ?? null)),
  );

  app.post(
    '/v1/platform/apps/:client_id/resume',
    {
      preHandler: admin,
      schema: {
        tags: ['Apps'],
        summary: 'Resume a suspended app',
        description: 'Its unexpired tokens work again and its held webhook deliveries are sent, in order, with their original webhook-id.',
        security,
        params: ClientIdParams,
        response: { 200: AppView, ...errors },
      },
    },
    async (request) => appView(await states.resume(request.em, actorOf(request), request.params.client_id)),
  );

  app.delete(
    '/v1/platform/apps/:client_id',
    {
      preHandler: admin,
      schema: {
        tags: ['Apps'],
        summary: 'Delete an app',
        description:
          'Removes the app and everything it holds: secrets, grants, codes, refresh, access and service tokens (refused at once everywhere), ' +
          'consents, bundle assignments and webhook subscriptions (pending deliveries cancelled). The audit log keeps the record; the client_id is never reused.',
        security,
        params: ClientIdParams,
        response: { 204: { type: 'null', description: 'Deleted' }, ...errors },
      },
    },
    async (request, reply) => {
      await states.delete(request.em, actorOf(request), request.params.client_id);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/v1/platform/apps/:client_id/secrets/previous',
    {
      preHandler: admin,
      schema: {
        tags: ['Apps'],
        summary: 'End the previous secret now',
        description: 'Ends the grace period of the secret a rotation replaced, without minting another; the current secret keeps working.',
        security,
        params: ClientIdParams,
        response: { 204: { type: 'null', description: 'Ended' }, ...errors },
      },
    },
    async (request, reply) => {
      await platform.endPreviousSecrets(request.em, actorOf(request), request.params.client_id);
      return reply.code(204).send();
    },
  );

  app.patch(
    '/v1/platform/apps/:client_id/governance',
    {
      preHandler: admin,
      schema: {
        tags: ['Apps'],
        summary: 'Update app governance',
        description: 'Changes only the flags named in the body; unknown flags are refused.',
        security,
        params: ClientIdParams,
        body: GovernancePatch,
        response: { 200: GovernanceView, ...errors },
      },
    },
    async (request) => {
      const updated = await platform.updateGovernance(request.em, actorOf(request), request.params.client_id, request.body);
      return { client_id: updated.id, governance: governanceOf(updated) };
    },
  );

  app.post(
    '/v1/platform/apps/:client_id/rotate-secret',
    {
      preHandler: admin,
      // The body is optional (the contract's example sends none): no body means the defaults.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: ['Apps'],
        summary: 'Rotate an app secret',
        description: 'Issues a new secret (shown once). The previous one keeps working for the grace period (default 24 h; 0 revokes it now).',
        security,
        params: ClientIdParams,
        body: RotateSecretBody,
        response: { 200: RotatedSecret, ...errors },
      },
    },
    async (request) => {
      const rotated = await platform.rotateSecret(request.em, actorOf(request), request.params.client_id, request.body?.grace_period_seconds);
      return { client_id: rotated.app.id, client_secret: rotated.secret, previous_secret_expires_at: isoSeconds(rotated.previousValidUntil) };
    },
  );

  app.post(
    '/v1/platform/apps/:client_id/service-token',
    {
      preHandler: admin,
      schema: {
        tags: ['Service tokens'],
        summary: 'Mint a service token',
        description: 'Needs governance `allow_service_tokens`; scopes must be approved for the app.',
        security,
        params: ClientIdParams,
        body: ServiceTokenBody,
        response: { 201: MintedServiceToken, ...errors },
      },
    },
    async (request, reply) => {
      const { scopes, expires_in: expiresIn } = request.body;
      const { record, token } = await platform.mintServiceToken(request.em, actorOf(request), request.params.client_id, scopes, expiresIn);
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ id: record.id, token, token_type: 'Bearer' as const, scopes: record.scopes, expires_at: isoSeconds(record.expiresAt) });
    },
  );

  app.get(
    '/v1/platform/apps/:client_id/service-tokens',
    {
      preHandler: admin,
      schema: {
        tags: ['Service tokens'],
        summary: 'List an app\'s service tokens',
        security,
        params: ClientIdParams,
        querystring: Pagination,
        response: { 200: ServiceTokenList, ...errors },
      },
    },
    async (request) => {
      const page = await platform.listServiceTokens(request.em, request.params.client_id, request.query.limit, request.query.cursor);
      return { service_tokens: page.items.map((t) => serviceTokenView(t, platform.serviceTokenStatus(t))), next_cursor: page.nextCursor };
    },
  );

  app.delete(
    '/v1/platform/apps/:client_id/service-tokens/:token_id',
    {
      preHandler: admin,
      schema: {
        tags: ['Service tokens'],
        summary: 'Revoke a service token',
        description: 'The token stops working at once, on every Tessera process.',
        security,
        params: ServiceTokenParams,
        response: { 204: { type: 'null', description: 'Revoked' }, ...errors },
      },
    },
    async (request, reply) => {
      await platform.revokeServiceToken(request.em, actorOf(request), request.params.client_id, request.params.token_id);
      return reply.code(204).send();
    },
  );
}
