// The second factor of the hosted sign-in (README "MFA"), between a correct password and a session: a user with an
// authenticator confirms one of its codes (or a recovery code); a user whom the tenant's policy requires to have one,
// and who has none, enrols one there and then (the secret as text, an otpauth URI and its QR code; a code to confirm;
// the recovery codes, shown once). Until then the browser has no session: the step is a row bound to the pending
// authorization request (and so to its browser and CSRF token), it expires, and only the server knows which step
// comes next, so none can be skipped. Wrong codes count toward the account's lockout like wrong passwords.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../clock.js';
import type { TenancyService, User } from '../tenancy/service.js';
import { MfaChallenge, type AuthorizationRequest, type LoginThrottle } from './entities.js';
import { lockedMessage, type LoginLockout } from './lockout.js';

/** Long enough to open an authenticator app and type; a page left open longer starts the sign-in again. */
const VERIFY_TTL_SECONDS = 300;
/** Enrolment takes longer (find or install an app, scan, type); the authorization request's own 10 minutes bound it. */
const ENROL_TTL_SECONDS = 600;

/** RFC 8176 section 2: a password, then a one-time password (an authenticator's code, or a recovery code: one too). */
const PASSWORD_AND_OTP = ['pwd', 'otp'];

/** What the second-factor page shows. */
export type SecondFactorPage =
  | { step: 'verify'; email: string }
  | { step: 'enrol'; email: string; secret: string; uri: string }
  /** The authenticator is enrolled: its recovery codes, once (null when the page is shown again). */
  | { step: 'enrolled'; recoveryCodes: string[] | null };

export type SecondFactorOutcome =
  | { kind: 'page'; page: SecondFactorPage; status?: number; error?: string; retryAfter?: number }
  /** The step is gone (expired, or overtaken): sign in again. */
  | { kind: 'restart'; error: string }
  | { kind: 'signed-in'; user: User; amr: string[] };

const EXPIRED: SecondFactorOutcome = { kind: 'restart', error: 'This sign-in step has expired. Sign in again.' };

