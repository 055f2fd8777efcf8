// Webhook subscriptions and their delivery history, for REST /v1/webhooks and GraphQL alike: who may subscribe to
// what, where deliveries may go, redeliveries and test sends. An app sees only its own subscriptions; a tenant
// admin sees the tenant's.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AuditService } from '../audit/service.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { Conflict, Forbidden, InvalidRequest, NotFound } from '../errors.js';
import { SCOPE_ADMIN } from '../http/auth.js';
import { isLoopbackHost } from '../http/loopback.js';
import { afterCursor, decodeCursor, toPage, type Page } from '../http/pagination.js';
import { newId } from '../ids.js';
import type { Principal } from '../keys/tokens.js';
import { EVENT_CATALOG, eventDefinition, TEST_EVENT } from './catalog.js';
import { WebhookAttempt, WebhookDelivery, WebhookSubscription, type DeliveryStatus } from './entities.js';
import type { WebhookHttpClient } from './http.js';
import { enqueueDeliveries, eventBody } from './outbox.js';
import { MAX_RECOVER_WINDOW_DAYS, type RecoveryLedger, type RecoveryRequest } from './recoveries.js';
import type { SigningSecrets } from './secrets.js';
import { generateSecret, secretProblem } from './signing.js';

export type { WebhookAttempt, WebhookDelivery, WebhookRecovery, WebhookSubscription, DeliveryStatus } from './entities.js';

const SECRET_OVERLAP_MS = 24 * 3600 * 1000;

/**
 * The most subscriptions a tenant holds (Stripe allows 16 endpoints an account, GitHub 20 hooks an event): enough
 * for any integration, and what keeps GraphQL's `webhooks` list, which is not paginated, whole and bounded.
 */
export const MAX_SUBSCRIPTIONS = 100;

/** A subscription's rate_limit, in deliveries per second (the column's check says the same). */
const MIN_RATE_LIMIT = 1;
const MAX_RATE_LIMIT = 1000;

export interface SubscriptionInput {
  url?: string;
  events?: string[];
  secret?: string;
  enabled?: boolean;
  /** Deliveries per second at most; null lifts the limit. */
  rate_limit?: number | null;
}

/** A recover request's window, as sent. */
export interface RecoverWindow {
  since: Date;
  until?: Date;
}

type WebhookScope = 'webhooks:read' | 'webhooks:write';

function can(principal: Principal, scope: string): boolean {
  return principal.scopes.has(scope) || principal.scopes.has(SCOPE_ADMIN);
}

export class SubscriptionService {
  constructor(
    private readonly secrets: SigningSecrets,
    private readonly http: WebhookHttpClient,
    private readonly audit: AuditService,
    private readonly recoveries: RecoveryLedger,
    private readonly config: Config,
    private readonly clock: Clock,
  ) {}

  now(): Date {
    return new Date(this.clock.now());
  }

  assertCan(principal: Principal, scope: WebhookScope): void {
    if (!can(principal, scope)) throw Forbidden.missingScope(scope);
  }

