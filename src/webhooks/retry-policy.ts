// When a failed delivery is tried again: the schedule (WEBHOOK_RETRY_SCHEDULE) with ±10 % jitter so that retries
// do not stampede, or as long as a receiver's Retry-After asks on 429 and 503 (RFC 9110 section 10.2.3), within
// bounds.
import type { Clock } from '../clock.js';
import type { OutboundResponse } from './http.js';

/** Bounds on a receiver's Retry-After: at least 1 s; at most the longest scheduled wait, or an hour. */
const RETRY_AFTER_MIN_S = 1;
const RETRY_AFTER_FLOOR_OF_MAX_S = 3600;

export class RetryPolicy {
  constructor(
    /** Seconds before each retry; its length is the number of retries. */
    private readonly schedule: number[],
    private readonly clock: Clock,
  ) {}

  /** The wait before retry number `retry` (1-based), in ms, or null when the schedule has ended. */
  wait(retry: number, response: OutboundResponse | undefined): number | null {
    if (retry > this.schedule.length) return null;
    return this.retryAfter(response) ?? this.backoff(retry);
  }

  private backoff(retry: number): number {
    const base = this.schedule[retry - 1]! * 1000;
    return Math.round(base * (0.9 + Math.random() * 0.2));
  }

  private retryAfter(response: OutboundResponse | undefined): number | null {
    if (!response || (response.status !== 429 && response.status !== 503)) return null;
    const header = response.headers['retry-after'];
    const raw = Array.isArray(header) ? header[0] : header;
    if (!raw) return null;
    // delay-seconds, or an HTTP-date.
    const seconds = /^\d+$/.test(raw) ? Number(raw) : (new Date(raw).getTime() - this.clock.now()) / 1000;
    if (!Number.isFinite(seconds)) return null;
    const max = Math.max(...this.schedule, RETRY_AFTER_FLOOR_OF_MAX_S);
    return Math.min(Math.max(seconds, RETRY_AFTER_MIN_S), max) * 1000;
  }
}
