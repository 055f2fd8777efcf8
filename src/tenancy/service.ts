// Tenants and their users. Passwords are hashed with argon2id (the library's default: m=19 MiB, t=2, p=1,
// the OWASP minimum), never stored or logged in the clear.
import type { EntityManager } from '@mikro-orm/postgresql';
import { hash, verify } from '@node-rs/argon2';
import { recordAudit } from '../audit/service.js';
import { Conflict, InvalidRequest, NotFound } from '../errors.js';
import { newId } from '../ids.js';
import { Tenant, User } from './entities.js';

export const TENANT_SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const MIN_PASSWORD_LENGTH = 12;

export interface NewTenant {
  slug: string;
  name: string;
  adminEmail: string;
  adminPassword: string;
}

export function checkNewTenant(input: NewTenant): string[] {
  const problems: string[] = [];
  if (!TENANT_SLUG.test(input.slug)) problems.push('--tenant must be 2-63 lowercase letters, digits or dashes, starting with a letter or digit');
  if (!input.name.trim()) problems.push('--name must not be empty');
  if (!EMAIL.test(input.adminEmail)) problems.push('--admin-email must be an email address');
  if (input.adminPassword.length < MIN_PASSWORD_LENGTH) problems.push(`--admin-password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  return problems;
}

/** Creates a tenant and its first admin in one transaction: both exist afterwards, or neither. */
export async function bootstrapTenant(em: EntityManager, input: NewTenant, actor: string): Promise<{ tenant: Tenant; user: User }> {
  const problems = checkNewTenant(input);
  if (problems.length) throw new InvalidRequest(problems.join('; '));
  const passwordHash = await hash(input.adminPassword);
  return em.transactional(async (tx) => {
    if (await tx.findOne(Tenant, { slug: input.slug })) throw new Conflict(`a tenant with slug ${input.slug} already exists`);
    const tenant = tx.create(Tenant, { id: newId('ten'), slug: input.slug, name: input.name.trim() });
    const user = tx.create(User, {
      id: newId('usr'),
      tenantId: tenant.id,
      email: input.adminEmail.toLowerCase(),
      passwordHash,
      roles: ['admin'],
    });
    recordAudit(tx, {
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

/** A tenant's user by email, for minting tokens from the CLI (no tenant context exists yet there). */
export async function findTenantUser(em: EntityManager, slug: string, email: string): Promise<{ tenant: Tenant; user: User }> {
  const tenant = await em.findOne(Tenant, { slug });
  if (!tenant) throw new NotFound(`no tenant with slug ${slug}`);
  const user = await em.findOne(User, { tenantId: tenant.id, email: email.toLowerCase() }, { filters: false });
  if (!user) throw new NotFound(`no user ${email} in tenant ${slug}`);
  return { tenant, user };
}

export async function checkPassword(user: User, password: string): Promise<boolean> {
  return verify(user.passwordHash, password);
}

export type Role = 'admin' | 'member';

/** A tenant admin adds a user who can then sign in on the hosted login page. */
export async function createUser(
  em: EntityManager,
  tenantId: string,
  actor: string,
  input: { email: string; password: string; roles: Role[] },
): Promise<User> {
  if (!EMAIL.test(input.email)) throw new InvalidRequest('body.email must be an email address');
  if (input.password.length < MIN_PASSWORD_LENGTH) throw new InvalidRequest(`body.password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  const email = input.email.trim().toLowerCase();
  const passwordHash = await hash(input.password);
  return em.transactional(async (tx) => {
    if (await tx.findOne(User, { tenantId, email })) throw new Conflict(`a user with email ${email} already exists in this tenant`);
    const user = tx.create(User, { id: newId('usr'), tenantId, email, passwordHash, roles: input.roles });
    recordAudit(tx, { tenantId, actor, action: 'user.created', targetType: 'user', targetId: user.id, details: { email, roles: input.roles } });
    return user;
  });
}