export class SecondFactor {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly lockout: LoginLockout,
    private readonly clock: Clock,
  ) {}

  /**
   * After the right password: the step the user must take before a session (its page), or null when there is none
   * (no authenticator, and the tenant's policy does not require one). A new password on the same request starts the
   * step again.
   */
  async afterPassword(em: EntityManager, request: AuthorizationRequest, user: User): Promise<SecondFactorPage | null> {
    const mfa = this.tenancy.mfa;
    const step = (await mfa.isEnabled(em, user.id)) ? 'verify' : (await mfa.policyRequires(em, user)) ? 'enrol' : null;
    if (!step) return null;
    await em.nativeDelete(MfaChallenge, { requestId: request.id });
    const secret = step === 'enrol' ? mfa.newSecret() : null;
    const now = this.clock.now();
    em.create(MfaChallenge, {
      requestId: request.id,
      tenantId: request.tenantId,
      userId: user.id,
      step,
      secretSealed: secret === null ? null : mfa.sealPending(secret, request.id),
      createdAt: new Date(now),
      expiresAt: new Date(now + (step === 'enrol' ? ENROL_TTL_SECONDS : VERIFY_TTL_SECONDS) * 1000),
    });
    await em.flush();
    return secret === null ? { step: 'verify', email: user.email } : { step: 'enrol', email: user.email, ...(await mfa.enrolment(em, user, secret)) };
  }

  /**
   * Whether a login session made by `amr` still stands for `user`: one made with a password alone does not once the
   * user has an authenticator or the tenant's policy requires one (set after the session began). A session through an
   * identity provider (`fed`) is that provider's to vouch for.
   */
  async satisfiedBy(em: EntityManager, amr: string[], user: User): Promise<boolean> {
    if (!amr.includes('pwd') || amr.includes('otp')) return true;
    const mfa = this.tenancy.mfa;
    return !(await mfa.isEnabled(em, user.id)) && !(await mfa.policyRequires(em, user));
  }

  /** The page of the request's pending step, or null when it has none (or it expired). */
  async page(em: EntityManager, request: AuthorizationRequest): Promise<SecondFactorPage | null> {
    const pending = await this.live(em, request);
    return pending && this.pageOf(em, pending.challenge, pending.user);
  }

  /** The form of the pending step, posted: a code to check, an authenticator to confirm, or on to the session. */
  async submit(em: EntityManager, request: AuthorizationRequest, code: string): Promise<SecondFactorOutcome> {
    const pending = await this.live(em, request);
    if (!pending) return EXPIRED;
    const { challenge, user } = pending;
    const { throttle, retryAfter } = await this.lockout.state(em, request.tenantId, user.email);
    // The recovery codes were shown: whoever got here typed a right code already.
    if (challenge.step === 'enrolled') return this.signedIn(em, challenge, user, throttle);

    const again = async (status: number, error: string, extra: { retryAfter?: number } = {}): Promise<SecondFactorOutcome> => ({
      kind: 'page',
      page: await this.pageOf(em, challenge, user),
      status,
      error,
      ...extra,
    });
    // Locked: refused before the code is looked at, so that even the right one tells nothing (and does not count).
    if (retryAfter) return again(429, lockedMessage(retryAfter), { retryAfter });
    const typed = code.trim();
    if (!typed) return again(400, challenge.step === 'verify' ? 'Enter the 6-digit code from your authenticator app, or a recovery code.' : 'Enter the 6-digit code your authenticator app shows.');

    if (challenge.step === 'verify') {
      if (!(await this.tenancy.mfa.verify(em, user, typed))) {
        await this.lockout.recordFailure(em, request.tenantId, user.email, throttle);
        return again(401, 'The code is not correct.');
      }
      return this.signedIn(em, challenge, user, throttle);
    }

    const secret = this.tenancy.mfa.openPending(challenge.secretSealed!, request.id);
    const enabled = await this.tenancy.mfa.enable(em, user, secret, typed);
    if (!enabled.enabled && enabled.reason === 'wrong_code') {
      await this.lockout.recordFailure(em, request.tenantId, user.email, throttle);
      return again(401, 'The code is not correct. Check that the time on your device is right, and enter the code your app shows now.');
    }
    if (!enabled.enabled) {
      em.remove(challenge);
      await em.flush();
      return { kind: 'restart', error: 'An authenticator was set up for this account meanwhile. Sign in again to use it.' };
    }
    challenge.step = 'enrolled';
    challenge.secretSealed = null;
    await em.flush();
    return { kind: 'page', page: { step: 'enrolled', recoveryCodes: enabled.recoveryCodes } };
  }

  /** The request's step, if it has one that has not expired, with its user; an expired one is removed. */
  private async live(em: EntityManager, request: AuthorizationRequest): Promise<{ challenge: MfaChallenge; user: User } | null> {
    const challenge = await em.findOne(MfaChallenge, { requestId: request.id });
    if (!challenge) return null;
    const user = challenge.expiresAt.getTime() > this.clock.now() ? await this.tenancy.user(em, challenge.userId) : null;
    if (!user) {
      em.remove(challenge);
      await em.flush();
      return null;
    }
    return { challenge, user };
  }

  private async pageOf(em: EntityManager, challenge: MfaChallenge, user: User): Promise<SecondFactorPage> {
    if (challenge.step === 'verify') return { step: 'verify', email: user.email };
    if (challenge.step === 'enrolled') return { step: 'enrolled', recoveryCodes: null };
    const secret = this.tenancy.mfa.openPending(challenge.secretSealed!, challenge.requestId);
    return { step: 'enrol', email: user.email, ...(await this.tenancy.mfa.enrolment(em, user, secret)) };
  }

  /** All factors checked: the step ends, the failure count starts again, and the flow signs the user in. */
  private signedIn(em: EntityManager, challenge: MfaChallenge, user: User, throttle: LoginThrottle | null): SecondFactorOutcome {
    em.remove(challenge);
    this.lockout.clear(em, throttle);
    return { kind: 'signed-in', user, amr: PASSWORD_AND_OTP };
  }
}
