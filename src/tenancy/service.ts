// Tenants and their users. Passwords are hashed with argon2id (the library's default: m=19 MiB, t=2, p=1, the
// OWASP minimum), never stored or logged in the clear. Other modules read users through this service only.
//
// A tenant may be a sandbox (README "Sandbox tenants"): it expires, and from then on every token of it is refused
// (`admit`, part of the token admission); a sweep disables it and, after a grace period, removes its row, which takes
// every tenant-owned row with it (foreign keys on delete cascade). How each tenant stands is kept in memory, so that
// admitting a token costs no query; a change NOTIFYs every process, which drops its copy.
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { hash, verify } from '@node-rs/argon2';
import { LRUCache } from 'lru-cache';
import { randomBytes } from 'node:crypto';
import type { AuditService } from '../audit/service.js';
import type { Clock } from '../clock.js';
import { Conflict, InvalidRequest, NotFound, Unauthorized, type FieldProblem } from '../errors.js';
import { forTenant } from '../db/tenant.js';
import { afterCursor, decodeCursor, toPage, type Page } from '../http/pagination.js';
import { newId } from '../ids.js';
import type { Principal } from '../keys/tokens.js';
import type { SecretBox } from '../secret-box.js';
import { Tenant, User, type MfaPolicy } from './entities.js';
import { MfaService } from './mfa.js';

export type { MfaPolicy, Tenant, User } from './entities.js';
export type { MfaService } from './mfa.js';

export const TENANT_SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const MIN_PASSWORD_LENGTH = 12;

/** `operator`: only in the operators' tenant (README "Console"); tenant admins give `admin` and `member`. */
export type Role = 'admin' | 'member' | 'operator';

/** NOTIFY channel of a change to a tenant's standing (payload: the tenant id): a sandbox made, expired or removed. */
export const TENANTS_CHANNEL = 'tessera_tenants';

/** How long a process trusts its copy of a tenant's standing without a NOTIFY (a safety net, as elsewhere). */
const STANDING_CACHE_MS = 30_000;
const DAY_MS = 86_400_000;
export const MAX_SANDBOX_TTL_DAYS = 365;
const MAX_TENANT_NAME = 200;

/** What token issuance and admission need to know of a tenant, from memory. */
export interface TenantStanding {
  sandbox: boolean;
  /** When a sandbox's tokens stop working (ms since the epoch); null for a production tenant. */
  expiresAt: number | null;
}

export interface NewSandbox {
  name: string;
  /** Generated from the name when not given. */
  slug?: string;
  adminEmail: string;
  adminPassword: string;
  ttlDays: number;
  /** The tenant whose approved integration request asked for it. */
  parentTenantId?: string | null;
}

/** The names a caller gave a sandbox's fields (`body.name` on REST, `--name` on the CLI), for its error messages. */
export type SandboxFieldNames = Record<'name' | 'slug' | 'adminEmail' | 'ttlDays', string>;

/** A sandbox the sweep disabled or removed. */
export interface SweptSandbox {
  id: string;
  slug: string;
  parentTenantId: string | null;
  expiresAt: Date;
}

export interface NewTenant {
  slug: string;
  name: string;
  adminEmail: string;
  adminPassword: string;
}

export interface NewUser {
  email: string;
  password: string;
  roles: Role[];
}

/** A change to a tenant's sign-in policy (README "MFA"); what is left out stays as it is. */
export interface SignInPolicyChange {
  mfaRequired?: MfaPolicy;
  federationRequired?: boolean;
}

/**
 * Whether a tenant has an identity provider to sign in through: the federation module, built after this one, tells
 * (`useIdentityProviders`), so that federation cannot be required of a tenant whose users would have no way in.
 */
export type IdentityProviderCheck = (em: EntityManager, tenantId: string) => Promise<boolean>;

