// The web console's own OAuth client in each tenant (README "Console"): the console signs people in through
// Tessera's authorization server like any client, so it needs a client in the tenant they sign in to. It is made
// the first time someone signs in to the console there, is the platform's (first party: no tenant admin lists,
// edits or deletes it, and it may be issued the platform's role scopes to users who hold the role), and its secret
// is derived from SECRETS_KEY, so every process knows it without storing it.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { AuditService } from '../audit/service.js';
import type { Config } from '../config.js';
import { SCOPE_ADMIN, SCOPE_OPERATOR } from '../http/auth.js';
import { newId, sha256 } from '../ids.js';
import type { SecretBox } from '../secret-box.js';
import type { ClientDirectory } from './clients.js';
import { App, ClientSecret } from './entities.js';

export interface ConsoleClient {
  clientId: string;
  secret: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  /** What the console asks for: who the user is, and the role scope of the tenant (admin, or operator). */
  scopes: string[];
}

/** Where the console receives the authorization response, and where logout sends the user back, under the issuer. */
export const CONSOLE_CALLBACK = '/console/callback';
export const CONSOLE_SIGNED_OUT = '/console/signed-out';
const IDENTITY_SCOPES = ['openid', 'profile', 'email'];

export class ConsoleClients {
  constructor(
    private readonly orm: MikroORM,
    private readonly clients: ClientDirectory,
    private readonly box: SecretBox,
    private readonly audit: AuditService,
    private readonly config: Config,
  ) {}

  /** The console's client in the tenant, made (or brought up to date with the issuer) at first use. */
  async forTenant(tenant: { id: string; operators: boolean }): Promise<ConsoleClient> {
    const redirectUri = `${this.config.issuer}${CONSOLE_CALLBACK}`;
    const postLogoutRedirectUri = `${this.config.issuer}${CONSOLE_SIGNED_OUT}`;
    const scopes = [...IDENTITY_SCOPES, tenant.operators ? SCOPE_OPERATOR : SCOPE_ADMIN];
    const app = await this.orm.em.fork().transactional(async (tx) => {
      // One console client a tenant (a unique index), whoever comes first: the others wait for its commit and find it.
      await tx.execute(`select pg_advisory_xact_lock(hashtextextended('console-client:' || ?, 0))`, [tenant.id]);
      const found = await tx.findOne(App, { tenantId: tenant.id, firstParty: 'console', status: { $ne: 'deleted' } }, { filters: false });
      if (found) {
        if (found.redirectUris[0] !== redirectUri || found.postLogoutRedirectUris[0] !== postLogoutRedirectUri) {
          found.redirectUris = [redirectUri];
          found.postLogoutRedirectUris = [postLogoutRedirectUri];
          await this.clients.announceChange(tx, found.id);
        }
        return found;
      }
      return this.create(tx, tenant.id, { redirectUri, postLogoutRedirectUri, scopes });
    });
    return { clientId: app.id, secret: this.secretOf(app.id), redirectUri, postLogoutRedirectUri, scopes };
  }

  private async create(tx: EntityManager, tenantId: string, { redirectUri, postLogoutRedirectUri, scopes }: Pick<ConsoleClient, 'redirectUri' | 'postLogoutRedirectUri' | 'scopes'>): Promise<App> {
    const app = tx.create(App, {
      id: newId('app'),
      tenantId,
      name: 'Tessera console',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [postLogoutRedirectUri],
      approvedScopes: scopes,
      tokenEndpointAuthMethod: 'client_secret_basic',
      allowServiceTokens: false,
      enforcePkce: true,
      accessTokenTtl: this.config.tokens.accessTtl,
      serviceTokenMaxTtl: this.config.tokens.serviceTtl,
      createdBy: 'platform',
      firstParty: 'console',
    });
    tx.create(ClientSecret, { id: newId('sec'), tenantId, appId: app.id, secretHash: sha256(this.secretOf(app.id)), expiresAt: null });
    this.audit.record(tx, { tenantId, actor: 'platform', action: 'app.created', targetType: 'app', targetId: app.id, details: { name: app.name, first_party: 'console' } });
    await this.clients.announceChange(tx, app.id);
    return app;
  }

  private secretOf(clientId: string): string {
    return `tsec_${this.box.derive(`console-client:${clientId}`)}`;
  }
}
