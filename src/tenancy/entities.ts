import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export type MfaPolicy = 'none' | 'admins' | 'everyone';

export const Tenant = defineEntity({
  name: 'Tenant',
  tableName: 'tenants',
  properties: {
    id: p.string().primary(),
    slug: p.string().unique(),
    name: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** A sandbox tenant (README "Sandbox tenants"): its tokens say so, it has its own limits, and it expires. */
    sandbox: p.boolean().default(false),
    /** A sandbox's end: from then on every token of the tenant is refused. Null for a production tenant. */
    expiresAt: p.datetime().nullable(),
    /** When the sweep disabled the expired sandbox; it is removed once past the grace period after expiresAt. */
    disabledAt: p.datetime().nullable(),
    /** The tenant whose approved integration request made this sandbox; null when an operator made it directly. */
    parentTenantId: p.string().nullable(),
    /** Who must confirm a TOTP code after the password: nobody, the tenant's admins, or every local user. */
    mfaRequired: p.string().$type<MfaPolicy>().default('none'),
    /** Local passwords off: the tenant's users sign in through one of its identity providers only. */
    federationRequired: p.boolean().default(false),
    /** The operators' tenant: its users with the role `operator` act across tenants (README "Console"). One at most. */
    operators: p.boolean().default(false),
  },
});
export type Tenant = InferEntity<typeof Tenant>;

export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    email: p.string(),
    passwordHash: p.string().hidden(),
    roles: p.json<string[]>(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type User = InferEntity<typeof User>;

/** A user's TOTP authenticator (RFC 6238), confirmed with a code at enrolment (README "MFA"). */
export const UserTotp = defineEntity({
  name: 'UserTotp',
  tableName: 'user_totp',
  properties: {
    userId: p.string().primary(),
    tenantId: p.string(),
    /** The base32 secret, sealed with the SecretBox for this user: never shown again after enrolment. */
    secretSealed: p.text().hidden(),
    /** The time step of the last accepted code: a code of that step or an earlier one is a replay (RFC 6238 section 5.2). */
    lastStep: p.bigint('number').nullable(),
    enabledAt: p.datetime(),
  },
});
export type UserTotp = InferEntity<typeof UserTotp>;

/** A one-time recovery code, for when the authenticator is lost: shown once at enrolment, stored hashed, used once. */
export const UserRecoveryCode = defineEntity({
  name: 'UserRecoveryCode',
  tableName: 'user_recovery_codes',
  properties: {
    /** SHA-256 of the user id and the normalised code. */
    id: p.string().primary(),
    tenantId: p.string(),
    userId: p.string(),
    createdAt: p.datetime(),
    usedAt: p.datetime().nullable(),
  },
});
export type UserRecoveryCode = InferEntity<typeof UserRecoveryCode>;
