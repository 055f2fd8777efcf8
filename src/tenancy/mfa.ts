// Second factors of local accounts (README "MFA"): a TOTP authenticator (RFC 6238: HMAC-SHA-1, 30 s steps, 6 digits,
// what authenticator apps expect) and ten one-time recovery codes. The secret is sealed with the SecretBox and never
// shown again after enrolment; a code is accepted once (the last accepted time step is kept, RFC 6238 section 5.2);
// recovery codes are stored as hashes, each used once. Other modules reach this through the tenancy service
// (`tenancy.mfa`); the hosted sign-in (oauth/second-factor.ts) decides when to ask.
import type { EntityManager } from '@mikro-orm/postgresql';
import { randomInt } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import type { AuditService } from '../audit/service.js';
import type { Clock } from '../clock.js';
import { NotFound } from '../errors.js';
import { sha256 } from '../ids.js';
import type { SecretBox } from '../secret-box.js';
import { Tenant, User, UserRecoveryCode, UserTotp, type MfaPolicy } from './entities.js';

/** What the otpauth URI leaves to its defaults, spelled out: authenticator apps ignore anything else anyway. */
const TOTP = { algorithm: 'sha1', digits: 6, period: 30 } as const;
/**
 * RFC 6238 section 5.2: one time step either side of ours, for the phone's clock and the time it takes to type (the
 * RFC's "at most one time step" of delay, and as much drift, as most services allow).
 */
const TOLERANCE_SECONDS = 30;
/** RFC 4226 section 4, R6: a shared secret of 160 bits. */
const SECRET_BYTES = 20;

export const RECOVERY_CODE_COUNT = 10;
/** Letters and digits that cannot be mistaken for one another on paper (no 0/o, 1/l/i). */
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
/** 16 of 31 symbols: 79 bits, too many to search from a stolen hash, so SHA-256 is enough (as for client secrets). */
const RECOVERY_CODE_LENGTH = 16;

/** A 6-digit code as an authenticator shows it. */
export const TOTP_CODE = /^\d{6}$/;

export type SecondFactorUsed = 'totp' | 'recovery_code';

export interface TotpEnrolment {
  /** Base32, as typed into an authenticator that cannot scan. */
  secret: string;
  /** The Key Uri Format (`otpauth://totp/...`) a QR code carries. */
  uri: string;
}

export type EnableResult = { enabled: true; recoveryCodes: string[] } | { enabled: false; reason: 'wrong_code' | 'already_enabled' };

/** Whether a tenant's policy requires `user` to confirm a code after the password. */
export function policyRequires(policy: MfaPolicy, user: Pick<User, 'roles'>): boolean {
  return policy === 'everyone' || (policy === 'admins' && user.roles.includes('admin'));
}

/** What a user typed, as it is compared: no spaces or dashes, lower case (recovery codes are printed in groups). */
function normalise(code: string): string {
  return code.replace(/[\s-]/g, '').toLowerCase();
}

const recoveryCodeId = (userId: string, normalised: string) => sha256(`${userId}:${normalised}`);

function newRecoveryCode(): string {
  const symbols = Array.from({ length: RECOVERY_CODE_LENGTH }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]);
  return symbols.join('').replace(/(.{4})(?!$)/g, '$1-');
}

const sealedFor = (userId: string) => `totp:${userId}`;
const pendingFor = (binding: string) => `totp-enrolment:${binding}`;

export class MfaService {
  constructor(
    private readonly audit: AuditService,
    private readonly box: SecretBox,
    private readonly clock: Clock,
  ) {}

