// Apps, their governance, client secrets and service tokens: the platform's own policy lives here.
import { LockMode, type EntityManager } from '@mikro-orm/postgresql';
import type { AuditService } from '../audit/service.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { Conflict, Forbidden, InvalidRequest, InvalidScope, NotFound } from '../errors.js';
import { forTenant } from '../db/tenant.js';
import { isLoopbackHost } from '../http/loopback.js';
import { afterCursor, decodeCursor, toPage, type Page } from '../http/pagination.js';
import { newId, newSecret, sha256 } from '../ids.js';
import type { RevocationList } from '../keys/revocations.js';
import type { TokenService } from '../keys/tokens.js';
import type { ClientDirectory } from './clients.js';
import { App, ClientSecret, ServiceToken, type GrantType, type TokenEndpointAuthMethod } from './entities.js';
import { USER_SCOPES, type ScopeCatalog } from './scopes.js';
import type { Logger } from '../observability/log.js';
import type { TenancyService } from '../tenancy/service.js';

export type { App, ServiceToken, GrantType, TokenEndpointAuthMethod } from './entities.js';

const SECRET_PREFIX = 'tsec_';
const MAX_GRACE_SECONDS = 30 * 86_400;

export interface NewApp {
  name: string;
  grant_types: GrantType[];
  redirect_uris: string[];
  /** OpenID Connect RP-Initiated Logout 1.0 section 3.1; none when not given. */
  post_logout_redirect_uris?: string[];
  requested_scopes: string[];
  token_endpoint_auth_method?: TokenEndpointAuthMethod;
}

/** PATCH /v1/platform/apps/{client_id}: the fields a registration sets, each optional. */
export type AppPatch = Partial<Pick<NewApp, 'name' | 'grant_types' | 'redirect_uris' | 'post_logout_redirect_uris' | 'requested_scopes'>>;

export interface GovernancePatch {
  allow_service_tokens?: boolean;
  enforce_pkce?: boolean;
  access_token_ttl?: number;
  service_token_max_ttl?: number;
}

export interface Actor {
  id: string;
  tenantId: string;
}

export function governanceOf(app: App) {
  return {
    allow_service_tokens: app.allowServiceTokens,
    enforce_pkce: app.enforcePkce,
    access_token_ttl: app.accessTokenTtl,
    service_token_max_ttl: app.serviceTokenMaxTtl,
  };
}

/** RFC 3986's characters: unreserved, reserved (less `*`, refused on its own) and percent-encodings. */
const URI_CHARACTERS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()+,;=%]*$/;

