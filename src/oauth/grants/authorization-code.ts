// grant_type=authorization_code (RFC 6749 section 4.1.3, RFC 7636 section 4.6): a code redeems once, for its own
// client and redirect URI, with the verifier of its challenge; a replayed code revokes what it issued.
import { LockMode } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock } from '../../clock.js';
import { forTenant } from '../../db/tenant.js';
import { InvalidGrant, InvalidRequest, UnauthorizedClient, type TesseraError } from '../../errors.js';
import { sha256 } from '../../ids.js';
import type { ClientDirectory } from '../../platform/clients.js';
import type { App } from '../../platform/service.js';
import { redirectUriMatches } from '../authorize.js';
import { AuthorizationCode, Grant } from '../entities.js';
import { param, type Params } from '../params.js';
import { equalSecrets } from '../secrets.js';
import { PKCE_VERIFIER, s256 } from '../pkce.js';
import type { GrantHandler, GrantTokens, TokenResponse } from './grant-tokens.js';

export class AuthorizationCodeGrant implements GrantHandler {
  constructor(
    private readonly orm: MikroORM,
    private readonly grants: GrantTokens,
    private readonly clients: ClientDirectory,
    private readonly clock: Clock,
  ) {}

  async exchange(app: App, form: Params): Promise<TokenResponse> {
    if (!app.grantTypes.includes('authorization_code')) throw new UnauthorizedClient('this client is not registered for the authorization_code grant');
    const code = param(form, 'code');
    const redirectUri = param(form, 'redirect_uri');
    const verifier = param(form, 'code_verifier');
    if (!code) throw new InvalidRequest('code is required');
    if (!redirectUri) throw new InvalidRequest('redirect_uri is required');
    if (verifier !== undefined && !PKCE_VERIFIER.test(verifier)) throw new InvalidRequest('code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~');
    // Refused after the transaction commits: a replay's revocations must be kept, not rolled back with the refusal.
    let refusal: TesseraError | undefined;
    const response = await forTenant(this.orm.em, app.tenantId).transactional(async (tx) => {
      const row = await tx.findOne(AuthorizationCode, { id: sha256(code) }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!row) throw new InvalidGrant('authorization code is not valid');
      // RFC 6749 section 4.1.3: the code must have been issued to the authenticated client.
      if (row.appId !== app.id) throw new InvalidGrant('authorization code was issued to another client');
      if (row.usedAt) {
        // A replayed code: revoke everything it issued (RFC 6749 section 4.1.2, RFC 9700 section 4.5), then refuse.
        await this.grants.revoke(tx, row.grantId, 'authorization code replayed');
        refusal = new InvalidGrant('authorization code has already been used');
        return null;
      }
      if (row.expiresAt.getTime() <= this.clock.now()) throw new InvalidGrant('authorization code has expired');
      if (row.redirectUri !== redirectUri) throw new InvalidGrant('redirect_uri does not match the authorization request');
      // The app may have dropped the redirect URI since the code was issued (PATCH of the app).
      if (!app.redirectUris.some((registered) => redirectUriMatches(registered, redirectUri))) throw new InvalidGrant('redirect_uri is no longer registered for this client');
      if (row.codeChallenge) {
        if (!verifier) throw new InvalidGrant('code_verifier is required: the authorization request had a code_challenge');
        if (!equalSecrets(s256(verifier), row.codeChallenge)) throw new InvalidGrant('code_verifier does not match the code_challenge');
      } else if (verifier !== undefined) {
        // PKCE downgrade (RFC 9700 section 4.8.2): a verifier for a request that had no challenge.
        throw new InvalidGrant('code_verifier was sent but the authorization request had no code_challenge');
      }
      // Only what the app may still be issued: it may have lost scopes since the code was issued.
      const allowed = await this.clients.allowedScopes(app);
      const scopes = row.scopes.filter((s) => allowed.includes(s));
      if (!scopes.length) throw new InvalidGrant('none of the scopes of this authorization is still allowed for this client');
      row.usedAt = new Date(this.clock.now());
      const grant = await tx.findOneOrFail(Grant, { id: row.grantId });
      return this.grants.issue(tx, app, grant, scopes, { refreshScopes: row.scopes, nonce: row.nonce });
    });
    if (refusal) throw refusal;
    return response!;
  }
}
