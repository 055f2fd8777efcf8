// Webhook subscriptions and deliveries: who may subscribe to what, where deliveries may go, and what
// happens on each attempt (Standard Webhooks signatures, retries with jitter, auto-disable).
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import { recordAudit } from '../audit/service.js';
import type { Config } from '../config.js';
import { Forbidden, InvalidRequest, NotFound } from '../errors.js';
import { isLoopbackHost } from '../http/loopback.js';
import { afterCursor, decodeCursor, toPage, type Page } from '../http/pagination.js';
import { SCOPE_ADMIN } from '../http/auth.js';
import { newId } from '../ids.js';
import type { Principal } from '../keys/tokens.js';
import type { SecretBox } from '../secret-box.js';
import { EVENT_CATALOG, TEST_EVENT, eventDefinition } from './catalog.js';
import { WebhookAttempt, WebhookDelivery, WebhookSubscription, type DeliveryStatus } from './entities.js';
import { DeliveryError, type OutboundResponse, type WebhookHttpClient } from './http.js';
import { enqueueDeliveries, eventBody } from './outbox.js';
import { generateSecret, secretProblem, signatureHeaders } from './signing.js';

const SECRET_OVERLAP_MS = 24 * 3600 * 1000;
/** Bounds on a receiver's Retry-After (429, 503): at least 1 s; at most the longest scheduled wait, or an hour. */
const RETRY_AFTER_MIN_S = 1;
const RETRY_AFTER_FLOOR_OF_MAX_S = 3600;

export interface SubscriptionInput {
  url?: string;
  events?: string[];
  secret?: string;
  enabled?: boolean;
}

export type AttemptOutcome = 'succeeded' | 'retrying' | 'failed' | 'skipped';

/** A delivery and what is needed to send it (one row of the attempt's first query). */
interface DeliveryTarget {
  id: string;
  tenant_id: string;
  event_id: string;
  body: string;
  status: DeliveryStatus;
  webhook_id: string;
  url: string;
  enabled: boolean;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: string | Date | null;
  failing_since: string | Date | null;
}

/** What one send produced, before it is recorded. */
interface SendResult {
  target: DeliveryTarget;
  attemptedAt: Date;
  response?: OutboundResponse;
  /** Why the attempt failed (non-2xx, timeout, refused address...), or null for a 2xx. */
  error: string | null;
  latencyMs: number;
}

function can(principal: Principal, scope: string): boolean {
  return principal.scopes.has(scope) || principal.scopes.has(SCOPE_ADMIN);
}

export class WebhookService {
  /** Decrypted signing secrets by sealed value: a secret never changes under the same ciphertext. */
  private readonly secrets = new LRUCache<string, string>({ max: 10_000 });

  constructor(
    private readonly orm: MikroORM,
    private readonly box: SecretBox,
    private readonly http: WebhookHttpClient,
    private readonly config: Config,
    /** Plain pg for the delivery hot path (two statements per success), beside the ORM. */
    private readonly pool: pg.Pool,
  ) {}

  private open(sealed: string, webhookId: string): string {
    let secret = this.secrets.get(sealed);
    if (secret === undefined) {
      secret = this.box.open(sealed, `webhook:${webhookId}`);
      this.secrets.set(sealed, secret);
    }
    return secret;
  }

  // ------------------------------------------------------------------ subscriptions

  assertCan(principal: Principal, scope: 'webhooks:read' | 'webhooks:write'): void {
    if (!can(principal, scope)) throw Forbidden.missingScope(scope);
  }

