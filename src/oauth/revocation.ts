// Token revocation (RFC 7009) and introspection (RFC 7662), for the calling client's own tokens only.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { forTenant } from '../db/tenant.js';
import { sha256 } from '../ids.js';
import type { RevocationList } from '../keys/revocations.js';
import type { TokenService } from '../keys/tokens.js';
import type { App } from '../platform/service.js';
import { Grant, RefreshToken } from './entities.js';
import { REFRESH_PREFIX, type GrantTokens } from './grants/grant-tokens.js';

export class TokenRevocation {
  constructor(
    private readonly orm: MikroORM,
    private readonly tokens: TokenService,
    private readonly revocations: RevocationList,
    private readonly grants: GrantTokens,
    private readonly config: Config,
    private readonly clock: Clock,
  ) {}

  /** RFC 7009: always succeeds for the caller; only the client's own tokens are affected. */
  async revoke(app: App, token: string): Promise<void> {
    if (token.startsWith(REFRESH_PREFIX)) {
      await forTenant(this.orm.em, app.tenantId).transactional(async (tx) => {
        const row = await tx.findOne(RefreshToken, { id: sha256(token) });
        // Section 2.1: revoking a refresh token also invalidates the access tokens of the same grant.
        if (row && row.appId === app.id) await this.grants.revoke(tx, row.grantId, 'revoked by client');
      });
      return;
    }
    const principal = await this.tokens.verify(token).catch(() => null);
    if (!principal || principal.clientId !== app.id) return;
    await this.orm.em.fork().transactional((tx) => this.revocations.revoke(tx, principal.jti, new Date(principal.expiresAt * 1000)));
  }

  /** RFC 7662: `active: false` for anything that is not a live token of this client. */
  async introspect(app: App, token: string): Promise<Record<string, unknown>> {
    if (token.startsWith(REFRESH_PREFIX)) return this.introspectRefresh(app, token);
    const principal = await this.tokens.verify(token).catch(() => null);
    if (!principal || principal.clientId !== app.id) return { active: false };
    return {
      active: true,
      token_type: 'Bearer',
      scope: [...principal.scopes].join(' '),
      client_id: principal.clientId,
      sub: principal.subject,
      ...(principal.tenantId ? { tenant_id: principal.tenantId } : {}),
      ...(principal.sandbox ? { sandbox: true } : {}),
      iat: principal.issuedAt,
      exp: principal.expiresAt,
      iss: this.config.issuer,
      aud: this.config.audience,
      jti: principal.jti,
    };
  }

  private async introspectRefresh(app: App, token: string): Promise<Record<string, unknown>> {
    const em = forTenant(this.orm.em, app.tenantId);
    const row = await em.findOne(RefreshToken, { id: sha256(token) });
    if (!row || row.appId !== app.id || row.usedAt || row.expiresAt.getTime() <= this.clock.now()) return { active: false };
    const grant = await em.findOneOrFail(Grant, { id: row.grantId });
    if (grant.revokedAt) return { active: false };
    return {
      active: true,
      token_type: 'refresh_token',
      scope: row.scopes.join(' '),
      client_id: app.id,
      sub: grant.userId,
      tenant_id: app.tenantId,
      iat: Math.floor(row.createdAt.getTime() / 1000),
      exp: Math.floor(row.expiresAt.getTime() / 1000),
      iss: this.config.issuer,
    };
  }
}
