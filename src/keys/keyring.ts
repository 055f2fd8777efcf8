// Signing keys: generated here, stored sealed under SECRETS_KEY, moved next -> active -> retired -> expired.
// There is always a `next` key in the JWKS, so a rotation only ever starts signing with a key verifiers
// could already fetch; a retired key stays published until the last token it signed has expired.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { exportJWK, exportPKCS8, generateKeyPair, importJWK, importPKCS8, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Notifications } from '../db/notifications.js';
import { Reloader } from '../reloader.js';
import type { SecretBox } from '../secret-box.js';
import { SigningKey, type KeyState } from './entities.js';
import type { Logger } from '../observability/log.js';

export const KEYS_CHANNEL = 'tessera_keys';
const KEYS_LOCK = 7_361_555_202;
/** Tokens are signed at most this far behind the recorded horizon; one database write an hour per key. */
const HORIZON_STEP_SECONDS = 3600;
/** An unknown `kid` reloads keys from the database at most this often (a forged kid must not cost a query each). */
const UNKNOWN_KID_RELOAD_MS = 2000;

interface LoadedKey {
  kid: string;
  alg: string;
  state: KeyState;
  publicJwk: JWK;
  verifyKey: CryptoKey;
  tokenHorizon: number; // epoch seconds
}

export interface KeySummary {
  kid: string;
  alg: string;
  state: KeyState;
  created_at: string;
  activated_at: string | null;
  retired_at: string | null;
  published_until: string | null;
  /** No token this key signed expires after this instant (recorded before signing); null before it signs. */
  token_horizon: string | null;
}

export interface RotationResult {
  activated: string;
  retired: string;
  next: string;
}

/** A key pair made outside the key lock, with nothing decided yet about its state. */
interface GeneratedKey {
  kid: string;
  alg: string;
  publicJwk: JWK;
  privateKeySealed: string;
}

/** The key new tokens are signed with. */
interface SigningKeyInUse {
  kid: string;
  alg: string;
  signKey: CryptoKey;
}

function signWith(key: SigningKeyInUse, claims: JWTPayload, typ: string): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ }).sign(key.signKey);
}

/**
 * Where a rotation is recorded, in the rotation's own transaction: the audit log (runtime.ts hands in the audit
 * service; keys/ sits below the features and imports none of them).
 */
export interface RotationAudit {
  record(em: EntityManager, entry: { tenantId: null; actor: string; action: string; targetType: string; targetId: string; details: Record<string, unknown> }): void;
}

