// The client's side: POST /v1/oauth/token (RFC 6749 section 3.2), /v1/oauth/revoke (RFC 7009) and
// /v1/oauth/introspect (RFC 7662). Form-encoded, rate limited per IP and per client, the client authenticated
// (client-auth.ts), then one grant (grants/) or the revocation service answers.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidRequest, UnsupportedGrantType } from '../errors.js';
import type { Limiter } from '../http/rate-limit.js';
import { noteCaller } from '../observability/log.js';
import type { App } from '../platform/service.js';
import { claimedClientId, presentedCredentials, type ClientAuthenticator, type ClientCredentials } from './client-auth.js';
import type { GrantHandler } from './grants/grant-tokens.js';
import { param, type Params } from './params.js';
import type { TokenMetrics } from './metrics.js';
import type { TokenRevocation } from './revocation.js';

export type GrantTypeName = 'authorization_code' | 'client_credentials' | 'refresh_token';

export interface TokenEndpointDeps {
  clientAuth: ClientAuthenticator;
  grants: Record<GrantTypeName, GrantHandler>;
  revocation: TokenRevocation;
  /** Per IP, then per claimed client. */
  limits: Limiter;
  /** Per claimed client of a sandbox tenant: SANDBOX_RATE_LIMIT_TOKEN_PER_CLIENT, lower than the ordinary one. */
  sandboxLimits: Limiter;
  /** Whether `clientId` names an app of a sandbox tenant (from memory: the client directory and the tenancy's cache). */
  isSandboxClient(clientId: string): Promise<boolean>;
  metrics: TokenMetrics;
}

function formOf(request: FastifyRequest): Params {
  if (!request.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
    throw new InvalidRequest('send the parameters as application/x-www-form-urlencoded');
  }
  return (request.body ?? {}) as Params;
}

/** The authenticated client, noted on the request's log lines. */
function noted(request: FastifyRequest, client: App): App {
  noteCaller(request.log, { tenantId: client.tenantId, clientId: client.id });
  return client;
}

export function tokenEndpoints({ clientAuth, grants, revocation, limits, sandboxLimits, metrics, isSandboxClient }: TokenEndpointDeps) {
  /**
   * Counts the request per IP and per claimed client (and, for a client of a sandbox tenant, under the sandbox's
   * lower limit too), and returns the client's credentials, read once for the limits and the authentication both.
   * Credentials that do not even parse still count for the IP.
   */
  const limitedCredentials = async (request: FastifyRequest, form: Params): Promise<ClientCredentials> => {
    let credentials: ClientCredentials;
    try {
      credentials = presentedCredentials(request, form);
    } catch (malformed) {
      await limits.check([request.ip]);
      throw malformed;
    }
    const clientId = claimedClientId(credentials);
    await limits.check([request.ip, clientId]);
    // Only once the address is within its limit is the client looked up, so a flood of made-up ids stops at the first.
    if (clientId !== undefined && (await isSandboxClient(clientId))) await sandboxLimits.check([clientId]);
    return credentials;
  };

  /** The authenticated client of a form-encoded request. */
  const authenticatedClient = async (request: FastifyRequest, form: Params): Promise<App> => noted(request, await clientAuth.authenticate(await limitedCredentials(request, form)));

  const grantOf = (form: Params): GrantHandler => {
    const grantType = param(form, 'grant_type');
    if (!grantType) throw new InvalidRequest('grant_type is required');
    if (!Object.hasOwn(grants, grantType)) throw new UnsupportedGrantType(`grant_type ${grantType} is not supported`);
    return grants[grantType as GrantTypeName];
  };

  const tokenParam = (form: Params): string => {
    const token = param(form, 'token');
    if (!token) throw new InvalidRequest('token is required');
    return token;
  };

  return {
    async token(request: FastifyRequest) {
      try {
        const form = formOf(request);
        const credentials = await limitedCredentials(request, form);
        const grant = grantOf(form);
        const response = await grant.exchange(noted(request, await clientAuth.authenticate(credentials)), form);
        metrics.issued(param(form, 'grant_type')!);
        return response;
      } catch (error) {
        metrics.refused(error);
        throw error;
      }
    },

    /** Always 200 with no body, whether or not there was anything to revoke (RFC 7009 section 2.2). */
    async revoke(request: FastifyRequest, reply: FastifyReply) {
      const form = formOf(request);
      const client = await authenticatedClient(request, form);
      await revocation.revoke(client, tokenParam(form));
      return reply.send();
    },

    async introspect(request: FastifyRequest) {
      const form = formOf(request);
      const client = await authenticatedClient(request, form);
      return revocation.introspect(client, tokenParam(form));
    },
  };
}
