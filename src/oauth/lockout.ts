// The per-account lockout of the hosted sign-in (README "OAuth 2"): after LOGIN_MAX_FAILURES wrong passwords or wrong
// second-factor codes in a row, within LOGIN_LOCKOUT of one another, the account is locked for LOGIN_LOCKOUT, whatever
// is typed then, the right password or code included (RFC 6749 section 10.10: guessing must be made infeasible; RFC
// 6238 section 5.2 asks the same of TOTP codes, whose 10^6 values would otherwise fall to a patient attacker).
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { LoginThrottle } from './entities.js';

/** An account's failures so far (null: none), and how many seconds it stays locked (null: it is not). */
export interface LockoutState {
  throttle: LoginThrottle | null;
  retryAfter: number | null;
}

export class LoginLockout {
  constructor(
    private readonly config: Config,
    private readonly clock: Clock,
  ) {}

  /** One count per tenant and email, whether the email is a user's or not (the answer must not tell which). */
  private key(tenantId: string, email: string): string {
    return `${tenantId}:${email.trim().toLowerCase()}`;
  }

  async state(em: EntityManager, tenantId: string, email: string): Promise<LockoutState> {
    const throttle = await em.findOne(LoginThrottle, { id: this.key(tenantId, email) });
    const now = this.clock.now();
    const lockedUntil = throttle?.lockedUntil?.getTime();
    return { throttle, retryAfter: lockedUntil && lockedUntil > now ? Math.ceil((lockedUntil - now) / 1000) : null };
  }

  /** Counts a wrong password or code; the one that reaches the limit locks the account. */
  async recordFailure(em: EntityManager, tenantId: string, email: string, throttle: LoginThrottle | null): Promise<void> {
    const now = new Date(this.clock.now());
    const windowMs = this.config.oauth.loginLockout * 1000;
    const row = throttle ?? em.create(LoginThrottle, { id: this.key(tenantId, email), tenantId, failures: 0, lastFailureAt: now, lockedUntil: null });
    // Failures long ago, or before a lockout that has ended, start a new count.
    if (now.getTime() - row.lastFailureAt.getTime() > windowMs || (row.lockedUntil && row.lockedUntil <= now)) {
      row.failures = 0;
      row.lockedUntil = null;
    }
    row.failures += 1;
    row.lastFailureAt = now;
    if (row.failures >= this.config.oauth.loginMaxFailures) row.lockedUntil = new Date(now.getTime() + windowMs);
    await em.flush();
  }

  /** The user is who they said, all factors checked: the count starts again (flushed with the sign-in). */
  clear(em: EntityManager, throttle: LoginThrottle | null): void {
    if (throttle) em.remove(throttle);
  }
}

/** The sentence of a locked account's page. */
export function lockedMessage(retryAfter: number): string {
  return `Too many failed attempts. Try again in ${Math.ceil(retryAfter / 60)} minute(s).`;
}