export class Keyring {
  private keys = new Map<string, LoadedKey>();
  private active?: SigningKeyInUse;
  private activeSince: number | null = null;
  private jwksJson = '{"keys":[]}';
  private lastLoad = 0;
  private readonly reloader = new Reloader(() => this.load());
  private horizonBump?: Promise<void>;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly orm: MikroORM,
    private readonly box: SecretBox,
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly audit: RotationAudit,
    private readonly log: Logger,
  ) {}

  /** Makes sure an active and a next key exist, loads them and keeps them fresh. */
  async start(notifications?: Notifications, options: { background: boolean } = { background: true }): Promise<void> {
    const reloadQuietly = () => void this.reload().catch((e) => this.log.warn({ err: e }, 'key reload failed'));
    notifications?.on(KEYS_CHANNEL, reloadQuietly);
    notifications?.onReconnect(reloadQuietly);
    await this.ensureKeys();
    await this.reload();
    if (options.background) {
      this.timer = setInterval(() => void this.tick(), 60_000);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    try {
      await this.rotateIfDue();
      await this.reload();
    } catch (error) {
      this.log.warn({ err: error }, 'key maintenance failed');
    }
  }

  /**
   * A new key pair, sealed, ready to be stored. Made before the key lock is taken, never under it: an RSA key takes
   * hundreds of milliseconds (seconds on a busy machine), and processes starting together wait for that lock, each
   * wait bounded by DATABASE_STATEMENT_TIMEOUT, so a key generated under it could fail another process's start.
   */
  private async generateKey(): Promise<GeneratedKey> {
    const alg = this.config.keys.algorithm;
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
    const kid = `${new Date(this.clock.now()).toISOString().slice(0, 10)}-${randomBytes(6).toString('base64url')}`;
    const publicJwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg };
    return { kid, alg, publicJwk, privateKeySealed: this.box.seal(await exportPKCS8(privateKey), `signing-key:${kid}`) };
  }

  /** Stores a generated key in `state`, inside the caller's (locked) transaction. */
  private storeKey(em: EntityManager, key: GeneratedKey, state: KeyState): SigningKey {
    const now = new Date(this.clock.now());
    return em.create(SigningKey, { ...key, state, createdAt: now, activatedAt: state === 'active' ? now : null, retiredAt: null, tokenHorizon: null });
  }

  /** Runs `work` holding the key lock, so two processes never rotate or create keys at once. */
  private async locked<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.orm.em.fork().transactional(async (em) => {
      await em.execute('select pg_advisory_xact_lock(?)', [KEYS_LOCK]);
      const result = await work(em);
      await em.flush();
      await em.execute(`select pg_notify('${KEYS_CHANNEL}', '')`);
      return result;
    });
  }

  async ensureKeys(): Promise<void> {
    const existing = await this.orm.em.fork().count(SigningKey, { state: { $in: ['active', 'next'] } });
    if (existing === 2) return;
    // One for each state that may be missing under the lock. Processes starting together on a new database all make
    // them; the first to take the lock stores its own, and the others find both states there.
    const generated = await Promise.all([this.generateKey(), this.generateKey()]);
    await this.locked(async (em) => {
      if (!(await em.findOne(SigningKey, { state: 'active' }))) this.storeKey(em, generated[0], 'active');
      if (!(await em.findOne(SigningKey, { state: 'next' }))) this.storeKey(em, generated[1], 'next');
    });
  }

  /** Promotes the next key. With `onlyIfDue`, does nothing unless the active key has served its interval. */
  async rotate(actor: string, options: { onlyIfDue?: boolean } = {}): Promise<RotationResult | null> {
    // The next key after this rotation, made before the lock (see generateKey); unused if it turns out not due.
    const generated = await this.generateKey();
    const result = await this.locked(async (em) => {
      const active = await em.findOneOrFail(SigningKey, { state: 'active' });
      const next = await em.findOneOrFail(SigningKey, { state: 'next' });
      const now = new Date(this.clock.now());
      const dueAt = (active.activatedAt ?? active.createdAt).getTime() + this.config.keys.rotationInterval * 1000;
      if (options.onlyIfDue && dueAt > now.getTime()) return null;
      // The partial unique index allows one active key: retire first, then promote.
      active.state = 'retired';
      active.retiredAt = now;
      await em.flush();
      next.state = 'active';
      next.activatedAt = now;
      await em.flush();
      const upcoming = this.storeKey(em, generated, 'next');
      this.audit.record(em, {
        tenantId: null,
        actor,
        action: 'signing_key.rotated',
        targetType: 'signing_key',
        targetId: next.kid,
        details: { retired: active.kid, next: upcoming.kid },
      });
      return { activated: next.kid, retired: active.kid, next: upcoming.kid };
    });
    if (result) this.log.info({ kid: result.activated, retired_kid: result.retired, next_kid: result.next, actor }, 'signing key rotated');
    await this.reload();
    return result;
  }

  private async rotateIfDue(): Promise<void> {
    const row = await this.orm.em.fork().findOne(SigningKey, { state: 'active' });
    const dueAt = row ? (row.activatedAt ?? row.createdAt).getTime() + this.config.keys.rotationInterval * 1000 : Infinity;
    // Checked again under the lock: another process may have rotated a moment ago.
    if (dueAt <= this.clock.now()) await this.rotate('system', { onlyIfDue: true });
  }

  /** Retired keys whose every token has expired leave the JWKS for good. */
  private async expireRetired(em: EntityManager): Promise<void> {
    const cutoff = new Date(this.clock.now() - this.config.tokens.clockTolerance * 1000);
    await em.nativeUpdate(
      SigningKey,
      { state: 'retired', $or: [{ tokenHorizon: null }, { tokenHorizon: { $lt: cutoff } }] },
      { state: 'expired' },
    );
  }

  /** Loads keys again; a call during a load gets a second load, so a rotation committed meanwhile is seen. */
  reload(): Promise<void> {
    return this.reloader.run();
  }

  /** When the signing key in use became active (ms since the epoch), once loaded. */
  activeKeySince(): number | null {
    return this.activeSince;
  }

  /** How many keys are published or signing, by state. */
  keyCounts(): Record<'next' | 'active' | 'retired', number> {
    const counts = { next: 0, active: 0, retired: 0 };
    for (const key of this.keys.values()) if (key.state !== 'expired') counts[key.state] += 1;
    return counts;
  }

  private async load(): Promise<void> {
    const em = this.orm.em.fork();
    await this.expireRetired(em);
    const rows = await em.find(SigningKey, { state: { $in: ['next', 'active', 'retired'] } }, { orderBy: { createdAt: 'asc' } });
    const keys = new Map<string, LoadedKey>();
    for (const row of rows) {
      const known = this.keys.get(row.kid);
      keys.set(row.kid, {
        kid: row.kid,
        alg: row.alg,
        state: row.state,
        publicJwk: row.publicJwk,
        verifyKey: known?.verifyKey ?? ((await importJWK(row.publicJwk, row.alg)) as CryptoKey),
        tokenHorizon: row.tokenHorizon ? Math.floor(row.tokenHorizon.getTime() / 1000) : 0,
      });
      if (row.state === 'active') this.activeSince = (row.activatedAt ?? row.createdAt).getTime();
      if (row.state === 'active' && this.active?.kid !== row.kid) {
        const pem = this.box.open(row.privateKeySealed, `signing-key:${row.kid}`);
        this.active = { kid: row.kid, alg: row.alg, signKey: await importPKCS8(pem, row.alg) };
      }
    }
    this.keys = keys;
    this.jwksJson = JSON.stringify({ keys: rows.map((r) => publicOnly(r.publicJwk)) });
    this.lastLoad = this.clock.now();
  }

  /** The verification key for a `kid`, reloading once (rate-limited) when the kid is unknown. */
  async verificationKey(kid: string | undefined): Promise<LoadedKey | undefined> {
    if (!kid) return undefined;
    const known = this.keys.get(kid);
    if (known) return known;
    if (this.clock.now() - this.lastLoad > UNKNOWN_KID_RELOAD_MS) await this.reload();
    return this.keys.get(kid);
  }

  jwks(): string {
    return this.jwksJson;
  }

  /**
   * The algorithms of the published keys, the signing key's first: what tokens are signed with now, or will be after a
   * rotation (a change of KEY_ALGORITHM reaches the signing key only through the next key). For discovery's
   * `id_token_signing_alg_values_supported`.
   */
  algorithms(): string[] {
    const algorithms = this.active ? [this.active.alg] : [];
    for (const key of this.keys.values()) if (key.state !== 'expired' && !algorithms.includes(key.alg)) algorithms.push(key.alg);
    return algorithms;
  }

  sign(claims: JWTPayload & { exp: number }, typ: string): Promise<string> {
    const active = this.active;
    if (!active) return Promise.reject(new Error('no active signing key loaded'));
    // Nearly always covered already (one bump an hour): only a bump is waited for, and otherwise the
    // signature's own promise is the only one.
    if ((this.keys.get(active.kid)?.tokenHorizon ?? 0) < claims.exp) {
      return this.coverHorizon(active.kid, claims.exp).then(() => signWith(active, claims, typ));
    }
    return signWith(active, claims, typ);
  }

  /** Records, before signing, that this key must stay published until at least `exp`. */
  private async coverHorizon(kid: string, exp: number): Promise<void> {
    const key = this.keys.get(kid);
    if (key && key.tokenHorizon >= exp) return;
    this.horizonBump ??= (async () => {
      try {
        const horizon = exp + HORIZON_STEP_SECONDS;
        await this.orm.em
          .fork()
          .execute('update signing_keys set token_horizon = greatest(coalesce(token_horizon, to_timestamp(0)), to_timestamp(?)) where kid = ?', [horizon, kid]);
        if (key) key.tokenHorizon = Math.max(key.tokenHorizon, horizon);
      } finally {
        this.horizonBump = undefined;
      }
    })();
    await this.horizonBump;
    // A long-lived token (a service token) may need more than the shared bump covered.
    if ((this.keys.get(kid)?.tokenHorizon ?? 0) < exp) await this.coverHorizon(kid, exp);
  }

  async summaries(): Promise<KeySummary[]> {
    const rows = await this.orm.em.fork().find(SigningKey, {}, { orderBy: { createdAt: 'desc' } });
    return rows.map((r) => ({
      kid: r.kid,
      alg: r.alg,
      state: r.state,
      created_at: r.createdAt.toISOString(),
      activated_at: r.activatedAt?.toISOString() ?? null,
      retired_at: r.retiredAt?.toISOString() ?? null,
      published_until: r.state === 'retired' ? (r.tokenHorizon?.toISOString() ?? null) : null,
      token_horizon: r.tokenHorizon?.toISOString() ?? null,
    }));
  }
}

/** A JWKS never carries private members (RFC 7517 section 5); only the public parameters are kept. */
function publicOnly(jwk: JWK): JWK {
  const { kty, kid, use, alg, n, e, crv, x, y } = jwk;
  return Object.fromEntries(Object.entries({ kty, kid, use, alg, n, e, crv, x, y }).filter(([, v]) => v !== undefined)) as JWK;
}
