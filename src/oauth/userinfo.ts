// The UserInfo endpoint (OIDC Core section 5.3): GET or POST /v1/oauth/userinfo with an access token that carries
// `openid`, answering `sub` and the claims of the scopes the token carries now (id-tokens.ts). The token is admitted
// as every token is (keys/tokens.ts), so one of a suspended or deleted app is refused, and one whose app lost a scope
// no longer carries it.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { forTenant } from '../db/tenant.js';
import { Forbidden, InvalidRequest, Unauthorized } from '../errors.js';
import { bearerToken } from '../http/auth.js';
import type { TokenService } from '../keys/tokens.js';
import { noteCaller } from '../observability/log.js';
import type { TenancyService } from '../tenancy/service.js';
import { userClaims } from './id-tokens.js';
import { param, type Params } from './params.js';

/**
 * The access token, from the Authorization header (RFC 6750 section 2.1) or, on a POST, from a form-encoded
 * `access_token` (section 2.2); never both (section 2: "Clients MUST NOT use more than one method").
 */
function presentedToken(request: FastifyRequest): string {
  const formEncoded = request.method === 'POST' && request.headers['content-type']?.startsWith('application/x-www-form-urlencoded');
  const inBody = formEncoded ? param((request.body ?? {}) as Params, 'access_token') : undefined;
  if (inBody === undefined) return bearerToken(request.headers.authorization);
  if (request.headers.authorization) throw new Unauthorized('send the access token in the Authorization header or in the body, not both', 'invalid_request');
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(inBody)) throw new InvalidRequest('access_token is not a bearer token');
  return inBody;
}

export function userInfoEndpoint(orm: MikroORM, tokens: TokenService, tenancy: TenancyService) {
  return async function userInfo(request: FastifyRequest, reply: FastifyReply) {
    const principal = await tokens.verify(presentedToken(request));
    noteCaller(request.log, principal);
    // OIDC Core section 5.3.1: the access token must come from an OpenID Connect request; RFC 6750 section 3.1 names the
    // scope that is missing.
    if (!principal.scopes.has('openid')) throw Forbidden.missingScope('openid');
    // Only a user's authorization carries openid (client credentials and service tokens refuse it), but a token that
    // stands for no user of its tenant (a user since removed) has nobody to describe.
    const user = principal.tenantId ? await tenancy.user(forTenant(orm.em, principal.tenantId), principal.subject) : null;
    if (!user) throw new Unauthorized('this token does not stand for a user of its tenant', 'invalid_token');
    return reply.send({ sub: user.id, ...userClaims(user, principal.scopes) });
  };
}