  private epoch(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  /** Whether `user`'s tenant requires them to have a second factor. */
  async policyRequires(em: EntityManager, user: User): Promise<boolean> {
    const tenant = await em.findOne(Tenant, { id: user.tenantId });
    return policyRequires(tenant?.mfaRequired ?? 'none', user);
  }

  async isEnabled(em: EntityManager, userId: string): Promise<boolean> {
    return (await em.count(UserTotp, { userId })) > 0;
  }

  /** Which of the users of `em`'s tenant have an authenticator. */
  async enabledAmong(em: EntityManager, userIds: string[]): Promise<Set<string>> {
    if (!userIds.length) return new Set();
    const rows = await em.find(UserTotp, { userId: { $in: userIds } }, { fields: ['userId'] });
    return new Set(rows.map((row) => row.userId));
  }

  /** A new secret for `user`'s authenticator. */
  newSecret(): string {
    return generateSecret({ length: SECRET_BYTES });
  }

  /** What an authenticator is given for `secret`: named after the tenant, so that a user of several tells them apart. */
  async enrolment(em: EntityManager, user: User, secret: string): Promise<TotpEnrolment> {
    const tenant = await em.findOneOrFail(Tenant, { id: user.tenantId });
    // The Key Uri Format puts the issuer before a colon in the label: a colon of the name would split it wrongly.
    const issuer = `Tessera ${tenant.name}`.replace(/:/g, ' ');
    return { secret, uri: generateURI({ issuer, label: user.email, secret, ...TOTP }) };
  }

  /** An enrolment's secret between the page that shows it and the code that confirms it, sealed for that one step. */
  sealPending(secret: string, binding: string): string {
    return this.box.seal(secret, pendingFor(binding));
  }

  openPending(sealed: string, binding: string): string {
    return this.box.open(sealed, pendingFor(binding));
  }

  /**
   * Confirms an enrolment with the authenticator's current code for `secret`; then the authenticator is the user's,
   * the code's time step counts as used, and the recovery codes are returned, to be shown once. Refused when the user
   * has an authenticator already (another sign-in enrolled first): a password alone never replaces one.
   */
  async enable(em: EntityManager, user: User, secret: string, code: string): Promise<EnableResult> {
    const result = await verify({ secret, token: normalise(code), epoch: this.epoch(), epochTolerance: TOLERANCE_SECONDS, ...TOTP });
    if (!result.valid || !('timeStep' in result)) return { enabled: false, reason: 'wrong_code' };
    const now = new Date(this.clock.now());
    return em.transactional(async (tx) => {
      // One statement decides between two enrolments that race: the first keeps its authenticator.
      const inserted = await tx.execute<Array<{ user_id: string }>>(
        'insert into user_totp (user_id, tenant_id, secret_sealed, last_step, enabled_at) values (?, ?, ?, ?, ?) on conflict do nothing returning user_id',
        [user.id, user.tenantId, this.box.seal(secret, sealedFor(user.id)), result.timeStep, now],
      );
      if (!inserted.length) return { enabled: false, reason: 'already_enabled' } as const;
      await tx.nativeDelete(UserRecoveryCode, { userId: user.id, tenantId: user.tenantId });
      const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
      for (const recoveryCode of recoveryCodes) {
        tx.create(UserRecoveryCode, { id: recoveryCodeId(user.id, normalise(recoveryCode)), tenantId: user.tenantId, userId: user.id, createdAt: now, usedAt: null });
      }
      this.audit.record(tx, {
        tenantId: user.tenantId,
        actor: user.id,
        action: 'user.mfa_enrolled',
        targetType: 'user',
        targetId: user.id,
        details: { email: user.email, recovery_codes: RECOVERY_CODE_COUNT },
      });
      return { enabled: true, recoveryCodes } as const;
    });
  }

  /**
   * A code the user typed after the password: the authenticator's (6 digits) or one of the recovery codes. Null when
   * it is neither, when it was accepted before (a TOTP code of a time step already used, RFC 6238 section 5.2; a
   * recovery code already used), or when the user has no authenticator. The use of a recovery code is audited in
   * `em`'s unit of work, which the caller flushes.
   */
  async verify(em: EntityManager, user: User, code: string): Promise<SecondFactorUsed | null> {
    const totp = await em.findOne(UserTotp, { userId: user.id });
    if (!totp) return null;
    const typed = normalise(code);
    if (TOTP_CODE.test(typed)) return (await this.acceptTotp(em, user, totp, typed)) ? 'totp' : null;
    return (await this.useRecoveryCode(em, user, typed)) ? 'recovery_code' : null;
  }

  private async acceptTotp(em: EntityManager, user: User, totp: UserTotp, code: string): Promise<boolean> {
    const secret = this.box.open(totp.secretSealed, sealedFor(user.id));
    const result = await verify({ secret, token: code, epoch: this.epoch(), epochTolerance: TOLERANCE_SECONDS, afterTimeStep: totp.lastStep ?? undefined, ...TOTP });
    if (!result.valid || !('timeStep' in result)) return false;
    // The step is taken in one statement: of two sign-ins with the same code at once, only one gets it.
    const taken = await em.nativeUpdate(
      UserTotp,
      { userId: user.id, tenantId: user.tenantId, $or: [{ lastStep: null }, { lastStep: { $lt: result.timeStep } }] },
      { lastStep: result.timeStep },
    );
    return taken === 1;
  }

  private async useRecoveryCode(em: EntityManager, user: User, typed: string): Promise<boolean> {
    if (typed.length !== RECOVERY_CODE_LENGTH) return false;
    const used = await em.nativeUpdate(
      UserRecoveryCode,
      { id: recoveryCodeId(user.id, typed), tenantId: user.tenantId, userId: user.id, usedAt: null },
      { usedAt: new Date(this.clock.now()) },
    );
    if (used !== 1) return false;
    const remaining = await em.count(UserRecoveryCode, { userId: user.id, usedAt: null });
    this.audit.record(em, {
      tenantId: user.tenantId,
      actor: user.id,
      action: 'user.mfa_recovery_code_used',
      targetType: 'user',
      targetId: user.id,
      details: { email: user.email, remaining },
    });
    return true;
  }

  /**
   * A tenant admin takes away a user's authenticator and recovery codes (a lost phone): the user enrols again at the
   * next sign-in where the policy requires it. Audited; a user of another tenant is not found.
   */
  async reset(em: EntityManager, userId: string, actor: string): Promise<void> {
    await em.transactional(async (tx) => {
      const user = await tx.findOne(User, { id: userId });
      if (!user) throw new NotFound(`no user ${userId}`);
      const removed = await tx.nativeDelete(UserTotp, { userId: user.id, tenantId: user.tenantId });
      await tx.nativeDelete(UserRecoveryCode, { userId: user.id, tenantId: user.tenantId });
      this.audit.record(tx, {
        tenantId: user.tenantId,
        actor,
        action: 'user.mfa_reset',
        targetType: 'user',
        targetId: user.id,
        details: { email: user.email, had_mfa: removed > 0 },
      });
    });
  }
}
