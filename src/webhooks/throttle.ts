// A subscription's rate limit (`rate_limit`, deliveries per second), honoured across every worker process: each
// delivery of a throttled subscription gets a send time, its slot, reserved in the database (delivery-store.ts
// reserveSlots, the generic cell rate algorithm), so slots are 1/rate_limit apart whichever process reserved them.
// One due now is sent now; a later one is sent at its slot by a timer of the process that reserved it, not by a job:
// a job due later waits for the queue's next poll (WORKER_POLL_INTERVAL), which would send a second's worth of slots in
// one burst, and a job that sleeps holds a worker. A job carrying the slot stays behind each timer as its safety net
// (due when the timer's attempt has long been recorded), so a process that dies with timers armed loses no delivery;
// a slot further away than the horizon gets a job that arms its timer when it comes near.
import type { Logger } from '../observability/log.js';
import type { DeliveryStore, DeliveryTarget, Slot } from './delivery-store.js';

/** A slot this close is sent now: a timer would not be more precise. */
const SLOT_TOLERANCE_MS = 5;
/** Beyond the timeout of the attempt a timer makes, how long its safety net waits before it sends in its place. */
const SAFETY_MARGIN_MS = 5_000;

export interface ThrottleOptions {
  /** How often the job queue looks for jobs due later (WORKER_POLL_INTERVAL). */
  pollIntervalMs: number;
  /** How long one attempt may take (WEBHOOK_TIMEOUT). */
  attemptTimeoutMs: number;
}

/** Sends one delivery at its slot (the engine's attempt with the slot, which is not reserved again). */
export type SendAtSlot = (target: DeliveryTarget, slot: Date) => void;

export class Throttle {
  /** Timers armed by this process, by delivery id: one each, whatever wakes the delivery again meanwhile. */
  private readonly armed = new Map<string, NodeJS.Timeout>();
  private readonly leadMs: number;
  private readonly horizonMs: number;
  private readonly safetyMs: number;

  constructor(
    private readonly store: DeliveryStore,
    options: ThrottleOptions,
    private readonly log: Logger,
  ) {
    // A job due `lead` before its slot is picked up before the slot, however late the queue's poll.
    this.leadMs = options.pollIntervalMs + 1_000;
    this.horizonMs = Math.max(30_000, 2 * this.leadMs);
    this.safetyMs = options.attemptTimeoutMs + SAFETY_MARGIN_MS;
  }

  /**
   * Which of `targets` go now and which at a later slot (armed here). `slot`: the one the caller's job or timer
   * carries, reserved already; without it, throttled targets reserve theirs.
   */
  async pace(targets: DeliveryTarget[], slot: Date | undefined, send: SendAtSlot): Promise<{ now: DeliveryTarget[]; later: DeliveryTarget[] }> {
    const throttled = targets.filter((target) => target.rate_limit !== null);
    if (!throttled.length) return { now: targets, later: [] };
    const slots: Map<string, Slot> = slot ? new Map(throttled.map((t) => [t.id, { at: slot, now: new Date(t.db_now) }])) : await this.store.reserveSlots(throttled);
    const later = throttled.filter((target) => {
      const reserved = slots.get(target.id);
      return reserved !== undefined && reserved.at.getTime() - reserved.now.getTime() > SLOT_TOLERANCE_MS;
    });
    await this.arm(later.map((target) => ({ target, ...slots.get(target.id)! })), send);
    const waiting = new Set(later);
    return { now: targets.filter((target) => !waiting.has(target)), later };
  }

  private async arm(items: Array<{ target: DeliveryTarget; at: Date; now: Date }>, send: SendAtSlot): Promise<void> {
    const jobs = items.map(({ target, at, now }) => {
      const far = at.getTime() - now.getTime() > this.horizonMs;
      if (!far) this.armTimer(target, at, at.getTime() - now.getTime(), send);
      // Far: a job that comes back to arm the timer; near: the timer's safety net.
      return { id: target.id, tenant_id: target.tenant_id, slot: at, runAt: new Date(at.getTime() + (far ? -this.leadMs : this.safetyMs)) };
    });
    await this.store.scheduleSlots(jobs);
  }

  private armTimer(target: DeliveryTarget, at: Date, waitMs: number, send: SendAtSlot): void {
    if (this.armed.has(target.id)) return;
    const timer = setTimeout(() => {
      this.armed.delete(target.id);
      send(target, at);
    }, waitMs);
    this.armed.set(target.id, timer);
  }

  /** Disarms every timer: their safety nets send those deliveries, from this process or another. */
  stop(): void {
    if (this.armed.size) this.log.info({ deliveries: this.armed.size }, 'throttled webhook deliveries left to their safety jobs');
    for (const timer of this.armed.values()) clearTimeout(timer);
    this.armed.clear();
  }
}
