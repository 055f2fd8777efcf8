// What the grants of a user's authorization share: the tokens issued under a grant (an access token, a rotated
// refresh token where the client may refresh, and an OpenID Connect ID token where `openid` is granted), and the end
// of a grant, which revokes them all (RFC 6749 section 10.5, RFC 9700 sections 4.5 and 4.14).
import type { EntityManager } from '@mikro-orm/postgresql';
import { SCOPE_ADMIN, SCOPE_OPERATOR } from '../../http/auth.js';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { InvalidGrant, InvalidScope } from '../../errors.js';
import { sha256 } from '../../ids.js';
import type { RevocationList } from '../../keys/revocations.js';
import type { TokenService } from '../../keys/tokens.js';
import type { App } from '../../platform/service.js';
import type { TenancyService } from '../../tenancy/service.js';
import { Grant, GrantAccessToken, RefreshToken } from '../entities.js';
import { acrOf, userClaims } from '../id-tokens.js';
import type { Params } from '../params.js';

export const REFRESH_PREFIX = 'trt_';

/** The role a user needs for each of the platform's role scopes. */
const ROLE_OF_SCOPE: Record<string, string> = { [SCOPE_ADMIN]: 'admin', [SCOPE_OPERATOR]: 'operator' };

/** RFC 6749 section 5.1, with OIDC Core section 3.1.3.3's `id_token`. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
}

/** How the tokens of one exchange are issued under a grant. */
export interface IssueOptions {
  /** The scopes the new refresh token keeps (RFC 6749 section 6: the grant's, when this access token is narrower). */
  refreshScopes?: string[];
  /** The authorization request's nonce: in the ID token of the code exchange only (OIDC Core section 12.2). */
  nonce?: string | null;
}

/** One grant type of the token endpoint: it reads its own parameters from the form. */
export interface GrantHandler {
  exchange(client: App, form: Params): Promise<TokenResponse>;
}

/** The scopes granted: all that are allowed when none are asked for, else exactly those asked, all allowed. */
export function grantedScopes(requested: string[] | null, allowed: string[], limit: 'client' | 'grant' = 'client'): string[] {
  if (requested === null) {
    // Everything the client or grant had may have been withdrawn since (PATCH of the app, the tenant's scopes).
    if (!allowed.length) throw new InvalidScope(`no scope is allowed for this ${limit} any more`);
    return allowed;
  }
  if (requested.length === 0) throw new InvalidScope('scope must name at least one scope');
  const outside = requested.filter((s) => !allowed.includes(s));
  if (outside.length) throw new InvalidScope(`scope not allowed for this ${limit}: ${outside.join(' ')}`);
  return requested;
}

export class GrantTokens {
  constructor(
    private readonly tokens: TokenService,
    private readonly revocations: RevocationList,
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly tenancy: TenancyService,
  ) {}

  /**
   * An access token for the grant, remembered so that revoking the grant revokes it; a new refresh token too; and an ID
   * token when `openid` is among `scopes` (OIDC Core section 3.1.3.3, and section 12.2 on refresh).
   */
  async issue(em: EntityManager, app: App, grant: Grant, asked: string[], options: IssueOptions = {}): Promise<TokenResponse> {
    const grantId = grant.id;
    const scopes = await this.withRolesOf(em, app, grant.userId, asked);
    const refreshScopes = options.refreshScopes ?? asked;
    const sandbox = await this.tenancy.isSandbox(app.tenantId);
    // An operator's console token is for no tenant: operators act across tenants (README "Console").
    const tenantId = app.firstParty === 'console' && scopes.includes(SCOPE_OPERATOR) ? null : app.tenantId;
    const issued = await this.tokens.issue({ subject: grant.userId, clientId: app.id, scopes, tenantId, ttlSeconds: app.accessTokenTtl, sandbox });
    em.create(GrantAccessToken, { jti: issued.jti, tenantId: app.tenantId, grantId, expiresAt: issued.expiresAt });
    const response: TokenResponse = { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: scopes.join(' ') };
    if (app.grantTypes.includes('refresh_token')) {
      const refreshToken = `${REFRESH_PREFIX}${randomBytes(32).toString('base64url')}`;
      em.create(RefreshToken, {
        id: sha256(refreshToken),
        tenantId: app.tenantId,
        appId: app.id,
        grantId,
        scopes: refreshScopes,
        expiresAt: new Date(this.clock.now() + this.config.oauth.refreshTtl * 1000),
        usedAt: null,
      });
      response.refresh_token = refreshToken;
    }
    if (scopes.includes('openid')) response.id_token = await this.idToken(em, app, grant, scopes, issued.token, options.nonce);
    return response;
  }

  /**
   * The platform's role scopes (only the console's client is approved for them) go only to a user who has the role
   * now: `platform:admin` to an admin, `platform:operator` to an operator. Checked at every issue, refreshes
   * included, so a role taken away ends with the access token that carried it.
   */
  private async withRolesOf(em: EntityManager, app: App, userId: string, scopes: string[]): Promise<string[]> {
    if (!scopes.some((s) => ROLE_OF_SCOPE[s])) return scopes;
    const roles = new Set((await this.tenancy.user(em, userId))?.roles ?? []);
    return scopes.filter((s) => !ROLE_OF_SCOPE[s] || (app.firstParty === 'console' && roles.has(ROLE_OF_SCOPE[s]!)));
  }

  /**
   * The ID token beside `accessToken`: the user as they stand now, the sign-in as the grant remembers it (a refreshed
   * ID token keeps the original `auth_time`, OIDC Core section 12.2).
   */
  private async idToken(em: EntityManager, app: App, grant: Grant, scopes: string[], accessToken: string, nonce: string | null | undefined): Promise<string> {
    const user = await this.tenancy.user(em, grant.userId);
    if (!user) throw new InvalidGrant('the user of this authorization no longer exists');
    // A grant made before OpenID Connect here remembers no sign-in: a password was the only way then.
    const amr = grant.amr ?? ['pwd'];
    return this.tokens.issueIdToken({
      subject: user.id,
      clientId: app.id,
      ttlSeconds: this.config.oauth.idTokenTtl,
      authTime: grant.authTime?.getTime() ?? null,
      nonce,
      accessToken,
      acr: acrOf(amr),
      amr,
      sid: grant.loginSessionId,
      claims: userClaims(user, scopes),
    });
  }

  /** Ends a grant: its refresh tokens stop at once (checked on use), its live access tokens are revoked. */
  async revoke(em: EntityManager, grantId: string, reason: string): Promise<void> {
    const grant = await em.findOne(Grant, { id: grantId });
    if (!grant || grant.revokedAt) return;
    const now = new Date(this.clock.now());
    grant.revokedAt = now;
    grant.revokedReason = reason;
    const live = await em.find(GrantAccessToken, { grantId, expiresAt: { $gt: now } });
    for (const token of live) await this.revocations.revoke(em, token.jti, token.expiresAt);
  }
}