/** A redirect URI of the list `list` (`redirect_uris`, `post_logout_redirect_uris`): both are compared exactly. */
function checkRedirectUri(list: string, raw: string, index: number): void {
  const field = `body.${list}[${index}]`;
  // Compared exactly at the authorization endpoint: a pattern would be stored, never matched, so it is refused.
  if (raw.includes('*')) throw InvalidRequest.field(field, 'must not contain *: a redirect URI is compared exactly, never as a pattern');
  const stray = [...raw].find((c) => !URI_CHARACTERS.test(c));
  if (stray !== undefined) throw InvalidRequest.field(field, `must hold URI characters only (RFC 3986): percent-encode ${stray === ' ' ? 'a space' : stray}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw InvalidRequest.field(field, 'must be an absolute URI');
  }
  // RFC 6749 section 3.1.2: no fragment component.
  if (raw.includes('#')) throw InvalidRequest.field(field, 'must not contain a fragment');
  if (url.username || url.password) throw InvalidRequest.field(field, 'must not contain credentials');
  // RFC 8252 section 7.3: plain http is only for loopback redirect URIs.
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) throw InvalidRequest.field(field, 'must use https (http is allowed only for loopback hosts)');
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw InvalidRequest.field(field, 'must use https');
}

/** The grants and redirect URIs of an app make sense together (RFC 6749 sections 2.1, 3.1.2, 4). */
function checkGrants(input: Pick<NewApp, 'grant_types' | 'redirect_uris' | 'post_logout_redirect_uris'>, method: TokenEndpointAuthMethod): void {
  const grants = new Set(input.grant_types);
  input.redirect_uris.forEach((uri, index) => checkRedirectUri('redirect_uris', uri, index));
  const postLogout = input.post_logout_redirect_uris ?? [];
  postLogout.forEach((uri, index) => checkRedirectUri('post_logout_redirect_uris', uri, index));
  // Only a user who signed in to the app (through the authorization code grant) is ever sent back after logout.
  if (!grants.has('authorization_code') && postLogout.length > 0) {
    throw InvalidRequest.field('body.post_logout_redirect_uris', 'is only used by apps that sign users in (the authorization_code grant)');
  }
  if (grants.has('authorization_code') && input.redirect_uris.length === 0) {
    throw InvalidRequest.field('body.redirect_uris', 'needs at least one URI for the authorization_code grant');
  }
  if (!grants.has('authorization_code') && input.redirect_uris.length > 0) {
    throw InvalidRequest.field('body.redirect_uris', 'is only used by the authorization_code grant');
  }
  if (grants.has('refresh_token') && !grants.has('authorization_code')) {
    const problem = 'refresh_token is only issued with authorization_code';
    throw new InvalidRequest(`body.grant_types: ${problem}`, { path: 'body.grant_types', problem });
  }
  if (grants.has('client_credentials') && method === 'none') {
    const problem = 'client_credentials needs a confidential client (token_endpoint_auth_method none is public)';
    throw new InvalidRequest(`body.grant_types: ${problem}`, { path: 'body.grant_types', problem });
  }
}

export class PlatformService {
  constructor(
    private readonly clients: ClientDirectory,
    readonly scopes: ScopeCatalog,
    private readonly tokens: TokenService,
    private readonly revocations: RevocationList,
    private readonly audit: AuditService,
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly tenancy: TenancyService,
  ) {}

  async createApp(em: EntityManager, actor: Actor, input: NewApp): Promise<{ app: App; secret: string | null }> {
    const method = input.token_endpoint_auth_method ?? 'client_secret_basic';
    checkGrants(input, method);
    await this.scopes.assertAvailable(actor.tenantId, input.requested_scopes, 'body.requested_scopes');

    return em.transactional(async (tx) => {
      const app = tx.create(App, {
        id: newId('app'),
        tenantId: actor.tenantId,
        name: input.name.trim(),
        grantTypes: input.grant_types,
        redirectUris: input.redirect_uris,
        postLogoutRedirectUris: input.post_logout_redirect_uris ?? [],
        approvedScopes: input.requested_scopes,
        tokenEndpointAuthMethod: method,
        allowServiceTokens: false,
        // Public clients always need PKCE (RFC 9700 section 2.1.1); the flag makes it explicit.
        enforcePkce: method === 'none',
        accessTokenTtl: this.config.tokens.accessTtl,
        serviceTokenMaxTtl: this.config.tokens.serviceTtl,
        createdBy: actor.id,
      });
      const secret = method === 'none' ? null : this.addSecret(tx, app);
      await this.clients.announceChange(tx, app.id);
      this.auditApp(tx, actor, 'app.created', app, { name: app.name, grant_types: app.grantTypes, requested_scopes: app.approvedScopes });
      return { app, secret };
    });
  }

  /** The audit record of an admin's action on an app, in the transaction of the change. */
  auditApp(em: EntityManager, actor: Actor, action: string, app: App, details: Record<string, unknown>): void {
    this.audit.record(em, { tenantId: app.tenantId, actor: actor.id, action, targetType: 'app', targetId: app.id, details });
  }

  /** A new secret; only its SHA-256 is kept, so it is shown once, in the answer that made it. */
  private addSecret(em: EntityManager, app: App): string {
    const secret = newSecret(SECRET_PREFIX);
    em.create(ClientSecret, { id: newId('sec'), tenantId: app.tenantId, appId: app.id, secretHash: sha256(secret), expiresAt: null });
    return secret;
  }

  /** The tenant's apps, deleted ones left out. */
  async listApps(em: EntityManager, limit: number, cursor?: string): Promise<Page<App>> {
    const rows = await em.find(App, { status: { $ne: 'deleted' }, firstParty: null, ...afterCursor(decodeCursor(cursor)) }, { orderBy: { createdAt: 'asc', id: 'asc' }, limit: limit + 1 });
    return toPage(rows, limit);
  }

  /** How many apps `tenantId` has, deleted ones and the console's own client left out (an operator's view of a tenant). */
  async countApps(em: EntityManager, tenantId: string): Promise<number> {
    return forTenant(em, tenantId).count(App, { status: { $ne: 'deleted' }, firstParty: null });
  }

  /**
   * Another tenant's app is "not found", never "forbidden": its existence is not confirmed (tenant filter). A deleted
   * app is not found either: only its tombstone is left; nor is the console's own client, which is the platform's.
   */
  async getApp(em: EntityManager, clientId: string, options: { lock?: boolean } = {}): Promise<App> {
    const app = await em.findOne(App, { id: clientId, status: { $ne: 'deleted' }, firstParty: null }, options.lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
    if (!app) throw new NotFound(`no app with client_id ${clientId}`);
    return app;
  }

  /**
   * Changes what a registration set, with the same checks. New tokens follow at once; a token already issued with a
   * scope the app lost no longer carries it (clients.ts `admit`); a grant it lost issues nothing more (each grant
   * checks the app's grant types).
   */
  async updateApp(em: EntityManager, actor: Actor, clientId: string, patch: AppPatch): Promise<App> {
    const updated = await em.transactional(async (tx) => {
      const app = await this.getApp(tx, clientId);
      const next = {
        name: patch.name?.trim() ?? app.name,
        grant_types: patch.grant_types ?? app.grantTypes,
        redirect_uris: patch.redirect_uris ?? app.redirectUris,
        post_logout_redirect_uris: patch.post_logout_redirect_uris ?? app.postLogoutRedirectUris,
        requested_scopes: patch.requested_scopes ?? app.approvedScopes,
      };
      checkGrants(next, app.tokenEndpointAuthMethod);
      if (patch.requested_scopes) await this.scopes.assertAvailable(app.tenantId, patch.requested_scopes, 'body.requested_scopes');
      const before = {
        name: app.name,
        grant_types: app.grantTypes,
        redirect_uris: app.redirectUris,
        post_logout_redirect_uris: app.postLogoutRedirectUris,
        requested_scopes: app.approvedScopes,
      };
      const changed = (Object.keys(next) as Array<keyof typeof next>).filter((field) => JSON.stringify(before[field]) !== JSON.stringify(next[field]));
      if (!changed.length) return app;
      app.name = next.name;
      app.grantTypes = next.grant_types;
      app.redirectUris = next.redirect_uris;
      app.postLogoutRedirectUris = next.post_logout_redirect_uris;
      app.approvedScopes = next.requested_scopes;
      await this.clients.announceChange(tx, app.id);
      this.auditApp(tx, actor, 'app.updated', app, Object.fromEntries(changed.map((field) => [field, { before: before[field], after: next[field] }])));
      return app;
    });
    this.log.info({ tenant_id: actor.tenantId, client_id: clientId, actor: actor.id }, 'app updated');
    return updated;
  }

  async updateGovernance(em: EntityManager, actor: Actor, clientId: string, patch: GovernancePatch): Promise<App> {
    return em.transactional(async (tx) => {
      const app = await this.getApp(tx, clientId);
      if (patch.access_token_ttl !== undefined && patch.access_token_ttl > this.config.tokens.accessMaxTtl) {
        throw InvalidRequest.field('body.access_token_ttl', `must be at most ${this.config.tokens.accessMaxTtl}`);
      }
      if (patch.service_token_max_ttl !== undefined && patch.service_token_max_ttl > this.config.tokens.serviceMaxTtl) {
        throw InvalidRequest.field('body.service_token_max_ttl', `must be at most ${this.config.tokens.serviceMaxTtl}`);
      }
      if (patch.enforce_pkce === false && app.tokenEndpointAuthMethod === 'none') {
        throw InvalidRequest.field('body.enforce_pkce', 'cannot be false for a public client');
      }
      const before = governanceOf(app);
      if (patch.allow_service_tokens !== undefined) app.allowServiceTokens = patch.allow_service_tokens;
      if (patch.enforce_pkce !== undefined) app.enforcePkce = patch.enforce_pkce;
      if (patch.access_token_ttl !== undefined) app.accessTokenTtl = patch.access_token_ttl;
      if (patch.service_token_max_ttl !== undefined) app.serviceTokenMaxTtl = patch.service_token_max_ttl;
      await this.clients.announceChange(tx, app.id);
      this.auditApp(tx, actor, 'app.governance_changed', app, { before, after: governanceOf(app) });
      return app;
    });
  }

  /** A new secret; every older one stays valid for the grace period (0 ends them now). */
  async rotateSecret(em: EntityManager, actor: Actor, clientId: string, graceSeconds?: number) {
    const grace = graceSeconds ?? this.config.secretRotationGrace;
    if (grace < 0 || grace > MAX_GRACE_SECONDS) throw InvalidRequest.field('body.grace_period_seconds', `must be between 0 and ${MAX_GRACE_SECONDS}`);
    const rotated = await em.transactional(async (tx) => {
      const app = await this.getApp(tx, clientId);
      if (app.tokenEndpointAuthMethod === 'none') throw new InvalidRequest(`app ${clientId} is a public client and has no secret`);
      const now = new Date(this.clock.now());
      const until = new Date(now.getTime() + grace * 1000);
      const live = await tx.find(ClientSecret, { appId: app.id, $or: [{ expiresAt: null }, { expiresAt: { $gt: now } }] });
      for (const old of live) old.expiresAt = old.expiresAt && old.expiresAt < until ? old.expiresAt : until;
      const secret = this.addSecret(tx, app);
      await this.clients.announceChange(tx, app.id);
      this.auditApp(tx, actor, 'app.secret_rotated', app, { grace_period_seconds: grace, previous_secrets: live.length });
      return { app, secret, previousValidUntil: live.length ? until : null };
    });
    this.log.info({ tenant_id: actor.tenantId, client_id: clientId, actor: actor.id, grace_period_seconds: grace, previous_valid_until: rotated.previousValidUntil?.toISOString() ?? null }, 'client secret rotated');
    return rotated;
  }

  /** Ends the grace period of every previous secret now, without minting another (the current one stays). */
  async endPreviousSecrets(em: EntityManager, actor: Actor, clientId: string): Promise<{ app: App; ended: number }> {
    const ended = await em.transactional(async (tx) => {
      const app = await this.getApp(tx, clientId);
      if (app.tokenEndpointAuthMethod === 'none') throw new InvalidRequest(`app ${clientId} is a public client and has no secret`);
      const now = new Date(this.clock.now());
      const inGrace = await tx.find(ClientSecret, { appId: app.id, expiresAt: { $gt: now } });
      if (!inGrace.length) throw new NotFound(`app ${clientId} has no previous secret in a grace period`);
      for (const secret of inGrace) secret.expiresAt = now;
      await this.clients.announceChange(tx, app.id);
      this.auditApp(tx, actor, 'app.previous_secret_ended', app, { previous_secrets: inGrace.length });
      return { app, ended: inGrace.length };
    });
    this.log.info({ tenant_id: actor.tenantId, client_id: clientId, actor: actor.id, previous_secrets: ended.ended }, 'previous client secret ended');
    return ended;
  }

  /**
   * An operator's choice of the published scopes a tenant may use (null: all of them), effective at once on every
   * process: the tenant's apps are no longer issued a withheld scope, and tokens that carry one lose it.
   */
  async chooseTenantScopes(em: EntityManager, tenantId: string, scopes: string[] | null, actor: string) {
    const chosen = await this.scopes.choose(em, tenantId, scopes, actor);
    this.clients.forgetAll();
    this.log.info({ tenant_id: tenantId, actor, scopes: scopes ?? 'all published' }, 'tenant scopes changed');
    return chosen;
  }

  async mintServiceToken(em: EntityManager, actor: Actor, clientId: string, scopes: string[], expiresIn?: number) {
    const app = await this.getApp(em, clientId);
    if (app.status === 'suspended') throw new Conflict(`app ${clientId} is suspended; resume it before minting service tokens`);
    if (!app.allowServiceTokens) {
      throw new Forbidden(`service tokens are not allowed for app ${clientId}; a tenant admin can enable governance.allow_service_tokens`);
    }
    const approved = new Set(app.approvedScopes);
    const outside = scopes.filter((s) => !approved.has(s));
    if (outside.length) throw new InvalidScope(`body.scopes are not approved for this app: ${outside.join(', ')}`);
    const aboutAUser = scopes.filter((s) => USER_SCOPES.has(s));
    if (aboutAUser.length) throw new InvalidScope(`body.scopes names scopes about a signed-in user, which a service token has none of: ${aboutAUser.join(', ')}`);
    await this.scopes.assertAvailable(app.tenantId, scopes, 'body.scopes');
    const ttl = expiresIn ?? Math.min(this.config.tokens.serviceTtl, app.serviceTokenMaxTtl);
    if (ttl > app.serviceTokenMaxTtl) {
      throw InvalidRequest.field('body.expires_in', `must be at most ${app.serviceTokenMaxTtl} (governance.service_token_max_ttl)`);
    }
    const id = newId('stk');
    // Signed inside the transaction: if the record does not commit, the token is never handed out.
    const minted = await em.transactional(async (tx) => {
      const sandbox = await this.tenancy.isSandbox(app.tenantId);
      const issued = await this.tokens.issue({ subject: app.id, clientId: app.id, scopes, tenantId: app.tenantId, ttlSeconds: ttl, jti: id, sandbox });
      const record = tx.create(ServiceToken, {
        id,
        tenantId: app.tenantId,
        appId: app.id,
        scopes,
        createdBy: actor.id,
        expiresAt: issued.expiresAt,
        revokedAt: null,
      });
      this.audit.record(tx, {
        tenantId: actor.tenantId,
        actor: actor.id,
        action: 'service_token.minted',
        targetType: 'service_token',
        targetId: id,
        details: { client_id: app.id, scopes, expires_at: issued.expiresAt.toISOString() },
      });
      return { record, token: issued.token };
    });
    this.log.info({ tenant_id: actor.tenantId, client_id: app.id, actor: actor.id, service_token_id: id, scopes, expires_at: minted.record.expiresAt.toISOString() }, 'service token minted');
    return minted;
  }

  async listServiceTokens(em: EntityManager, clientId: string, limit: number, cursor?: string): Promise<Page<ServiceToken>> {
    const app = await this.getApp(em, clientId);
    const rows = await em.find(
      ServiceToken,
      { appId: app.id, ...afterCursor(decodeCursor(cursor)) },
      { orderBy: { createdAt: 'asc', id: 'asc' }, limit: limit + 1 },
    );
    return toPage(rows, limit);
  }

  /** active, revoked or expired, now. */
  serviceTokenStatus(token: ServiceToken): 'active' | 'revoked' | 'expired' {
    if (token.revokedAt) return 'revoked';
    return token.expiresAt.getTime() <= this.clock.now() ? 'expired' : 'active';
  }

  async revokeServiceToken(em: EntityManager, actor: Actor, clientId: string, tokenId: string): Promise<void> {
    const revoked = await em.transactional(async (tx) => {
      const app = await this.getApp(tx, clientId);
      const token = await tx.findOne(ServiceToken, { id: tokenId, appId: app.id });
      if (!token) throw new NotFound(`no service token ${tokenId} for app ${clientId}`);
      if (token.revokedAt) return false;
      token.revokedAt = new Date(this.clock.now());
      await this.revocations.revoke(tx, token.id, token.expiresAt);
      this.audit.record(tx, {
        tenantId: actor.tenantId,
        actor: actor.id,
        action: 'service_token.revoked',
        targetType: 'service_token',
        targetId: token.id,
        details: { client_id: app.id },
      });
      return true;
    });
    if (revoked) this.log.info({ tenant_id: actor.tenantId, client_id: clientId, actor: actor.id, service_token_id: tokenId }, 'service token revoked');
  }
}
