// The delivery engine, run by the worker's jobs: signed POSTs (Standard Webhooks) through the SSRF-safe client,
// their successes recorded in one statement (delivery-store.ts), each failure on its own (failures.ts: retries
// with jitter or Retry-After, auto-disable). At-least-once, with the same `webhook-id` on every attempt.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Clock } from '../clock.js';
import type { DeliveryStore, DeliveryTarget, Success } from './delivery-store.js';
import type { Logger } from '../observability/log.js';
import type { RecoveryLedger } from './recoveries.js';
import type { Throttle } from './throttle.js';
import type { FailedAttempt, FailureRecorder } from './failures.js';
import { DeliveryError, type WebhookHttpClient } from './http.js';
import type { SigningSecrets } from './secrets.js';
import { signatureHeaders } from './signing.js';
import type { DeliveryTelemetry } from './telemetry.js';

const tracer = trace.getTracer('tessera');

/** The host a webhook goes to: its URL's path and query may carry the receiver's own secrets. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

/**
 * `held`: its app is suspended; `deferred`: its throttled subscription's slot for it is later, when it is sent
 * (throttle.ts); `skipped`: nothing to send (already sent, or gone).
 */
export type AttemptOutcome = 'succeeded' | 'retrying' | 'failed' | 'held' | 'deferred' | 'skipped';

export class DeliveryEngine {
  constructor(
    private readonly store: DeliveryStore,
    private readonly failures: FailureRecorder,
    private readonly secrets: SigningSecrets,
    private readonly http: WebhookHttpClient,
    private readonly clock: Clock,
    private readonly telemetry: DeliveryTelemetry,
    private readonly recoveries: RecoveryLedger,
    private readonly throttle: Throttle,
    private readonly log: Logger,
  ) {}

  /**
   * The next attempt of one delivery: a retry, a redelivery, a test send or a recovery (its own keyed job); `slot`:
   * the send time its throttled subscription reserved for it (throttle.ts), not to be reserved again.
   */
  async attempt(deliveryId: string, tenantId?: string, slot?: Date): Promise<AttemptOutcome> {
    const [outcome] = await this.attemptAll([deliveryId], tenantId, false, slot);
    return outcome ?? 'skipped';
  }

  /**
   * The first attempts of one event's deliveries (the event's dispatch job), sent concurrently. A delivery
   * already attempted is left to its own retry job, so a dispatch job that runs again after a crash resends
   * only what was never recorded (at-least-once, same `webhook-id`).
   */
  dispatch(deliveryIds: string[], tenantId?: string): Promise<AttemptOutcome[]> {
    return this.attemptAll(deliveryIds, tenantId, true);
  }

  /**
   * A resumed app's held deliveries to one subscription, one after the other, in the order given (the order they
   * were held in). Run again after a crash, it skips what was sent and goes on in order.
   */
  async release(deliveryIds: string[], tenantId?: string): Promise<AttemptOutcome[]> {
    const outcomes: AttemptOutcome[] = [];
    for (const id of deliveryIds) outcomes.push(await this.attempt(id, tenantId));
    return outcomes;
  }

  /** Stops what the engine keeps in memory: the throttle's armed timers. */
  stop(): void {
    this.throttle.stop();
  }

  /** `tenantId`: the deliveries' tenant, when the job names it (DeliveryJob). */
  private async attemptAll(deliveryIds: string[], tenantId: string | undefined, firstAttemptsOnly: boolean, slot?: Date): Promise<AttemptOutcome[]> {
    const targets = await this.store.targets(deliveryIds, tenantId, firstAttemptsOnly);
    const disabled = targets.filter((target) => !target.enabled);
    await this.store.failDisabled(disabled);
    const held = await this.store.hold(targets.filter((target) => target.enabled && target.held_since !== null));
    const { now, later } = await this.throttle.pace(targets.filter((target) => target.enabled && !held.has(target.id)), slot, (target, at) => this.sendAtSlot(target, at));
    const deadline = this.http.deadline(now.length);
    const sent = await Promise.all(now.map((target) => this.send(target, deadline)));
    const succeeded = sent.filter((result): result is Success => 'responseStatus' in result);
    await this.store.recordSuccesses(succeeded);
    this.telemetry.succeeded(succeeded);
    const failed = await Promise.all(sent.filter((result): result is FailedAttempt => 'error' in result).map((failure) => this.recordFailure(failure)));
    // The recover requests these attempts counted toward (a disabled subscription's delivery ends failed, unsent).
    await this.recoveries.settle([...disabled, ...now].filter((target) => target.recovery_id));
    return [
      ...disabled.map(() => 'failed' as const),
      ...[...held].map(() => 'held' as const),
      ...later.map(() => 'deferred' as const),
      ...succeeded.map(() => 'succeeded' as const),
      ...failed,
    ];
  }