  private checkUrl(raw: string): string {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw InvalidRequest.field('body.url', 'must be an absolute URL');
    }
    if (url.username || url.password) throw InvalidRequest.field('body.url', 'must not contain credentials');
    if (url.hash) throw InvalidRequest.field('body.url', 'must not contain a fragment');
    const host = url.hostname.toLowerCase();
    if (url.protocol === 'http:') {
      if (!this.config.webhooks.httpHosts.includes(host)) {
        const hint = isLoopbackHost(host) ? ' (an operator can allow it with WEBHOOK_HTTP_HOSTS)' : '';
        throw InvalidRequest.field('body.url', `must use https; http is not allowed for ${host}${hint}`);
      }
    } else if (url.protocol !== 'https:') {
      throw InvalidRequest.field('body.url', 'must use https');
    }
    // Literal addresses are checked now for a clear answer; names are checked again at every connect.
    const literal = host.replace(/^\[|\]$/g, '');
    if (/^[\d.]+$/.test(literal) || literal.includes(':')) {
      const reason = this.http.blockedReason(literal);
      if (reason) throw InvalidRequest.field('body.url', `is not reachable for webhooks: ${reason}`);
    }
    return url.toString();
  }

  /** A URL stored under an older policy: a change to its subscription needs one that today's policy allows. */
  private checkStoredUrl(stored: string): void {
    try {
      this.checkUrl(stored);
    } catch (error) {
      if (!(error instanceof InvalidRequest) || !error.field) throw error;
      throw InvalidRequest.field('url', `(as stored) ${error.field.problem}; send a new url`);
    }
  }

  private checkEvents(principal: Principal, events: string[]): string[] {
    const unique = [...new Set(events)];
    const unknown = unique.filter((e) => !eventDefinition(e));
    if (unknown.length) {
      throw InvalidRequest.field('body.events', `names unknown events: ${unknown.join(', ')} (known: ${EVENT_CATALOG.map((e) => e.type).join(', ')})`);
    }
    for (const type of unique) {
      const scope = eventDefinition(type)!.scope;
      if (!can(principal, scope)) throw new Forbidden(`subscribing to ${type} needs the scope ${scope}`);
    }
    return unique;
  }

  /** REST's schema bounds it already; GraphQL's Int does not. */
  private checkRateLimit(rate: number | null | undefined): number | null {
    if (rate === undefined || rate === null) return null;
    if (!Number.isInteger(rate) || rate < MIN_RATE_LIMIT || rate > MAX_RATE_LIMIT) {
      throw InvalidRequest.field('body.rate_limit', `must be a whole number of deliveries per second from ${MIN_RATE_LIMIT} to ${MAX_RATE_LIMIT}, or null`);
    }
    return rate;
  }

  private checkSecret(secret: string): string {
    const problem = secretProblem(secret);
    if (problem) throw InvalidRequest.field('body.secret', problem);
    return secret;
  }

  async create(em: EntityManager, principal: Principal, input: Required<Pick<SubscriptionInput, 'url' | 'events'>> & SubscriptionInput) {
    this.assertCan(principal, 'webhooks:write');
    const url = this.checkUrl(input.url);
    const events = this.checkEvents(principal, input.events);
    this.checkRateLimit(input.rate_limit);
    const secret = input.secret !== undefined ? this.checkSecret(input.secret) : generateSecret();
    return em.transactional(async (tx) => {
      await this.assertRoomFor(tx, principal.tenantId!);
      const now = this.now();
      const id = newId('wh');
      const subscription = tx.create(WebhookSubscription, {
        id,
        tenantId: principal.tenantId!,
        // A tenant admin's subscription belongs to the tenant; an app's to the app.
        ownerClientId: principal.scopes.has(SCOPE_ADMIN) ? null : principal.clientId,
        createdBy: principal.subject,
        url,
        events,
        enabled: input.enabled ?? true,
        disabledReason: null,
        secretSealed: this.secrets.seal(id, secret),
        previousSecretSealed: null,
        previousSecretExpiresAt: null,
        failingSince: null,
        heldSince: null,
        rateLimit: this.checkRateLimit(input.rate_limit),
        createdAt: now,
        updatedAt: now,
      });
      this.audit.record(tx, { tenantId: subscription.tenantId, actor: principal.subject, action: 'webhook.created', targetType: 'webhook', targetId: id, details: { url, events, rate_limit: subscription.rateLimit } });
      // The secret is shown once: here, when Tessera generated it.
      return { subscription, secret: input.secret === undefined ? secret : undefined };
    });
  }

  /** Refuses a subscription past MAX_SUBSCRIPTIONS; creations in one tenant take turns, so two cannot both fit the last place. */
  private async assertRoomFor(tx: EntityManager, tenantId: string): Promise<void> {
    await tx.getConnection().execute(`select pg_advisory_xact_lock(hashtextextended('webhook_subscriptions:' || ?, 0))`, [tenantId], 'get', tx.getTransactionContext());
    const held = await tx.count(WebhookSubscription, {});
    if (held >= MAX_SUBSCRIPTIONS) throw new Conflict(`a tenant holds at most ${MAX_SUBSCRIPTIONS} webhooks; delete one before adding another`);
  }

  /** An app sees only its own subscriptions; a tenant admin sees the tenant's. Anything else is a 404. */
  private visibleTo(principal: Principal): Record<string, unknown> {
    return principal.scopes.has(SCOPE_ADMIN) ? {} : { ownerClientId: principal.clientId };
  }

  async list(em: EntityManager, principal: Principal, limit: number, cursor?: string): Promise<Page<WebhookSubscription>> {
    this.assertCan(principal, 'webhooks:read');
    const rows = await em.find(
      WebhookSubscription,
      { ...this.visibleTo(principal), ...afterCursor(decodeCursor(cursor)) },
      { orderBy: { createdAt: 'asc', id: 'asc' }, limit: limit + 1 },
    );
    return toPage(rows, limit);
  }

  async get(em: EntityManager, principal: Principal, id: string, scope: WebhookScope = 'webhooks:read'): Promise<WebhookSubscription> {
    this.assertCan(principal, scope);
    const found = await em.findOne(WebhookSubscription, { id, ...this.visibleTo(principal) });
    if (!found) throw new NotFound(`no webhook ${id}`);
    return found;
  }

  async update(em: EntityManager, principal: Principal, id: string, input: SubscriptionInput) {
    const subscription = await this.get(em, principal, id, 'webhooks:write');
    const now = this.now();
    const changed: string[] = [];
    if (input.url !== undefined) {
      subscription.url = this.checkUrl(input.url);
      changed.push('url');
    } else {
      this.checkStoredUrl(subscription.url);
    }
    if (input.events !== undefined) {
      subscription.events = this.checkEvents(principal, input.events);
      changed.push('events');
    }
    if (input.secret !== undefined) {
      // The old secret keeps signing beside the new one for 24 h, so receivers can roll over.
      subscription.previousSecretSealed = subscription.secretSealed;
      subscription.previousSecretExpiresAt = new Date(now.getTime() + SECRET_OVERLAP_MS);
      subscription.secretSealed = this.secrets.seal(id, this.checkSecret(input.secret));
      changed.push('secret');
    }
    if (input.enabled !== undefined) {
      subscription.enabled = input.enabled;
      subscription.disabledReason = input.enabled ? null : 'disabled by a user';
      if (input.enabled) subscription.failingSince = null;
      changed.push('enabled');
    }
    if (input.rate_limit !== undefined) {
      subscription.rateLimit = this.checkRateLimit(input.rate_limit);
      changed.push('rate_limit');
    }
    subscription.updatedAt = now;
    this.audit.record(em, { tenantId: subscription.tenantId, actor: principal.subject, action: 'webhook.updated', targetType: 'webhook', targetId: id, details: { changed } });
    await em.flush();
    return subscription;
  }

  async remove(em: EntityManager, principal: Principal, id: string): Promise<void> {
    const subscription = await this.get(em, principal, id, 'webhooks:write');
    em.remove(subscription);
    this.audit.record(em, { tenantId: subscription.tenantId, actor: principal.subject, action: 'webhook.deleted', targetType: 'webhook', targetId: id });
    await em.flush();
  }

  async deliveries(em: EntityManager, principal: Principal, webhookId: string, status: DeliveryStatus | undefined, limit: number, cursor?: string) {
    const subscription = await this.get(em, principal, webhookId);
    const rows = await em.find(
      WebhookDelivery,
      { webhookId: subscription.id, ...(status ? { status } : {}), ...afterCursor(decodeCursor(cursor), 'desc') },
      { orderBy: { createdAt: 'desc', id: 'desc' }, limit: limit + 1 },
    );
    return toPage(rows, limit);
  }

  async delivery(em: EntityManager, principal: Principal, webhookId: string, deliveryId: string) {
    const subscription = await this.get(em, principal, webhookId);
    const delivery = await em.findOne(WebhookDelivery, { id: deliveryId, webhookId: subscription.id });
    if (!delivery) throw new NotFound(`no delivery ${deliveryId} for webhook ${webhookId}`);
    const attempts = await em.find(WebhookAttempt, { deliveryId }, { orderBy: { number: 'asc' } });
    return { delivery, attempts };
  }

  async redeliver(em: EntityManager, principal: Principal, webhookId: string, deliveryId: string): Promise<WebhookDelivery> {
    this.assertCan(principal, 'webhooks:write');
    const { delivery } = await this.delivery(em, principal, webhookId, deliveryId);
    return em.transactional(async (tx) => {
      const row = await tx.findOneOrFail(WebhookDelivery, { id: delivery.id });
      row.status = 'queued';
      row.nextAttemptAt = null;
      row.updatedAt = this.now();
      await enqueueDeliveries(tx, row.tenantId, [row.id]);
      return row;
    });
  }

  /**
   * Resends, once each, the subscription's deliveries that failed or are still retrying and were created in the
   * window (recoveries.ts). The window is at most MAX_RECOVER_WINDOW_DAYS; a disabled subscription is enabled first.
   */
  async recover(em: EntityManager, principal: Principal, webhookId: string, window: RecoverWindow): Promise<RecoveryRequest> {
    const subscription = await this.get(em, principal, webhookId, 'webhooks:write');
    const until = window.until ?? this.now();
    if (until.getTime() <= window.since.getTime()) throw InvalidRequest.field('body.until', 'must be after since');
    if (until.getTime() - window.since.getTime() > MAX_RECOVER_WINDOW_DAYS * 86_400_000) {
      throw InvalidRequest.field('body.since', `must be at most ${MAX_RECOVER_WINDOW_DAYS} days before until (default: now)`);
    }
    if (!subscription.enabled) throw new Conflict(`webhook ${webhookId} is disabled; enable it (PUT {"enabled": true}) before recovering its deliveries`);
    return this.recoveries.request(em, subscription, principal.subject, window.since, until);
  }

  /** A recover request's progress. */
  async recovery(em: EntityManager, principal: Principal, webhookId: string, recoveryId: string) {
    const subscription = await this.get(em, principal, webhookId);
    return this.recoveries.get(em, subscription.id, recoveryId);
  }

  /** A synthetic `webhook.test` event, delivered like any other (signed, retried, logged). */
  async sendTest(em: EntityManager, principal: Principal, webhookId: string): Promise<WebhookDelivery> {
    this.assertCan(principal, 'webhooks:write');
    const subscription = await this.get(em, principal, webhookId, 'webhooks:write');
    return em.transactional(async (tx) => {
      const now = this.now();
      const event = { id: newId('evt'), type: TEST_EVENT, createdAt: now, tenantId: subscription.tenantId, data: { webhook_id: subscription.id, message: 'This is a test delivery from Tessera.' } };
      const delivery = tx.create(WebhookDelivery, {
        id: newId('dlv'),
        tenantId: subscription.tenantId,
        webhookId: subscription.id,
        eventId: event.id,
        eventType: TEST_EVENT,
        body: eventBody(event),
        status: 'queued',
        attempts: 0,
        lastAttemptAt: null,
        nextAttemptAt: null,
        responseStatus: null,
        latencyMs: null,
        error: null,
        recoveryId: null,
        createdAt: now,
        updatedAt: now,
      });
      await tx.flush();
      await enqueueDeliveries(tx, delivery.tenantId, [delivery.id]);
      return delivery;
    });
  }
}
