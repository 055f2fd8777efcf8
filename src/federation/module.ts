// The federation module (README "Federation"): a tenant's identity providers (SAML 2.0, upstream OpenID Connect), the
// SAML service provider of each tenant (/v1/saml/*), the OIDC callback, and just-in-time users. It plugs into the
// hosted login page through the authorization flow (`useExternalSignIn`), tells the tenancy whether federation may be
// required of a tenant, and reaches identity providers only through the webhooks' SSRF-safe client.
import type { FeatureModule } from '../module.js';
import { federationEntities } from './entities.js';
import { FederatedUsers } from './identities.js';
import { UpstreamOidc } from './oidc.js';
import { IdentityProviderService } from './providers.js';
import { registerFederationRoutes } from './routes.js';
import { SamlServiceProvider } from './saml.js';
import { FederationService } from './service.js';

declare module '../module.js' {
  interface Services {
    identityProviders: IdentityProviderService;
    federation: FederationService;
  }
}

export const federationModule: FeatureModule = {
  name: 'federation',
  entities: federationEntities,
  tenantOwned: federationEntities,
  platformWide: [],
  create(core, { audit, tenancy, authorizationFlow, outbound }) {
    const { orm, box, config, clock, logger } = core;
    const providers = new IdentityProviderService(box, tenancy, audit, config, clock);
    const saml = new SamlServiceProvider(box, config, clock);
    const oidc = new UpstreamOidc(outbound, providers, config, clock);
    const federation = new FederationService(orm, providers, saml, oidc, new FederatedUsers(tenancy, clock), tenancy, box, clock, logger);
    authorizationFlow.useExternalSignIn(federation);
    tenancy.useIdentityProviders((em, tenantId) => federation.hasEnabledProvider(em, tenantId));
    return {
      services: { identityProviders: providers, federation },
      routes: (app) => registerFederationRoutes(app, { providers, federation, tenancy, tokens: core.tokens }),
    };
  },
};
