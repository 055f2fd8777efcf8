// Apps, their governance, client secrets and service tokens: the platform's own policy lives here.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { createHash, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Notifications } from '../db/notifications.js';
import { recordAudit } from '../audit/service.js';
import type { Config } from '../config.js';
import { Forbidden, InvalidRequest, InvalidScope, NotFound } from '../errors.js';
import { isLoopbackHost } from '../http/loopback.js';
import { afterCursor, decodeCursor, toPage, type Page } from '../http/pagination.js';
import { newId, newSecret, sha256 } from '../ids.js';
import type { RevocationList } from '../keys/revocations.js';
import type { TokenService } from '../keys/tokens.js';
import { App, ClientSecret, Scope, ServiceToken, type GrantType, type TokenEndpointAuthMethod } from './entities.js';

const SCOPE_CACHE_MS = 10_000;
const SECRET_PREFIX = 'tsec_';
const MAX_GRACE_SECONDS = 30 * 86_400;

export interface NewApp {
  name: string;
  grant_types: GrantType[];
  redirect_uris: string[];
  requested_scopes: string[];
  token_endpoint_auth_method?: TokenEndpointAuthMethod;
}

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

export const hashSecret = sha256;


function checkRedirectUri(raw: string, index: number): void {
  const field = `body.redirect_uris[${index}]`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidRequest(`${field} must be an absolute URI`);
  }
  // RFC 6749 section 3.1.2: no fragment component.
  if (raw.includes('#')) throw new InvalidRequest(`${field} must not contain a fragment`);
  if (url.username || url.password) throw new InvalidRequest(`${field} must not contain credentials`);
  // RFC 8252 section 7.3: plain http is only for loopback redirect URIs.
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new InvalidRequest(`${field} must use https (http is allowed only for loopback hosts)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidRequest(`${field} must use https`);
}

/** What the token endpoint needs to authenticate a client, kept in memory (see `clients`). */
export interface ClientRecord {
  app: App;
  secrets: Array<{ digest: Buffer; expiresAt: number | null }>;
}

export const APPS_CHANNEL = 'tessera_apps';

export class PlatformService {
  private scopeCache?: { at: number; scopes: Scope[] };
  /**
   * Apps and secret digests by client_id, so authenticating a client costs no query. Every change to an
   * app or its secrets NOTIFYs all processes, which drop the entry; the TTL is only a safety net.
   * ttlResolution 0: a 30 s TTL needs no cached clock, and lru-cache's default (1 ms) arms a timer each
   * millisecond the cache is read.
   */
  private readonly clients = new LRUCache<string, ClientRecord>({ max: 10_000, ttl: 30_000, ttlResolution: 0 });

  constructor(
    private readonly orm: MikroORM,
    private readonly tokens: TokenService,
    private readonly revocations: RevocationList,
    private readonly config: Config,
  ) {}

  start(notifications?: Notifications): void {
    notifications?.on(APPS_CHANNEL, (clientId) => this.clients.delete(clientId));
    notifications?.onReconnect(() => this.clients.clear());
  }

  /** Inside the transaction that changes an app: the NOTIFY is delivered at commit. */
  private async announceChange(em: EntityManager, clientId: string): Promise<void> {
    this.clients.delete(clientId);
    await em.execute(`select pg_notify('${APPS_CHANNEL}', ?)`, [clientId]);
  }

  /** Published scopes; the catalog changes only by migration, so a short in-process cache is safe. */
  async publishedScopes(): Promise<Scope[]> {
    if (!this.scopeCache || Date.now() - this.scopeCache.at > SCOPE_CACHE_MS) {
      const scopes = await this.orm.em.fork().find(Scope, { published: true }, { orderBy: { name: 'asc' } });
      this.scopeCache = { at: Date.now(), scopes };
    }
    return this.scopeCache.scopes;
  }

  private async assertPublished(scopes: string[], field: string): Promise<void> {
    const published = new Set((await this.publishedScopes()).map((s) => s.name));
    const unknown = scopes.filter((s) => !published.has(s));
    if (unknown.length) throw new InvalidScope(`${field} names scopes that are not published: ${unknown.join(', ')}`);
  }

  async createApp(em: EntityManager, actor: Actor, input: NewApp): Promise<{ app: App; secret: string | null }> {
    const method = input.token_endpoint_auth_method ?? 'client_secret_basic';
    const grants = new Set(input.grant_types);
    input.redirect_uris.forEach(checkRedirectUri);
    if (grants.has('authorization_code') && input.redirect_uris.length === 0) {
      throw new InvalidRequest('body.redirect_uris needs at least one URI for the authorization_code grant');
    }
    if (!grants.has('authorization_code') && input.redirect_uris.length > 0) {
      throw new InvalidRequest('body.redirect_uris is only used by the authorization_code grant');
    }
    if (grants.has('refresh_token') && !grants.has('authorization_code')) {
      throw new InvalidRequest('body.grant_types: refresh_token is only issued with authorization_code');
    }
    if (grants.has('client_credentials') && method === 'none') {
      throw new InvalidRequest('body.grant_types: client_credentials needs a confidential client (token_endpoint_auth_method none is public)');
    }
    await this.assertPublished(input.requested_scopes, 'body.requested_scopes');

    return em.transactional(async (tx) => {
      const app = tx.create(App, {
        id: newId('app'),
        tenantId: actor.tenantId,
        name: input.name.trim(),
        grantTypes: input.grant_types,
        redirectUris: input.redirect_uris,
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
      recordAudit(tx, {
        tenantId: actor.tenantId,
        actor: actor.id,
        action: 'app.created',
        targetType: 'app',
        targetId: app.id,
        details: { name: app.name, grant_types: app.grantTypes, requested_scopes: app.approvedScopes },
      });
      return { app, secret };
    });
  }

  private addSecret(em: EntityManager, app: App): string {
    const secret = newSecret(SECRET_PREFIX);
    em.create(ClientSecret, { id: newId('sec'), tenantId: app.tenantId, appId: app.id, secretHash: hashSecret(secret), expiresAt: null });
    return secret;
  }

  async listApps(em: EntityManager, limit: number, cursor?: string): Promise<Page<App>> {
    const rows = await em.find(App, afterCursor(decodeCursor(cursor)), { orderBy: { createdAt: 'asc', id: 'asc' }, limit: limit + 1 });
    return toPage(rows, limit);
  }

  /** Another tenant's app is "not found", never "forbidden": its existence is not confirmed (tenant filter). */
  async getApp(em: EntityManager, clientId: string): Promise<App> {
    const app = await em.findOne(App, { id: clientId });
    if (!app) throw new NotFound(`no app with client_id ${clientId}`);
    return app;
  }

  async updateGovernance(em: EntityManager, actor: Actor, clientId: string, patch: GovernancePatch): Promise<App> {
    return em.transactional(async (tx) => {
      const app = await this.getApp(tx, clientId);
      if (patch.access_token_ttl !== undefined && patch.access_token_ttl > this.config.tokens.accessMaxTtl) {
        throw new InvalidRequest(`body.access_token_ttl must be at most ${this.config.tokens.accessMaxTtl}`);
      }
      if (patch.service_token_max_ttl !== undefined && patch.service_token_max_ttl > this.config.tokens.serviceMaxTtl) {
        throw new InvalidRequest(`body.service_token_max_ttl must be at most ${this.config.tokens.serviceMaxTtl}`);
      }
      if (patch.enforce_pkce === false && app.tokenEndpointAuthMethod === 'none') {
        throw new InvalidRequest('body.enforce_pkce cannot be false for a public client');
      }
      const before = governanceOf(app);
      if (patch.allow_service_tokens !== undefined) app.allowServiceTokens = patch.allow_service_tokens;
      if (patch.enforce_pkce !== undefined) app.enforcePkce = patch.enforce_pkce;
      if (patch.access_token_ttl !== undefined) app.accessTokenTtl = patch.access_token_ttl;
      if (patch.service_token_max_ttl !== undefined) app.serviceTokenMaxTtl = patch.service_token_max_ttl;
      await this.announceChange(tx, app.id);
      recordAudit(tx, {
        tenantId: actor.tenantId,
        actor: actor.id,
        action: 'app.governance_changed',
        targetType: 'app',
        targetId: app.id,
        details: { before, after: governanceOf(app) },
      });
      return app;
    });
  }

  /**
   * A new secret; every older one stays valid for the grace period (0 ends them now). Only the hash is kept,
   * so the secret is shown once, in this response.
   */
  async rotateSecret(em: EntityManager, actor: Actor, clientId: string, graceSeconds?: number) {
    const grace = graceSeconds ?? this.config.secretRotationGrace;
    if (grace < 0 || grace > MAX_GRACE_SECONDS) throw new InvalidRequest(`body.grace_period_seconds must be between 0 and ${MAX_GRACE_SECONDS}`);
    return em.transactional(async (tx) => {
      const app = await this.getApp(tx, clientId);
      if (app.tokenEndpointAuthMethod === 'none') throw new InvalidRequest(`app ${clientId} is a public client and has no secret`);
      const now = new Date();
      const until = new Date(now.getTime() + grace * 1000);
      const live = await tx.find(ClientSecret, { appId: app.id, $or: [{ expiresAt: null }, { expiresAt: { $gt: now } }] });
      for (const old of live) old.expiresAt = old.expiresAt && old.expiresAt < until ? old.expiresAt : until;
      const secret = this.addSecret(tx, app);
      await this.announceChange(tx, app.id);
      recordAudit(tx, {
        tenantId: actor.tenantId,
        actor: actor.id,
        action: 'app.secret_rotated',
        targetType: 'app',
        targetId: app.id,
        details: { grace_period_seconds: grace, previous_secrets: live.length },
      });
      return { app, secret, previousValidUntil: live.length ? until : null };
    });
  }

  /**
   * The app behind a client_id, when it is in the cache: no promise, so the token endpoint's usual case
   * costs none (see `findClient` for the lookup that loads it).
   */
  cachedClient(clientId: string): ClientRecord | undefined {
    return this.clients.get(clientId);
  }

  /** The app behind a client_id (any tenant), from the cache when possible. */
  async findClient(clientId: string): Promise<ClientRecord | null> {
    const cached = this.clients.get(clientId);
    if (cached) return cached;
    const em = this.orm.em.fork();
    const app = await em.findOne(App, { id: clientId }, { filters: false });
    if (!app) return null;
    const rows = await em.find(ClientSecret, { appId: app.id }, { filters: false });
    const record: ClientRecord = {
      app,
      secrets: rows.map((r) => ({ digest: Buffer.from(r.secretHash, 'hex'), expiresAt: r.expiresAt?.getTime() ?? null })),
    };
    this.clients.set(clientId, record);
    return record;
  }

  /** Constant-time check of a presented secret against every unexpired secret of the app. */
  async verifyClientSecret(clientId: string, presented: string): Promise<App | null> {
    const record = await this.findClient(clientId);
    return record && secretMatches(record, presented) ? record.app : null;
  }

  async mintServiceToken(em: EntityManager, actor: Actor, clientId: string, scopes: string[], expiresIn?: number) {
    const app = await this.getApp(em, clientId);
    if (!app.allowServiceTokens) {
      throw new Forbidden(`service tokens are not allowed for app ${clientId}; a tenant admin can enable governance.allow_service_tokens`);
    }
    const approved = new Set(app.approvedScopes);
    const outside = scopes.filter((s) => !approved.has(s));
    if (outside.length) throw new InvalidScope(`body.scopes are not approved for this app: ${outside.join(', ')}`);
    const ttl = expiresIn ?? Math.min(this.config.tokens.serviceTtl, app.serviceTokenMaxTtl);
    if (ttl > app.serviceTokenMaxTtl) {
      throw new InvalidRequest(`body.expires_in must be at most ${app.serviceTokenMaxTtl} (governance.service_token_max_ttl)`);
    }
    const id = newId('stk');
    // Signed inside the transaction: if the record does not commit, the token is never handed out.
    return em.transactional(async (tx) => {
      const issued = await this.tokens.issue({ subject: app.id, clientId: app.id, scopes, tenantId: app.tenantId, ttlSeconds: ttl, jti: id });
      const record = tx.create(ServiceToken, {
        id,
        tenantId: app.tenantId,
        appId: app.id,
        scopes,
        createdBy: actor.id,
        expiresAt: issued.expiresAt,
        revokedAt: null,
      });
      recordAudit(tx, {
        tenantId: actor.tenantId,
        actor: actor.id,
        action: 'service_token.minted',
        targetType: 'service_token',
        targetId: id,
        details: { client_id: app.id, scopes, expires_at: issued.expiresAt.toISOString() },
      });
      return { record, token: issued.token };
    });
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

  async revokeServiceToken(em: EntityManager, actor: Actor, clientId: string, tokenId: string): Promise<void> {
    await em.transactional(async (tx) => {
      const app = await this.getApp(tx, clientId);
      const token = await tx.findOne(ServiceToken, { id: tokenId, appId: app.id });
      if (!token) throw new NotFound(`no service token ${tokenId} for app ${clientId}`);
      if (token.revokedAt) return;
      token.revokedAt = new Date();
      await this.revocations.revoke(tx, token.id, token.expiresAt);
      recordAudit(tx, {
        tenantId: actor.tenantId,
        actor: actor.id,
        action: 'service_token.revoked',
        targetType: 'service_token',
        targetId: token.id,
        details: { client_id: app.id },
      });
    });
  }
}

/**
 * Whether `presented` is one of the record's unexpired secrets (the previous one too, during its rotation
 * grace period). Generated secrets carry 256 random bits, so one SHA-256 is enough (DESIGN "Client
 * secrets"); the digest is compared as raw bytes in constant time, against every secret, so the time
 * taken tells nothing about which one matched or how much of it.
 */
export function secretMatches(record: ClientRecord, presented: string): boolean {
  const digest = createHash('sha256').update(presented).digest();
  const now = Date.now();
  let match = false;
  for (const secret of record.secrets) {
    const live = secret.expiresAt === null || secret.expiresAt > now;
    match = (timingSafeEqual(digest, secret.digest) && live) || match;
  }
  return match;
}

export function governanceOf(app: App) {
  return {
    allow_service_tokens: app.allowServiceTokens,
    enforce_pkce: app.enforcePkce,
    access_token_ttl: app.accessTokenTtl,
    service_token_max_ttl: app.serviceTokenMaxTtl,
  };
}