/** Everything wrong with a new tenant, worded for the CLI's options. */
export function checkNewTenant(input: NewTenant): string[] {
  const problems: string[] = [];
  if (!TENANT_SLUG.test(input.slug)) problems.push('--tenant must be 2-63 lowercase letters, digits or dashes, starting with a letter or digit');
  if (!input.name.trim()) problems.push('--name must not be empty');
  if (!EMAIL.test(input.adminEmail)) problems.push('--admin-email must be an email address');
  if (input.adminPassword.length < MIN_PASSWORD_LENGTH) problems.push(`--admin-password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  return problems;
}

/**
 * Everything wrong with a new sandbox, each naming its field as the caller wrote it. The password is generated, so
 * never wrong; the slug, when not given, is made from the name.
 */
export function checkNewSandbox(input: Omit<NewSandbox, 'adminPassword' | 'parentTenantId'>, names: SandboxFieldNames): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const name = input.name.trim();
  if (!name) problems.push({ path: names.name, problem: 'must not be empty' });
  else if (name.length > MAX_TENANT_NAME) problems.push({ path: names.name, problem: `must be at most ${MAX_TENANT_NAME} characters` });
  if (input.slug !== undefined && !TENANT_SLUG.test(input.slug)) problems.push({ path: names.slug, problem: 'must be 2-63 lowercase letters, digits or dashes, starting with a letter or digit' });
  if (!EMAIL.test(input.adminEmail)) problems.push({ path: names.adminEmail, problem: 'must be an email address' });
  if (!Number.isInteger(input.ttlDays) || input.ttlDays < 1 || input.ttlDays > MAX_SANDBOX_TTL_DAYS) {
    problems.push({ path: names.ttlDays, problem: `must be a whole number of days from 1 to ${MAX_SANDBOX_TTL_DAYS}` });
  }
  return problems;
}

/** A slug for a sandbox named `name`: its words, and a random tail so that two sandboxes of one name do not clash. */
function sandboxSlug(name: string): string {
  const words = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return `${words || 'sandbox'}-${randomBytes(4).toString('hex')}`;
}

export class TenancyService {
  /** A well-formed argon2id hash of nothing in particular: an unknown email costs the same time as a known one. */
  private dummyHash?: Promise<string>;
  /** Each tenant's standing (null: no such tenant), with when it was read; dropped on NOTIFY and after the TTL. */
  private readonly standings = new LRUCache<string, { at: number; standing: TenantStanding | null }>({ max: 10_000 });
  /** Users' second factors: TOTP authenticators and recovery codes (mfa.ts). */
  readonly mfa: MfaService;
  private hasIdentityProvider: IdentityProviderCheck | null = null;

  constructor(
    private readonly audit: AuditService,
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    box: SecretBox,
  ) {
    this.mfa = new MfaService(audit, box, clock);
  }

  /** Called by the federation module when it is built: how to tell whether a tenant has an identity provider. */
  useIdentityProviders(check: IdentityProviderCheck): void {
    this.hasIdentityProvider = check;
  }

  /**
   * A tenant admin sets how the tenant's users sign in: who must confirm a TOTP code after the password, and whether
   * local passwords are off (enforced by the federation module). Federation is refused (409) while the tenant has no
   * identity provider, and so is it where no federation module is there to tell. Audited when anything changes.
   */
  async setSignInPolicy(em: EntityManager, tenantId: string, change: SignInPolicyChange, actor: string): Promise<Tenant> {
    return em.transactional(async (tx) => {
      const tenant = await tx.findOne(Tenant, { id: tenantId });
      if (!tenant) throw new NotFound(`no tenant ${tenantId}`);
      const changes: Record<string, { from: unknown; to: unknown }> = {};
      if (change.mfaRequired !== undefined && change.mfaRequired !== tenant.mfaRequired) {
        changes.mfa_required = { from: tenant.mfaRequired, to: change.mfaRequired };
        tenant.mfaRequired = change.mfaRequired;
      }
      if (change.federationRequired !== undefined && change.federationRequired !== tenant.federationRequired) {
        if (change.federationRequired && !(await this.hasIdentityProvider?.(tx, tenantId))) {
          throw new Conflict('federation_required cannot be true while the tenant has no identity provider: its users would have no way to sign in');
        }
        changes.federation_required = { from: tenant.federationRequired, to: change.federationRequired };
        tenant.federationRequired = change.federationRequired;
      }
      if (Object.keys(changes).length) {
        this.audit.record(tx, { tenantId, actor, action: 'tenant.sign_in_policy_changed', targetType: 'tenant', targetId: tenantId, details: changes });
      }
      return tenant;
    });
  }

  /** Creates a tenant and its first admin in one transaction: both exist afterwards, or neither. */
  async bootstrap(em: EntityManager, input: NewTenant, actor: string): Promise<{ tenant: Tenant; user: User }> {
    const problems = checkNewTenant(input);
    if (problems.length) throw new InvalidRequest(problems.join('; '));
    const passwordHash = await hash(input.adminPassword);
    return em.transactional(async (tx) => {
      const { tenant, user } = await this.createTenant(tx, { slug: input.slug, name: input.name.trim() }, input.adminEmail, passwordHash);
      this.audit.record(tx, {
        tenantId: tenant.id,
        actor,
        action: 'tenant.bootstrapped',
        targetType: 'tenant',
        targetId: tenant.id,
        details: { slug: tenant.slug, admin_user_id: user.id },
      });
      return { tenant, user };
    });
  }

  private async createTenant(tx: EntityManager, fields: Pick<Tenant, 'slug' | 'name'> & Partial<Tenant>, adminEmail: string, passwordHash: string) {
    if (await tx.findOne(Tenant, { slug: fields.slug })) throw new Conflict(`a tenant with slug ${fields.slug} already exists`);
    const tenant = tx.create(Tenant, { id: newId('ten'), ...fields });
    const user = tx.create(User, { id: newId('usr'), tenantId: tenant.id, email: adminEmail.trim().toLowerCase(), passwordHash, roles: ['admin'] });
    return { tenant, user };
  }

  /**
   * A sandbox tenant and its first admin, in `em`'s transaction (the caller's, so that what it adds, such as sample
   * data or the decision of an integration request, commits with it). Refused naming the field, as `names` says.
   * Audited in the sandbox's own log and in the platform's, which keeps the record once the sandbox is removed.
   */
  async createSandbox(em: EntityManager, input: NewSandbox, actor: string, names: SandboxFieldNames): Promise<{ tenant: Tenant; user: User }> {
    const [problem] = checkNewSandbox(input, names);
    if (problem) throw InvalidRequest.field(problem.path, problem.problem);
    const passwordHash = await hash(input.adminPassword);
    const now = this.clock.now();
    const fields = {
      slug: input.slug ?? sandboxSlug(input.name),
      name: input.name.trim(),
      sandbox: true,
      expiresAt: new Date(now + input.ttlDays * DAY_MS),
      disabledAt: null,
      parentTenantId: input.parentTenantId ?? null,
      createdAt: new Date(now),
    };
    return em.transactional(async (tx) => {
      const { tenant, user } = await this.createTenant(tx, fields, input.adminEmail, passwordHash);
      const details = { slug: tenant.slug, name: tenant.name, admin_user_id: user.id, expires_at: tenant.expiresAt!.toISOString(), parent_tenant_id: tenant.parentTenantId };
      this.audit.record(tx, { tenantId: tenant.id, actor, action: 'sandbox.created', targetType: 'tenant', targetId: tenant.id, details });
      this.audit.record(tx, { tenantId: null, actor, action: 'sandbox.created', targetType: 'tenant', targetId: tenant.id, details });
      await this.announce(tx, tenant.id);
      return { tenant, user };
    });
  }

  /**
   * An operator account: a user with the role `operator` in the operators' tenant, made with it the first time (slug
   * `operators`, or the slug given). Operators sign in to the console through that tenant and act across tenants.
   */
  async createOperator(em: EntityManager, input: { email: string; password: string; slug?: string }, actor: string): Promise<{ tenant: Tenant; user: User }> {
    if (!EMAIL.test(input.email)) throw InvalidRequest.field('email', 'must be an email address');
    if (input.password.length < MIN_PASSWORD_LENGTH) throw InvalidRequest.field('password', `must be at least ${MIN_PASSWORD_LENGTH} characters`);
    const passwordHash = await hash(input.password);
    return em.transactional(async (tx) => {
      let tenant = await tx.findOne(Tenant, { operators: true });
      if (!tenant) {
        const slug = input.slug ?? 'operators';
        if (!TENANT_SLUG.test(slug)) throw InvalidRequest.field('slug', 'must be 2-63 lowercase letters, digits or dashes');
        if (await tx.findOne(Tenant, { slug })) throw new Conflict(`a tenant with slug ${slug} already exists: name another slug for the operators' tenant`);
        tenant = tx.create(Tenant, { id: newId('ten'), slug, name: 'Tessera operators', operators: true });
        this.audit.record(tx, { tenantId: null, actor, action: 'tenant.operators_created', targetType: 'tenant', targetId: tenant.id, details: { slug } });
      }
      const email = input.email.trim().toLowerCase();
      if (await tx.findOne(User, { tenantId: tenant.id, email }, { filters: false })) throw new Conflict(`an operator with email ${email} already exists`);
      const user = tx.create(User, { id: newId('usr'), tenantId: tenant.id, email, passwordHash, roles: ['operator'] });
      this.audit.record(tx, { tenantId: null, actor, action: 'operator.created', targetType: 'user', targetId: user.id, details: { email } });
      return { tenant, user };
    });
  }

  /** The operators' tenant, if an operator account was ever made. */
  async operatorsTenant(em: EntityManager): Promise<Tenant | null> {
    return em.findOne(Tenant, { operators: true });
  }

  /** The sandboxes, oldest first (`parentTenantId`: only those an approved request of that tenant made). */
  async listSandboxes(em: EntityManager, limit: number, cursor?: string, parentTenantId?: string): Promise<Page<Tenant>> {
    const where = { sandbox: true, ...(parentTenantId ? { parentTenantId } : {}), ...afterCursor(decodeCursor(cursor)) };
    const rows = await em.find(Tenant, where, { orderBy: { createdAt: 'asc', id: 'asc' }, limit: limit + 1 });
    return toPage(rows, limit);
  }

  /**
   * Every tenant, oldest first, for an operator (README "Console"): production tenants, sandboxes and the operators'
   * tenant; `sandbox` keeps only sandboxes (true) or only the others (false).
   */
  async listTenants(em: EntityManager, limit: number, cursor?: string, sandbox?: boolean): Promise<Page<Tenant>> {
    const where = { ...(sandbox === undefined ? {} : { sandbox }), ...afterCursor(decodeCursor(cursor)) };
    const rows = await em.find(Tenant, where, { orderBy: { createdAt: 'asc', id: 'asc' }, limit: limit + 1 });
    return toPage(rows, limit);
  }

  /** How many users `tenantId` has (an operator's view of a tenant). */
  async countUsers(em: EntityManager, tenantId: string): Promise<number> {
    return forTenant(em, tenantId).count(User, {});
  }

  /** Inside the transaction that changes a tenant's standing: every process drops its copy at commit. */
  private async announce(em: EntityManager, tenantId: string): Promise<void> {
    this.forget(tenantId);
    await em.execute(`select pg_notify('${TENANTS_CHANNEL}', ?)`, [tenantId]);
  }

  /** A change to the tenant's standing, made by any process. */
  forget(tenantId: string): void {
    this.standings.delete(tenantId);
  }

  /** Notifications were lost: whatever changed meanwhile is read again. */
  forgetAll(): void {
    this.standings.clear();
  }

  /** How the tenant stands (null: there is no such tenant, or no longer), from memory when it can. */
  async standing(tenantId: string): Promise<TenantStanding | null> {
    const cached = this.standings.get(tenantId);
    if (cached && this.clock.now() - cached.at <= STANDING_CACHE_MS) return cached.standing;
    const tenant = await this.orm.em.fork().findOne(Tenant, { id: tenantId });
    const standing = tenant ? { sandbox: tenant.sandbox, expiresAt: tenant.expiresAt?.getTime() ?? null } : null;
    this.standings.set(tenantId, { at: this.clock.now(), standing });
    return standing;
  }

  /** Whether a sandbox is past its term: its tokens are refused from that instant, whether or not the sweep has run. */
  hasExpired(standing: TenantStanding): boolean {
    return standing.sandbox && standing.expiresAt !== null && standing.expiresAt <= this.clock.now();
  }

  /** Whether tokens issued for the tenant carry the `sandbox` claim. */
  async isSandbox(tenantId: string): Promise<boolean> {
    return (await this.standing(tenantId))?.sandbox ?? false;
  }

  /**
   * The tenancy's part of admitting a verified token, on every use (keys/tokens.ts TokenAdmission, composed by the
   * platform module): a token of a sandbox past its term, or of a tenant removed, is refused. A token of no tenant
   * (an operator's) stands as it is.
   */
  async admit(principal: Principal): Promise<Principal> {
    if (!principal.tenantId) return principal;
    const standing = await this.standing(principal.tenantId);
    if (!standing) throw new Unauthorized('the tenant this token was issued for no longer exists', 'invalid_token');
    if (this.hasExpired(standing)) throw new Unauthorized('the sandbox tenant has expired', 'invalid_token');
    return principal;
  }

  /**
   * Disables every sandbox past its term not yet disabled, in one transaction; each is audited in its own log and the
   * platform's. Its tokens were already refused (`admit`); this records the moment and says so to every process.
   */
  async disableExpiredSandboxes(em: EntityManager, actor: string): Promise<SweptSandbox[]> {
    const now = new Date(this.clock.now());
    return em.transactional(async (tx) => {
      const rows = await tx.execute<SandboxRow[]>(
        `update tenants set disabled_at = ? where sandbox and disabled_at is null and expires_at <= ? returning id, slug, parent_tenant_id, expires_at`,
        [now, now],
      );
      const swept = rows.map(sweptOf);
      for (const sandbox of swept) {
        const details = { slug: sandbox.slug, expires_at: sandbox.expiresAt.toISOString(), disabled_at: now.toISOString() };
        this.audit.record(tx, { tenantId: sandbox.id, actor, action: 'sandbox.expired', targetType: 'tenant', targetId: sandbox.id, details });
        this.audit.record(tx, { tenantId: null, actor, action: 'sandbox.expired', targetType: 'tenant', targetId: sandbox.id, details });
        await this.announce(tx, sandbox.id);
      }
      return swept;
    });
  }

  /**
   * Removes every sandbox whose term ended `graceDays` ago or more: its row goes, and with it every row of the
   * tenant (apps, users, incidents, webhooks, audit log...: each tenant-owned table refers to tenants on delete
   * cascade). The platform's audit log keeps the record.
   */
  async removeExpiredSandboxes(em: EntityManager, graceDays: number, actor: string): Promise<SweptSandbox[]> {
    const before = new Date(this.clock.now() - graceDays * DAY_MS);
    return em.transactional(async (tx) => {
      const rows = await tx.execute<Array<SandboxRow & { name: string; created_at: Date | string; disabled_at: Date | string | null }>>(
        `delete from tenants where sandbox and expires_at <= ? returning id, slug, name, parent_tenant_id, created_at, expires_at, disabled_at`,
        [before],
      );
      for (const row of rows) {
        const details = {
          slug: row.slug,
          name: row.name,
          parent_tenant_id: row.parent_tenant_id,
          created_at: new Date(row.created_at).toISOString(),
          expires_at: new Date(row.expires_at).toISOString(),
          disabled_at: row.disabled_at === null ? null : new Date(row.disabled_at).toISOString(),
          removed_after_days: graceDays,
        };
        this.audit.record(tx, { tenantId: null, actor, action: 'sandbox.removed', targetType: 'tenant', targetId: row.id, details });
        await this.announce(tx, row.id);
      }
      return rows.map(sweptOf);
    });
  }

  /** A tenant by id, for an operator's route that names one. */
  async tenant(em: EntityManager, id: string): Promise<Tenant | null> {
    return em.findOne(Tenant, { id });
  }

  /** A tenant by slug, for the CLI. */
  async tenantBySlug(em: EntityManager, slug: string): Promise<Tenant | null> {
    return em.findOne(Tenant, { slug });
  }

  /** A tenant's user by email, for minting tokens from the CLI (no tenant context exists yet there). */
  async findTenantUser(em: EntityManager, slug: string, email: string): Promise<{ tenant: Tenant; user: User }> {
    const tenant = await em.findOne(Tenant, { slug });
    if (!tenant) throw new NotFound(`no tenant with slug ${slug}`);
    const user = await em.findOne(User, { tenantId: tenant.id, email: email.toLowerCase() }, { filters: false });
    if (!user) throw new NotFound(`no user ${email} in tenant ${slug}`);
    return { tenant, user };
  }

  /** A tenant admin adds a user who can then sign in on the hosted login page. */
  async createUser(em: EntityManager, tenantId: string, actor: string, input: NewUser): Promise<User> {
    if (!EMAIL.test(input.email)) throw InvalidRequest.field('body.email', 'must be an email address');
    if (input.password.length < MIN_PASSWORD_LENGTH) throw InvalidRequest.field('body.password', `must be at least ${MIN_PASSWORD_LENGTH} characters`);
    const email = input.email.trim().toLowerCase();
    const passwordHash = await hash(input.password);
    return em.transactional(async (tx) => {
      if (await tx.findOne(User, { tenantId, email })) throw new Conflict(`a user with email ${email} already exists in this tenant`);
      const user = tx.create(User, { id: newId('usr'), tenantId, email, passwordHash, roles: input.roles });
      this.audit.record(tx, { tenantId, actor, action: 'user.created', targetType: 'user', targetId: user.id, details: { email, roles: input.roles } });
      return user;
    });
  }

  /** The users of `em`'s tenant, oldest first. */
  async listUsers(em: EntityManager, limit: number, cursor?: string): Promise<Page<User>> {
    const rows = await em.find(User, afterCursor(decodeCursor(cursor)), { orderBy: { createdAt: 'asc', id: 'asc' }, limit: limit + 1 });
    return toPage(rows, limit);
  }

  /** A user of `em`'s tenant. */
  async user(em: EntityManager, id: string): Promise<User | null> {
    return em.findOne(User, { id });
  }

  /**
   * Gives a user of `tenantId` a new password (a sandbox admin's, handed over once to whoever asked for the sandbox);
   * audited in that tenant's log.
   */
  async setPassword(em: EntityManager, tenantId: string, userId: string, password: string, actor: string): Promise<User> {
    if (password.length < MIN_PASSWORD_LENGTH) throw new InvalidRequest(`a password must be at least ${MIN_PASSWORD_LENGTH} characters`);
    const passwordHash = await hash(password);
    return em.transactional(async (tx) => {
      const user = await tx.findOne(User, { id: userId, tenantId }, { filters: false });
      if (!user) throw new NotFound(`no user ${userId} in tenant ${tenantId}`);
      user.passwordHash = passwordHash;
      this.audit.record(tx, { tenantId, actor, action: 'user.password_set', targetType: 'user', targetId: user.id, details: { email: user.email } });
      return user;
    });
  }

  /**
   * The user of `em`'s tenant with this email and password, or null; an unknown email takes as long as a wrong
   * password, so the answer's timing does not tell which emails exist.
   */
  async checkCredentials(em: EntityManager, email: string, password: string): Promise<User | null> {
    const user = await em.findOne(User, { email: email.trim().toLowerCase() });
    if (!user) {
      await verify(await (this.dummyHash ??= hash(randomBytes(16).toString('hex'))), password);
      return null;
    }
    return (await verify(user.passwordHash, password)) ? user : null;
  }

  /** The user of `em`'s tenant with this email, or null (federation links a first sign-in to an existing account). */
  async userByEmail(em: EntityManager, email: string): Promise<User | null> {
    return em.findOne(User, { email: email.trim().toLowerCase() });
  }

  /**
   * A user made at their first sign-in through an identity provider (just-in-time provisioning), in the caller's
   * transaction (`em`'s, flushed by the caller): its password is the hash of 32 random bytes nobody ever sees, so the
   * account cannot sign in with a password, only through its provider. Audited as `user.provisioned`.
   */
  async provisionUser(em: EntityManager, tenantId: string, input: { email: string; roles: Role[] }, actor: string, details: Record<string, unknown>): Promise<User> {
    const email = input.email.trim().toLowerCase();
    if (!EMAIL.test(email)) throw new InvalidRequest(`${email} is not an email address`);
    if (await em.findOne(User, { tenantId, email })) throw new Conflict(`a user with email ${email} already exists in this tenant`);
    const passwordHash = await hash(randomBytes(32).toString('base64url'));
    const user = em.create(User, { id: newId('usr'), tenantId, email, passwordHash, roles: input.roles });
    this.audit.record(em, { tenantId, actor, action: 'user.provisioned', targetType: 'user', targetId: user.id, details: { email, roles: input.roles, ...details } });
    return user;
  }

  /** Gives a user of `em`'s tenant these roles (an identity provider's role mapping, at each sign-in); audited when they change. */
  async setRoles(em: EntityManager, user: User, roles: Role[], actor: string, details: Record<string, unknown>): Promise<User> {
    const sorted = [...new Set(roles)].sort();
    const before = [...user.roles].sort();
    if (sorted.join(' ') === before.join(' ')) return user;
    user.roles = sorted;
    this.audit.record(em, { tenantId: user.tenantId, actor, action: 'user.roles_changed', targetType: 'user', targetId: user.id, details: { from: before, to: sorted, ...details } });
    return user;
  }
}

/** A row of tenants as the sweep's statements return it. */
interface SandboxRow {
  id: string;
  slug: string;
  parent_tenant_id: string | null;
  expires_at: Date | string;
}

function sweptOf(row: SandboxRow): SweptSandbox {
  return { id: row.id, slug: row.slug, parentTenantId: row.parent_tenant_id, expiresAt: new Date(row.expires_at) };
}
