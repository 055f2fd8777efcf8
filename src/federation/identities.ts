// Who a federated sign-in is, in the tenant: the provider's subject (SAML NameID, OIDC `sub`) is linked to one user
// of the tenant. The first sign-in links it: to the user with the same email when the provider answers for that email's
// domain (its `email_domains`: an IdP that holds a domain may speak for its addresses, and no other may take over an
// account), or to a new user made just in time (through the tenancy service, which owns users). Each sign-in applies
// the provider's role mapping, when it has one; without one, roles are the tenant admin's to set, and a new user is a
// member.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../clock.js';
import { AccessDenied } from '../errors.js';
import type { Role, TenancyService, User } from '../tenancy/service.js';
import { FederatedIdentity, type IdentityProvider, type RoleMapping } from './entities.js';

/** What a verified answer of a provider says of the user. */
export interface FederatedProfile {
  subject: string;
  email: string | null;
  /** False when the provider says the email is not verified (OIDC `email_verified: false`). */
  emailVerified: boolean;
  /** Claims (OIDC) or attributes (SAML), for the role mapping. */
  claims: Record<string, unknown>;
}

/** The roles a user's claim values give, or null when the mapping gives none and refuses such users. */
export function mappedRoles(mapping: RoleMapping, claims: Record<string, unknown>): Role[] | null {
  const raw = claims[mapping.claim];
  const values = (Array.isArray(raw) ? raw : raw === undefined || raw === null ? [] : [raw]).map(String);
  const roles = new Set<Role>(values.flatMap((v) => (Object.hasOwn(mapping.values, v) ? [mapping.values[v]!] : [])));
  if (!roles.size) return mapping.defaultRole ? [mapping.defaultRole] : null;
  return [...roles].sort();
}

export class FederatedUsers {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly clock: Clock,
  ) {}

  /** The user this sign-in is, made or updated in `tx` (tenant-bound, the caller's transaction). */
  async resolve(tx: EntityManager, provider: IdentityProvider, profile: FederatedProfile): Promise<User> {
    const actor = `idp:${provider.id}`;
    const details = { provider_id: provider.id, protocol: provider.protocol };
    const roles = provider.roleMapping ? mappedRoles(provider.roleMapping, profile.claims) : null;
    if (provider.roleMapping && !roles) {
      throw new AccessDenied(`Your account at ${provider.name} has none of the ${provider.roleMapping.claim} values that give access here. Ask your administrator.`);
    }
    const now = new Date(this.clock.now());
    const link = await tx.findOne(FederatedIdentity, { providerId: provider.id, subject: profile.subject });
    const linked = link ? await this.tenancy.user(tx, link.userId) : null;
    if (link && linked) {
      link.lastSignInAt = now;
      return roles ? this.tenancy.setRoles(tx, linked, roles, actor, details) : linked;
    }
    if (link) tx.remove(link);

    const email = profile.email?.trim().toLowerCase();
    if (!email) throw new AccessDenied(`${provider.name} did not say your email address, which this service signs you in by. Ask your administrator.`);
    if (!profile.emailVerified) throw new AccessDenied(`${provider.name} says your email address ${email} is not verified.`);
    const domain = email.split('@')[1] ?? '';
    const authoritative = provider.emailDomains.includes(domain);
    if (provider.emailDomains.length && !authoritative) {
      throw new AccessDenied(`${provider.name} signs in addresses of ${provider.emailDomains.join(', ')} only, not ${email}.`);
    }
    const existing = await this.tenancy.userByEmail(tx, email);
    if (existing && !authoritative) {
      throw new AccessDenied(`An account for ${email} already exists here, and ${provider.name} does not hold its domain: ask your administrator to link it.`);
    }
    const user = existing
      ? roles
        ? await this.tenancy.setRoles(tx, existing, roles, actor, details)
        : existing
      : await this.tenancy.provisionUser(tx, provider.tenantId, { email, roles: roles ?? ['member'] }, actor, details);
    tx.create(FederatedIdentity, { tenantId: provider.tenantId, providerId: provider.id, subject: profile.subject, userId: user.id, createdAt: now, lastSignInAt: now });
    return user;
  }
}
