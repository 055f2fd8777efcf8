// Upstream OpenID Connect: Tessera as a relying party of a tenant's OpenID provider (OIDC Core section 3.1, the
// authorization code flow), with PKCE S256 (RFC 7636), `state`, `nonce`, and the issuer checked in the answer (RFC
// 9207, when the provider says it sends it). oauth4webapi does the protocol, and verifies the ID token's signature
// against the provider's JWKS with its own JOSE (Web Crypto); every request it makes goes through its custom fetch,
// which is the SSRF-safe client of src/webhooks/http.ts: outbound connections open nowhere else. Times are judged on
// the injectable clock (oauth4webapi's clockSkew is the offset of that clock from the process's).
import { LRUCache } from 'lru-cache';
import * as oauth from 'oauth4webapi';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { WebhookHttpClient } from '../webhooks/http.js';
import type { IdentityProvider } from './entities.js';
import { endpointsOf, type IdentityProviderService } from './providers.js';

/** How long a provider's discovery document is trusted before it is read again. */
const DISCOVERY_TTL_MS = 10 * 60_000;
/** oauth4webapi's allowance for clock differences with the provider, in seconds. */
const CLOCK_TOLERANCE_S = 60;

/** Why an OpenID provider's answer is refused, in a sentence for the error page and the log. */
export class OidcRefusal extends Error {}

/** What a verified ID token says of the user. */
export interface VerifiedIdToken {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  claims: Record<string, unknown>;
}

/** What a round trip keeps between the redirect and the callback. */
export interface OidcRoundTrip {
  state: string;
  nonce: string;
  codeVerifier: string;
}

function refusalOf(error: unknown): OidcRefusal {
  if (error instanceof OidcRefusal) return error;
  if (error instanceof oauth.AuthorizationResponseError) {
    return new OidcRefusal(`the identity provider did not sign you in: ${error.error}${error.error_description ? ` (${error.error_description})` : ''}`);
  }
  if (error instanceof oauth.ResponseBodyError) return new OidcRefusal(`the identity provider refused the code: ${error.error}`);
  const code = (error as { code?: string }).code;
  if (code === oauth.JWT_TIMESTAMP_CHECK) return new OidcRefusal('the ID token has expired or is not valid yet');
  if (code === oauth.JWT_CLAIM_COMPARISON) return new OidcRefusal(`the ID token does not match this sign-in: ${(error as Error).message}`);
  if (code === oauth.KEY_SELECTION || /signature/i.test((error as Error).message ?? '')) return new OidcRefusal("the ID token is not signed by the identity provider's keys");
  if (code === oauth.INVALID_RESPONSE || code === oauth.RESPONSE_IS_NOT_CONFORM || code === oauth.RESPONSE_IS_NOT_JSON) {
    return new OidcRefusal(`the identity provider's answer is not valid: ${(error as Error).message}`);
  }
  const kind = (error as { kind?: string }).kind;
  if (kind === 'blocked' || kind === 'timeout' || kind === 'network') return new OidcRefusal(`the identity provider could not be reached: ${(error as Error).message}`);
  const cause = (error as { cause?: unknown }).cause;
  if (cause && cause !== error) return refusalOf(cause);
  return new OidcRefusal(`the identity provider's answer could not be verified: ${(error as Error).message}`);
}

export class UpstreamOidc {
  private readonly servers = new LRUCache<string, { at: number; server: oauth.AuthorizationServer }>({ max: 1000 });
  /** Each provider's JWKS, kept by oauth4webapi between sign-ins (it refreshes on an unknown `kid`). */
  private readonly jwks = new LRUCache<string, oauth.JWKSCacheInput>({ max: 1000 });

  constructor(
    private readonly outbound: WebhookHttpClient,
    private readonly providers: IdentityProviderService,
    private readonly config: Config,
    private readonly clock: Clock,
  ) {}

  /** Every request oauth4webapi makes, through the SSRF-safe client; http only where the issuer is (providers.ts allowed it). */
  private http(provider: IdentityProvider) {
    return {
      [oauth.customFetch]: (url: string, init: oauth.CustomFetchOptions<string, unknown>) =>
        this.outbound.fetch(url, { method: init.method, headers: init.headers, body: init.body as string | URLSearchParams | Uint8Array | null, signal: init.signal }),
      [oauth.allowInsecureRequests]: new URL(provider.oidcIssuer!).protocol === 'http:',
    };
  }

