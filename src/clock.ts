// The time, from one place (DESIGN "Conventions" 12). Every rule that depends on it (token lifetimes, code,
// session and lockout expiry, key rotation, secret grace periods, webhook retries and auto-disable) asks the
// clock it was given, so that tests move time instead of sleeping.
export interface Clock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Seconds since the epoch, as JWT claims count them (RFC 7519 section 2, NumericDate). */
export function epochSeconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}
