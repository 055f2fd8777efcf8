// The clock every test runtime runs on (DESIGN "Conventions" 12): the real time plus an offset that a test moves
// forward instead of sleeping. Whatever the runtime decides from then on (token expiry, code and session
// lifetimes, lockouts, webhook retries and auto-disable) sees the moved time; `onAdvance` lets the parts that keep
// time elsewhere follow (the job queue, whose due times PostgreSQL compares with its own now()).
import type { Clock } from '../../src/clock.js';

export class TestClock implements Clock {
  private offsetMs = 0;
  private readonly listeners: Array<(ms: number) => Promise<void>> = [];

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Moves time forward by `ms`, and waits until every part that keeps time elsewhere has followed. */
  async advance(ms: number): Promise<void> {
    if (ms < 0) throw new Error('time only moves forward');
    this.offsetMs += ms;
    for (const listener of this.listeners) await listener(ms);
  }

  onAdvance(listener: (ms: number) => Promise<void>): void {
    this.listeners.push(listener);
  }
}