  private client(provider: IdentityProvider): oauth.Client {
    return {
      client_id: provider.oidcClientId!,
      [oauth.clockSkew]: Math.round((this.clock.now() - Date.now()) / 1000),
      [oauth.clockTolerance]: CLOCK_TOLERANCE_S,
    };
  }

  /** The provider's metadata (OIDC Discovery 1.0 section 4), its `issuer` checked to be the configured one. */
  private async server(provider: IdentityProvider): Promise<oauth.AuthorizationServer> {
    const key = `${provider.id}:${provider.oidcIssuer}`;
    const cached = this.servers.get(key);
    if (cached && this.clock.now() - cached.at < DISCOVERY_TTL_MS) return cached.server;
    const issuer = new URL(provider.oidcIssuer!);
    const response = await oauth.discoveryRequest(issuer, { ...this.http(provider), algorithm: 'oidc' });
    const server = await oauth.processDiscoveryResponse(issuer, response);
    if (!server.authorization_endpoint || !server.token_endpoint || !server.jwks_uri) throw new OidcRefusal('the identity provider publishes no authorization, token or JWKS endpoint');
    this.servers.set(key, { at: this.clock.now(), server });
    return server;
  }

  /** A fresh round trip's secrets. */
  newRoundTrip(): OidcRoundTrip {
    return { state: oauth.generateRandomState(), nonce: oauth.generateRandomNonce(), codeVerifier: oauth.generateRandomCodeVerifier() };
  }

  /** Where to send the browser: the provider's authorization endpoint with the request (OIDC Core section 3.1.2.1). */
  async authorizationUrl(provider: IdentityProvider, trip: OidcRoundTrip): Promise<string> {
    try {
      const server = await this.server(provider);
      const url = new URL(server.authorization_endpoint!);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('client_id', provider.oidcClientId!);
      url.searchParams.set('redirect_uri', endpointsOf(this.config, '').oidcRedirectUri);
      url.searchParams.set('scope', provider.oidcScopes.join(' '));
      url.searchParams.set('state', trip.state);
      url.searchParams.set('nonce', trip.nonce);
      url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(trip.codeVerifier));
      url.searchParams.set('code_challenge_method', 'S256');
      return url.toString();
    } catch (error) {
      throw refusalOf(error);
    }
  }

  /**
   * The callback's query, checked (state, iss, error), the code exchanged (client_secret_basic unless the provider
   * only takes client_secret_post), and the ID token verified: its claims (iss, aud, exp, iat, nonce) and its signature
   * against the provider's JWKS.
   */
  async finish(provider: IdentityProvider, callback: URLSearchParams, trip: OidcRoundTrip): Promise<VerifiedIdToken> {
    try {
      const server = await this.server(provider);
      const client = this.client(provider);
      const params = oauth.validateAuthResponse(server, client, callback, trip.state);
      const methods = server.token_endpoint_auth_methods_supported;
      const secret = this.providers.clientSecret(provider);
      // RFC 8414 section 2: with no list, client_secret_basic is the default.
      const auth = !methods || methods.includes('client_secret_basic') ? oauth.ClientSecretBasic(secret) : oauth.ClientSecretPost(secret);
      const http = this.http(provider);
      const response = await oauth.authorizationCodeGrantRequest(server, client, auth, params, endpointsOf(this.config, '').oidcRedirectUri, trip.codeVerifier, http);
      const result = await oauth.processAuthorizationCodeResponse(server, client, response, { expectedNonce: trip.nonce, requireIdToken: true });
      const cache: oauth.JWKSCacheInput = this.jwks.get(provider.id) ?? {};
      await oauth.validateApplicationLevelSignature(server, response, { ...http, [oauth.jwksCache]: cache });
      this.jwks.set(provider.id, cache);
      const claims = oauth.getValidatedIdTokenClaims(result)!;
      const email = typeof claims.email === 'string' ? claims.email : null;
      return { subject: claims.sub, email, emailVerified: claims.email_verified !== false, claims: claims as unknown as Record<string, unknown> };
    } catch (error) {
      throw refusalOf(error);
    }
  }
}
