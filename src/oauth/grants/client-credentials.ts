// grant_type=client_credentials (RFC 6749 section 4.4): a confidential client gets a token for itself.
import { UnauthorizedClient } from '../../errors.js';
import type { TokenService } from '../../keys/tokens.js';
import type { ClientDirectory } from '../../platform/clients.js';
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
    const scopes = grantedScopes(parseScope(param(form, 'scope')), await this.clients.allowedScopes(app));
    const sandbox = await this.tenancy.isSandbox(app.tenantId);
    const issued = await this.tokens.issue({ subject: app.id, clientId: app.id, scopes, tenantId: app.tenantId, ttlSeconds: app.accessTokenTtl, sandbox });
    return { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: scopes.join(' ') };
  }
}