  private checkUrl(raw: string): string {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new InvalidRequest('body.url must be an absolute URL');
    }
    if (url.username || url.password) throw new InvalidRequest('body.url must not contain credentials');
    if (url.hash) throw new InvalidRequest('body.url must not contain a fragment');
    const host = url.hostname.toLowerCase();
    if (url.protocol === 'http:') {
      if (!this.config.webhooks.httpHosts.includes(host)) {
        const hint = isLoopbackHost(host) ? ' (an operator can allow it with WEBHOOK_HTTP_HOSTS)' : '';
        throw new InvalidRequest(`body.url must use https; http is not allowed for ${host}${hint}`);
      }
    } else if (url.protocol !== 'https:') {
      throw new InvalidRequest('body.url must use https');
    }
    // Literal addresses are checked now for a clear answer; names are checked again at every connect.
    const literal = host.replace(/^\[|\]$/g, '');
    if (/^[\d.]+$/.test(literal) || literal.includes(':')) {
      const reason = this.http.blockedReason(literal);
      if (reason) throw new InvalidRequest(`body.url is not reachable for webhooks: ${reason}`);
    }
    return url.toString();
  }

  private checkEvents(principal: Principal, events: string[]): string[] {
    const unique = [...new Set(events)];
    const unknown = unique.filter((e) => !eventDefinition(e));
    if (unknown.length) {
      throw new InvalidRequest(`body.events names unknown events: ${unknown.join(', ')} (known: ${EVENT_CATALOG.map((e) => e.type).join(', ')})`);
    }
    for (const type of unique) {
      const scope = eventDefinition(type)!.scope;
      if (!can(principal, scope)) throw new Forbidden(`subscribing to ${type} needs the scope ${scope}`);
    }
    return unique;
  }

  private checkSecret(secret: string): string {
    const problem = secretProblem(secret);
    if (problem) throw new InvalidRequest(`body.${problem}`);
    return secret;
  }

  private seal(id: string, secret: string): string {
    return this.box.seal(secret, `webhook:${id}`);
  }

  liveSecrets(
    subscription: Pick<WebhookSubscription, 'id' | 'secretSealed' | 'previousSecretSealed' | 'previousSecretExpiresAt'>,
    now = new Date(),
  ): string[] {
    const secrets = [this.open(subscription.secretSealed, subscription.id)];
    if (subscription.previousSecretSealed && subscription.previousSecretExpiresAt && subscription.previousSecretExpiresAt > now) {
      secrets.push(this.open(subscription.previousSecretSealed, subscription.id));
    }
    return secrets;
  }

  async create(em: EntityManager, principal: Principal, input: Required<Pick<SubscriptionInput, 'url' | 'events'>> & SubscriptionInput) {
    this.assertCan(principal, 'webhooks:write');
    const url = this.checkUrl(input.url);
    const events = this.checkEvents(principal, input.events);
    const secret = input.secret !== undefined ? this.checkSecret(input.secret) : generateSecret();
    const now = new Date();
    const id = newId('wh');
    const subscription = em.create(WebhookSubscription, {
      id,
      tenantId: principal.tenantId!,
      // A tenant admin's subscription belongs to the tenant; an app's to the app.
      ownerClientId: principal.scopes.has(SCOPE_ADMIN) ? null : principal.clientId,
      createdBy: principal.subject,
      url,
      events,
      enabled: input.enabled ?? true,
      disabledReason: null,
      secretSealed: this.seal(id, secret),
      previousSecretSealed: null,
      previousSecretExpiresAt: null,
      failingSince: null,
      createdAt: now,
      updatedAt: now,
    });
    recordAudit(em, { tenantId: subscription.tenantId, actor: principal.subject, action: 'webhook.created', targetType: 'webhook', targetId: id, details: { url, events } });
    await em.flush();
    // The secret is shown once: here, when Tessera generated it.
    return { subscription, secret: input.secret === undefined ? secret : undefined };
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

  async get(em: EntityManager, principal: Principal, id: string, scope: 'webhooks:read' | 'webhooks:write' = 'webhooks:read'): Promise<WebhookSubscription> {
    this.assertCan(principal, scope);
    const found = await em.findOne(WebhookSubscription, { id, ...this.visibleTo(principal) });
    if (!found) throw new NotFound(`no webhook ${id}`);
    return found;
  }

  async update(em: EntityManager, principal: Principal, id: string, input: SubscriptionInput) {
    const subscription = await this.get(em, principal, id, 'webhooks:write');
    const now = new Date();
    const changed: string[] = [];
    if (input.url !== undefined) {
      subscription.url = this.checkUrl(input.url);
      changed.push('url');
    }
    if (input.events !== undefined) {
      subscription.events = this.checkEvents(principal, input.events);
      changed.push('events');
    }
    if (input.secret !== undefined) {
      // The old secret keeps signing beside the new one for 24 h, so receivers can roll over.
      subscription.previousSecretSealed = subscription.secretSealed;
      subscription.previousSecretExpiresAt = new Date(now.getTime() + SECRET_OVERLAP_MS);
      subscription.secretSealed = this.seal(id, this.checkSecret(input.secret));
      changed.push('secret');
    }
    if (input.enabled !== undefined) {
      subscription.enabled = input.enabled;
      subscription.disabledReason = input.enabled ? null : 'disabled by a user';
      if (input.enabled) subscription.failingSince = null;
      changed.push('enabled');
    }
    subscription.updatedAt = now;
    recordAudit(em, { tenantId: subscription.tenantId, actor: principal.subject, action: 'webhook.updated', targetType: 'webhook', targetId: id, details: { changed } });
    await em.flush();
    return subscription;
  }

  async remove(em: EntityManager, principal: Principal, id: string): Promise<void> {
    const subscription = await this.get(em, principal, id, 'webhooks:write');
    em.remove(subscription);
    recordAudit(em, { tenantId: subscription.tenantId, actor: principal.subject, action: 'webhook.deleted', targetType: 'webhook', targetId: id });
    await em.flush();
  }

  // ------------------------------------------------------------------ deliveries

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
      row.updatedAt = new Date();
      await enqueueDeliveries(tx, [row.id]);
      return row;
    });
  }

  /** A synthetic `webhook.test` event, delivered like any other (signed, retried, logged). */
  async sendTest(em: EntityManager, principal: Principal, webhookId: string): Promise<WebhookDelivery> {
    this.assertCan(principal, 'webhooks:write');
    const subscription = await this.get(em, principal, webhookId, 'webhooks:write');
    return em.transactional(async (tx) => {
      const now = new Date();
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
        createdAt: now,
        updatedAt: now,
      });
      await tx.flush();
      await enqueueDeliveries(tx, [delivery.id]);
      return delivery;
    });
  }

  // ------------------------------------------------------------------ one attempt (run by the worker)

  /** Delay before retry number `retry` (1-based): the schedule, with ±10% jitter so retries do not stampede. */
  private backoff(retry: number): number {
    const base = this.config.webhooks.retrySchedule[retry - 1]! * 1000;
    return Math.round(base * (0.9 + Math.random() * 0.2));
  }

  private retryAfter(response: OutboundResponse | undefined): number | null {
    if (!response || (response.status !== 429 && response.status !== 503)) return null;
    const header = response.headers['retry-after'];
    const raw = Array.isArray(header) ? header[0] : header;
    if (!raw) return null;
    const seconds = /^\d+$/.test(raw) ? Number(raw) : (new Date(raw).getTime() - Date.now()) / 1000;
    if (!Number.isFinite(seconds)) return null;
    const max = Math.max(...this.config.webhooks.retrySchedule, RETRY_AFTER_FLOOR_OF_MAX_S);
    return Math.min(Math.max(seconds, RETRY_AFTER_MIN_S), max) * 1000;
  }

  /** The next attempt of one delivery: a retry, a redelivery or a test send (its own keyed job). */
  async attempt(deliveryId: string): Promise<AttemptOutcome> {
    const [outcome] = await this.attemptAll([deliveryId], false);
    return outcome ?? 'skipped';
  }

  /**
   * The first attempts of one event's deliveries (the event's dispatch job), sent concurrently. A
   * delivery already attempted is left to its own retry job, so a dispatch job that runs again after
   * a crash resends only what was never recorded (at-least-once, same `webhook-id`).
   */
  dispatch(deliveryIds: string[]): Promise<AttemptOutcome[]> {
    return this.attemptAll(deliveryIds, true);
  }

  /**
   * The common case (every receiver answers 2xx) costs two statements whatever the number of
   * deliveries: one read of the deliveries with their subscriptions, one write of the outcomes and
   * attempts. Failures take the fuller path of recordFailure, one delivery at a time.
   */
  private async attemptAll(deliveryIds: string[], firstAttemptsOnly: boolean): Promise<AttemptOutcome[]> {
    const { rows } = await this.pool.query<DeliveryTarget>(
      `select d.id, d.tenant_id, d.event_id, d.body, d.status, s.id as webhook_id, s.url, s.enabled, s.secret_sealed,
              s.previous_secret_sealed, s.previous_secret_expires_at, s.failing_since
       from webhook_deliveries d join webhook_subscriptions s on s.id = d.webhook_id
       where d.id = any($1::text[]) and d.status not in ('succeeded', 'failed') ${firstAttemptsOnly ? 'and d.attempts = 0' : ''}`,
      [deliveryIds],
    );
    const disabled = rows.filter((target) => !target.enabled).map((target) => target.id);
    if (disabled.length) {
      await this.pool.query(`update webhook_deliveries set status = 'failed', error = 'the subscription is disabled', updated_at = now() where id = any($1::text[])`, [disabled]);
    }
    const enabled = rows.filter((target) => target.enabled);
    const deadline = this.http.deadline(enabled.length);
    const sent = await Promise.all(enabled.map((target) => this.send(target, deadline)));
    const succeeded = sent.filter((result) => !result.error);
    await this.recordSuccesses(succeeded);
    const failed = await Promise.all(
      sent
        .filter((result) => result.error)
        .map((result) => this.recordFailure(result.target.id, result.target, result.attemptedAt, result.response, result.error!, result.latencyMs)),
    );
    return [...disabled.map(() => 'failed' as const), ...succeeded.map(() => 'succeeded' as const), ...failed];
  }

  /** One signed POST; a non-2xx answer or a network failure comes back as `error`, never thrown. */
  private async send(target: DeliveryTarget, deadline: AbortSignal): Promise<SendResult> {
    const attemptedAt = new Date();
    const secrets = this.liveSecrets(
      {
        id: target.webhook_id,
        secretSealed: target.secret_sealed,
        previousSecretSealed: target.previous_secret_sealed,
        previousSecretExpiresAt: target.previous_secret_expires_at ? new Date(target.previous_secret_expires_at) : null,
      },
      attemptedAt,
    );
    const headers = signatureHeaders(secrets, target.event_id, target.body, attemptedAt);
    try {
      const response = await this.http.post(target.url, headers, target.body, deadline);
      const error = response.status < 200 || response.status >= 300 ? `the endpoint answered ${response.status}` : null;
      return { target, attemptedAt, response, error, latencyMs: response.latencyMs };
    } catch (e) {
      const failure = e instanceof DeliveryError ? e : new DeliveryError('network', (e as Error).message);
      return { target, attemptedAt, error: failure.message, latencyMs: failure.latencyMs };
    }
  }

  /** One statement for any number of successes: the deliveries, their attempts, and subscriptions that were failing. */
  private async recordSuccesses(results: SendResult[]): Promise<void> {
    if (!results.length) return;
    await this.pool.query(
      `with input as (
         select * from unnest($1::text[], $2::timestamptz[], $3::int[], $4::int[], $5::text[])
           as t(delivery_id, attempted_at, response_status, latency_ms, snippet)
       ), d as (
         update webhook_deliveries w set status = 'succeeded', attempts = w.attempts + 1, last_attempt_at = i.attempted_at,
           response_status = i.response_status, latency_ms = i.latency_ms, error = null, next_attempt_at = null, updated_at = now()
         from input i where w.id = i.delivery_id
         returning w.id, w.tenant_id, w.webhook_id, w.attempts
       ), s as (
         update webhook_subscriptions set failing_since = null where id in (select webhook_id from d) and failing_since is not null
       )
       insert into webhook_attempts (id, tenant_id, delivery_id, number, attempted_at, response_status, latency_ms, error, response_snippet)
       select tessera_new_id('att'), d.tenant_id, d.id, d.attempts, i.attempted_at, i.response_status, i.latency_ms, null, i.snippet
       from d join input i on i.delivery_id = d.id`,
      [
        results.map((r) => r.target.id),
        results.map((r) => r.attemptedAt),
        results.map((r) => r.response!.status),
        results.map((r) => r.latencyMs),
        results.map((r) => r.response!.snippet),
      ],
    );
  }

  private async recordFailure(
    deliveryId: string,
    subscription: Pick<DeliveryTarget, 'webhook_id' | 'tenant_id'>,
    attemptedAt: Date,
    response: OutboundResponse | undefined,
    error: string,
    latencyMs: number,
  ): Promise<AttemptOutcome> {
    const em = this.orm.em.fork();
    return em.transactional(async (tx) => {
      const row = await tx.findOneOrFail(WebhookDelivery, { id: deliveryId }, { filters: false });
      row.attempts += 1;
      row.lastAttemptAt = attemptedAt;
      row.responseStatus = response?.status ?? null;
      row.latencyMs = latencyMs;
      row.error = error;
      row.updatedAt = new Date();
      tx.create(WebhookAttempt, {
        id: newId('att'),
        tenantId: row.tenantId,
        deliveryId: row.id,
        number: row.attempts,
        attemptedAt,
        responseStatus: response?.status ?? null,
        latencyMs,
        error,
        responseSnippet: response?.snippet ?? null,
      });

      const now = new Date();
      // Atomic bookkeeping, no row lock held: concurrent attempts see one start of the failure run.
      const [state] = await tx.execute<Array<{ failing_since: Date; enabled: boolean }>>(
        'update webhook_subscriptions set failing_since = coalesce(failing_since, ?) where id = ? returning failing_since, enabled',
        [attemptedAt, subscription.webhook_id],
      );
      let enabled = state?.enabled ?? false;
      if (enabled && response?.status === 410) {
        // 410 Gone: the receiver says the endpoint is gone for good (Svix, Standard Webhooks).
        enabled = !(await this.disable(tx, { id: subscription.webhook_id, tenantId: subscription.tenant_id }, 'the endpoint answered 410 Gone'));
      } else if (enabled && state && now.getTime() - new Date(state.failing_since).getTime() >= this.config.webhooks.disableAfter * 1000) {
        enabled = !(await this.disable(tx, { id: subscription.webhook_id, tenantId: subscription.tenant_id }, `every delivery failed for ${Math.round(this.config.webhooks.disableAfter / 86_400)} day(s)`));
      }
      const retry = row.attempts; // the retry that would come next
      if (!enabled || retry > this.config.webhooks.retrySchedule.length) {
        row.status = 'failed';
        row.nextAttemptAt = null;
        return 'failed' as const;
      }
      const wait = this.retryAfter(response) ?? this.backoff(retry);
      row.status = 'retrying';
      row.nextAttemptAt = new Date(now.getTime() + wait);
      await enqueueDeliveries(tx, [row.id], row.nextAttemptAt);
      return 'retrying' as const;
    });
  }

  /** Disables once (whoever gets there first writes the audit event); true if this call disabled it. */
  private async disable(em: EntityManager, subscription: { id: string; tenantId: string }, reason: string): Promise<boolean> {
    const changed: unknown[] = await em.execute(
      'update webhook_subscriptions set enabled = false, disabled_reason = ?, updated_at = ? where id = ? and enabled returning id',
      [reason, new Date(), subscription.id],
    );
    if (!changed.length) return false;
    recordAudit(em, { tenantId: subscription.tenantId, actor: 'system', action: 'webhook.disabled', targetType: 'webhook', targetId: subscription.id, details: { reason } });
    return true;
  }
}