  /** A throttled delivery's timer: its attempt at its slot; a fault leaves it to the slot's safety job. */
  private sendAtSlot(target: DeliveryTarget, slot: Date): void {
    this.attemptAll([target.id], target.tenant_id, false, slot).catch((error: unknown) =>
      this.log.warn({ err: error, tenant_id: target.tenant_id, webhook_id: target.webhook_id, delivery_id: target.id }, 'throttled webhook attempt failed; its safety job sends it'),
    );
  }

  private async recordFailure(failure: FailedAttempt): Promise<'retrying' | 'failed'> {
    const recorded = await this.failures.record(failure);
    this.telemetry.failed(failure, recorded);
    return recorded.outcome;
  }

  /**
   * One attempt in its trace span: a child of the change that caused the event (its traceparent, stored with the
   * event), whatever process and however much later it runs; the receiver gets the span as `traceparent` too.
   */
  private send(target: DeliveryTarget, deadline: AbortSignal): Promise<Success | FailedAttempt> {
    const parent = target.traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent: target.traceparent }) : context.active();
    const attributes = { 'tessera.tenant_id': target.tenant_id, 'tessera.webhook_id': target.webhook_id, 'tessera.delivery_id': target.id, 'tessera.event_id': target.event_id, 'http.request.method': 'POST', 'server.address': hostOf(target.url) };
    return tracer.startActiveSpan('webhook attempt', { kind: SpanKind.CLIENT, attributes }, parent, async (span) => {
      try {
        const result = await this.post(target, deadline);
        if ('responseStatus' in result) span.setAttribute('http.response.status_code', result.responseStatus);
        else {
          if (result.response) span.setAttribute('http.response.status_code', result.response.status);
          span.setStatus({ code: SpanStatusCode.ERROR, message: result.error });
        }
        return result;
      } finally {
        span.end();
      }
    });
  }

  /** One signed POST; a non-2xx answer or a network failure comes back as a FailedAttempt, never thrown. */
  private async post(target: DeliveryTarget, deadline: AbortSignal): Promise<Success | FailedAttempt> {
    const attemptedAt = new Date(this.clock.now());
    const secrets = this.secrets.live(
      {
        id: target.webhook_id,
        secretSealed: target.secret_sealed,
        previousSecretSealed: target.previous_secret_sealed,
        previousSecretExpiresAt: target.previous_secret_expires_at ? new Date(target.previous_secret_expires_at) : null,
      },
      attemptedAt,
    );
    const headers: Record<string, string> = signatureHeaders(secrets, target.event_id, target.body, attemptedAt);
    // W3C trace context (traceparent, tracestate) of this attempt's span; nothing when tracing is off.
    propagation.inject(context.active(), headers);
    const failure = { deliveryId: target.id, webhookId: target.webhook_id, tenantId: target.tenant_id, attemptedAt };
    try {
      const response = await this.http.post(target.url, headers, target.body, deadline);
      if (response.status >= 200 && response.status < 300) {
        return { deliveryId: target.id, tenantId: target.tenant_id, attemptedAt, responseStatus: response.status, latencyMs: response.latencyMs, snippet: response.snippet };
      }
      return { ...failure, response, error: `the endpoint answered ${response.status}`, latencyMs: response.latencyMs };
    } catch (e) {
      const error = e instanceof DeliveryError ? e : new DeliveryError('network', (e as Error).message);
      return { ...failure, error: error.message, latencyMs: error.latencyMs };
    }
  }
}
