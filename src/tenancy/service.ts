// Tenants and their users. Passwords are hashed with argon2id (the library's default: m=19 MiB, t=2, p=1, the
// OWASP minimum), never stored or logged in the clear. Other modules read users through this service only.
import type { EntityManager } from '@mikro-orm/postgresql';
import { hash, verify } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';
import type { AuditService } from '../audit/service.js';
import { Conflict, InvalidRequest, NotFound } from '../errors.js';
import { afterCursor, decodeCursor, toPage, type Page } from '../http/pagination.js';
import { newId } from '../ids.js';
import { Tenant, User } from './entities.js';

export type { Tenant, User } from './entities.js';

export const TENANT_SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const MIN_PASSWORD_LENGTH = 12;

export type Role = 'admin' | 'member';

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

/** Everything wrong with a new tenant, worded for the CLI's options. */
export function checkNewTenant(input: NewTenant): string[] {
  const problems: string[] = [];
  if (!TENANT_SLUG.test(input.slug)) problems.push('--tenant must be 2-63 lowercase letters, digits or dashes, starting with a letter or digit');
  if (!input.name.trim()) problems.push('--name must not be empty');
  if (!EMAIL.test(input.adminEmail)) problems.push('--admin-email must be an email address');
  if (input.adminPassword.length < MIN_PASSWORD_LENGTH) problems.push(`--admin-password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  return problems;
}

export class TenancyService {
  /** A well-formed argon2id hash of nothing in particular: an unknown email costs the same time as a known one. */
  private dummyHash?: Promise<string>;

  constructor(private readonly audit: AuditService) {}

  /** Creates a tenant and its first admin in one transaction: both exist afterwards, or neither. */
  async bootstrap(em: EntityManager, input: NewTenant, actor: string): Promise<{ tenant: Tenant; user: User }> {
    const problems = checkNewTenant(input);
    if (problems.length) throw new InvalidRequest(problems.join('; '));
    const passwordHash = await hash(input.adminPassword);
    return em.transactional(async (tx) => {
      if (await tx.findOne(Tenant, { slug: input.slug })) throw new Conflict(`a tenant with slug ${input.slug} already exists`);
      const tenant = tx.create(Tenant, { id: newId('ten'), slug: input.slug, name: input.name.trim() });
      const user = tx.create(User, { id: newId('usr'), tenantId: tenant.id, email: input.adminEmail.toLowerCase(), passwordHash, roles: ['admin'] });
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
}
