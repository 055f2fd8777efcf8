// Client authentication at the token, revocation and introspection endpoints (RFC 6749 section 2.3):
// client_secret_basic or client_secret_post for confidential clients, the bare client_id for public ones.
import type { FastifyRequest } from 'fastify';
import { InvalidClient, InvalidRequest } from '../errors.js';
import type { ClientDirectory } from '../platform/clients.js';
import type { App } from '../platform/service.js';
import type { TenancyService } from '../tenancy/service.js';
import { param, type Params } from './params.js';

export interface ClientCredentials {
  basic?: { clientId: string; secret: string };
  bodyClientId?: string;
  bodySecret?: string;
}

/** RFC 6749 section 2.3.1: the client id and secret are form-urlencoded before base64 ('+' is a space). */
function formUnescape(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s; // generated ids and secrets: nothing to decode
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new InvalidRequest('malformed Basic credentials');
  }
}

function basicCredentials(header: string | undefined): ClientCredentials['basic'] {
  if (!header) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) throw new InvalidRequest('the Authorization header must use the Basic scheme here');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new InvalidRequest('malformed Basic credentials');
  return { clientId: formUnescape(decoded.slice(0, colon)), secret: formUnescape(decoded.slice(colon + 1)) };
}

/** The credentials a request presents, read once (for the rate limits and the authentication both). */
export function presentedCredentials(request: FastifyRequest, form: Params): ClientCredentials {
  return { basic: basicCredentials(request.headers.authorization), bodyClientId: param(form, 'client_id'), bodySecret: param(form, 'client_secret') };
}

/** The client_id the request claims, before anything proves it. */
export function claimedClientId(credentials: ClientCredentials): string | undefined {
  return credentials.basic?.clientId ?? credentials.bodyClientId;
}

/** How to send the secret the registered way, for a caller who proved it knows the secret but sent it otherwise. */
const HOW: Record<'client_secret_basic' | 'client_secret_post', string> = {
  client_secret_basic: 'send its id and secret with HTTP Basic',
  client_secret_post: 'send client_id and client_secret in the form',
};

/** A suspended app is issued nothing (README "App states"); only a caller who proved to be the client is told why. */
function active(app: App): App {
  if (app.status === 'suspended') throw new InvalidClient('this client is suspended: a tenant admin suspended the app; no token is issued until it is resumed');
  return app;
}

export class ClientAuthenticator {
  constructor(
    private readonly clients: ClientDirectory,
    private readonly tenancy: TenancyService,
  ) {}

  /**
   * A client of a sandbox past its term is issued nothing, as its tokens would be refused (README "Sandbox tenants");
   * one whose tenant was removed is no client any more. Told only to a caller that proved to be the client.
   */
  private async inStandingTenant(app: App): Promise<App> {
    const standing = await this.tenancy.standing(app.tenantId);
    if (!standing) throw new InvalidClient('client authentication failed');
    if (this.tenancy.hasExpired(standing)) throw new InvalidClient('this client belongs to a sandbox tenant that has expired; no token is issued');
    return app;
  }

  async authenticate(credentials: ClientCredentials): Promise<App> {
    const { basic, bodyClientId, bodySecret } = credentials;
    if (basic && (bodySecret !== undefined || (bodyClientId && bodyClientId !== basic.clientId))) {
      throw new InvalidRequest('use one client authentication method: HTTP Basic or client_secret in the body, not both');
    }
    const clientId = claimedClientId(credentials);
    const secret = basic?.secret ?? bodySecret;
    if (!clientId) throw new InvalidClient('client authentication is required');
    const record = await this.clients.find(clientId);
    if (!record) throw new InvalidClient('client authentication failed');
    const registered = record.app.tokenEndpointAuthMethod;
    if (registered === 'none') {
      // A public client identifies itself but has nothing to authenticate with (RFC 6749 section 2.1).
      if (secret !== undefined) throw new InvalidClient('client authentication failed');
      return this.inStandingTenant(active(record.app));
    }
    // The record just found is the one checked: one cache lookup (or one query) per authentication.
    if (secret === undefined || !this.clients.secretMatches(record, secret)) throw new InvalidClient('client authentication failed');
    // Only the registered method authenticates (RFC 7591 section 2); the right secret sent another way is refused,
    // and only a caller who proved the secret is told how to send it.
    const used = basic ? 'client_secret_basic' : 'client_secret_post';
    if (used !== registered) throw new InvalidClient(`client authentication failed: this client is registered for ${registered}: ${HOW[registered]}`);
    return this.inStandingTenant(active(record.app));
  }
}
