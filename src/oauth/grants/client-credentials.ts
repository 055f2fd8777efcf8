// grant_type=client_credentials (RFC 6749 section 4.4): a confidential client gets a token for itself. No user signs
// in, so the OpenID Connect scopes (which speak of one) are refused when asked for and left out of the default, and
// no ID token is ever issued.
import { InvalidScope, UnauthorizedClient } from '../../errors.js';
import type { TokenService } from '../../keys/tokens.js';
import type { ClientDirectory } from '../../platform/clients.js';
import { USER_SCOPES } from '../../platform/scopes.js';
import type { App } from '../../platform/service.js';
import type { TenancyService } from '../../tenancy/service.js';
import { param, parseScope, type Params } from '../params.js';
import { grantedScopes, type GrantHandler, type TokenResponse } from './grant-tokens.js';

export class ClientCredentialsGrant implements GrantHandler {
  constructor(
    private readonly tokens: TokenService,
    private readonly clients: ClientDirectory,
    private readonly tenancy: TenancyService,
  ) {}

  async exchange(app: App, form: Params): Promise<TokenResponse> {
    if (!app.grantTypes.includes('client_credentials') || app.tokenEndpointAuthMethod === 'none') {
      throw new UnauthorizedClient('this client is not registered for the client_credentials grant');
    }
    const requested = parseScope(param(form, 'scope'));
    const aboutAUser = requested?.filter((s) => USER_SCOPES.has(s)) ?? [];
    if (aboutAUser.length) {
      throw new InvalidScope(`scope ${aboutAUser.join(' ')} is about a signed-in user, and client_credentials signs no user in: use the authorization code grant`);
    }
    const allowed = (await this.clients.allowedScopes(app)).filter((s) => !USER_SCOPES.has(s));
    const scopes = grantedScopes(requested, allowed);
    const sandbox = await this.tenancy.isSandbox(app.tenantId);
    const issued = await this.tokens.issue({ subject: app.id, clientId: app.id, scopes, tenantId: app.tenantId, ttlSeconds: app.accessTokenTtl, sandbox });
    return { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: scopes.join(' ') };
  }
}
