// The OAuth module: the authorization server's flows (authorize with sign-in and consent, the grants, revocation
// and introspection) and its routes. It reads apps through the platform's client directory and users through
// the tenancy service.
import type { FeatureModule } from '../module.js';
import { oauthAppDeletion } from './app-deletion.js';
import { AuthorizationFlow } from './authorize.js';
import { ClientAuthenticator } from './client-auth.js';
import { AuthorizationCode, AuthorizationRequest, Consent, Grant, GrantAccessToken, LoginSession, LoginThrottle, MfaChallenge, RefreshToken } from './entities.js';
import { AuthorizationCodeGrant } from './grants/authorization-code.js';
import { ClientCredentialsGrant } from './grants/client-credentials.js';
import { GrantTokens } from './grants/grant-tokens.js';
import { RefreshTokenGrant } from './grants/refresh-token.js';
import { RpInitiatedLogout } from './logout.js';
import { tokenMetrics } from './metrics.js';
import { TokenRevocation } from './revocation.js';
import { registerOAuthRoutes } from './routes.js';
import { userInfoEndpoint } from './userinfo.js';

declare module '../module.js' {
  interface Services {
    /** The authorization flow, where other ways of signing in plug in (the federation module: `useExternalSignIn`). */
    authorizationFlow: AuthorizationFlow;
  }
}

const entities = [AuthorizationRequest, LoginSession, Consent, Grant, AuthorizationCode, RefreshToken, GrantAccessToken, LoginThrottle, MfaChallenge];

export const oauthModule: FeatureModule = {
  name: 'oauth',
  entities,
  tenantOwned: entities,
  platformWide: [],
  create(core, { clients, platform, tenancy, appLifecycle }) {
    const { orm, tokens, revocations, config, clock } = core;
    appLifecycle.listen(oauthAppDeletion);
    const grantTokens = new GrantTokens(tokens, revocations, config, clock, tenancy);
    const deps = {
      flow: new AuthorizationFlow(orm, clients, tenancy, config, clock),
      // OpenID Connect's own endpoints (README "OpenID Connect").
      logout: new RpInitiatedLogout(orm, clients, tokens, clock),
      userInfo: userInfoEndpoint(orm, tokens, tenancy),
      signingAlgorithms: () => core.keyring.algorithms(),
      clientAuth: new ClientAuthenticator(clients, tenancy),
      grants: {
        client_credentials: new ClientCredentialsGrant(tokens, clients, tenancy),
        authorization_code: new AuthorizationCodeGrant(orm, grantTokens, clients, clock),
        refresh_token: new RefreshTokenGrant(orm, grantTokens, clients, clock),
      },
      revocation: new TokenRevocation(orm, tokens, revocations, grantTokens, config, clock),
      scopes: platform.scopes,
      metrics: tokenMetrics(core.metrics),
      isSandboxClient: async (clientId: string) => {
        const record = await clients.find(clientId);
        return record ? tenancy.isSandbox(record.app.tenantId) : false;
      },
      config,
    };
    return { services: { authorizationFlow: deps.flow }, routes: (app) => registerOAuthRoutes(app, deps) };
  },
};
