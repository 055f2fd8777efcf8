// grant_type=refresh_token (RFC 6749 section 6): refresh tokens rotate on every use, and a second use of one
// revokes the whole grant (RFC 9700 section 4.14.2).
import { LockMode } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock } from '../../clock.js';
import { forTenant } from '../../db/tenant.js';
import { InvalidGrant, InvalidRequest, UnauthorizedClient, type TesseraError } from '../../errors.js';
import { sha256 } from '../../ids.js';
import type { ClientDirectory } from '../../platform/clients.js';
import type { App } from '../../platform/service.js';
import { Grant, RefreshToken } from '../entities.js';
import { param, parseScope, type Params } from '../params.js';
import { grantedScopes, type GrantHandler, type GrantTokens, type TokenResponse } from './grant-tokens.js';

export class RefreshTokenGrant implements GrantHandler {
  constructor(
    private readonly orm: MikroORM,
    private readonly grants: GrantTokens,
    private readonly clients: ClientDirectory,
    private readonly clock: Clock,
  ) {}

  async exchange(app: App, form: Params): Promise<TokenResponse> {
    if (!app.grantTypes.includes('refresh_token')) throw new UnauthorizedClient('this client is not registered for the refresh_token grant');
    const token = param(form, 'refresh_token');
    const scope = param(form, 'scope');
    if (!token) throw new InvalidRequest('refresh_token is required');
    // Refused after the transaction commits: a reuse's revocations must be kept, not rolled back with the refusal.
    let refusal: TesseraError | undefined;
    const response = await forTenant(this.orm.em, app.tenantId).transactional(async (tx) => {
      const row = await tx.findOne(RefreshToken, { id: sha256(token) }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!row || row.appId !== app.id) throw new InvalidGrant('refresh token is not valid');
      const grant = await tx.findOneOrFail(Grant, { id: row.grantId });
      if (grant.revokedAt) throw new InvalidGrant('refresh token has been revoked');
      if (row.usedAt) {
        // Reuse of a rotated refresh token: someone holds a stolen copy. Revoke the whole family.
        await this.grants.revoke(tx, grant.id, 'refresh token reused');
        refusal = new InvalidGrant('refresh token has already been used; the grant has been revoked');
        return null;
      }
      if (row.expiresAt.getTime() <= this.clock.now()) throw new InvalidGrant('refresh token has expired');
      // RFC 6749 section 6: a narrower scope applies to this access token only; an omitted scope means the scope
      // originally granted, which the new refresh token keeps.
      // Only what the app may still be issued: it may have lost scopes since the grant (README "App states").
      const allowed = await this.clients.allowedScopes(app);
      const scopes = grantedScopes(parseScope(scope), grant.scopes.filter((s) => allowed.includes(s)), 'grant');
      row.usedAt = new Date(this.clock.now());
      // No nonce: a refresh is no authentication request (OIDC Core section 12.2, errata).
      return this.grants.issue(tx, app, grant, scopes, { refreshScopes: grant.scopes });
    });
    if (refusal) throw refusal;
    return response!;
  }
}
