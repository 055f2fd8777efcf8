// Request and response shapes of /v1/platform/* (field names exactly as the public contract spells them).
import { Type, type Static } from '@sinclair/typebox';
import { NextCursor, Nullable, stringEnum, Timestamp } from '../http/schemas.js';
import { MIN_PASSWORD_LENGTH } from '../tenancy/service.js';

const ScopeName = Type.String({ minLength: 1, maxLength: 100, pattern: '^[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)*$' });

export const ClientIdParams = Type.Object({ client_id: Type.String({ maxLength: 100 }) });
export type ClientIdParams = Static<typeof ClientIdParams>;

export const ScopeList = Type.Object({
  scopes: Type.Array(Type.Object({ name: Type.String(), description: Type.String() })),
  sandbox: Type.Optional(Type.Literal(true, { description: "Present when the caller's tenant is a sandbox (README \"Sandbox tenants\")" })),
});

export const GrantTypeSchema = stringEnum(['authorization_code', 'client_credentials', 'refresh_token'] as const);

export const NewAppBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
    grant_types: Type.Array(GrantTypeSchema, { minItems: 1, uniqueItems: true }),
    redirect_uris: Type.Array(Type.String({ minLength: 1, maxLength: 2000 }), { maxItems: 20, uniqueItems: true, default: [] }),
    post_logout_redirect_uris: Type.Array(Type.String({ minLength: 1, maxLength: 2000 }), {
      maxItems: 20,
      uniqueItems: true,
      default: [],
      description: 'Where OpenID Connect RP-initiated logout may send the user back to (exact match); authorization_code apps only',
    }),
    requested_scopes: Type.Array(ScopeName, { minItems: 1, maxItems: 50, uniqueItems: true }),
    token_endpoint_auth_method: Type.Optional(
      stringEnum(['client_secret_basic', 'client_secret_post', 'none'] as const, {
        description: 'RFC 7591: `none` registers a public client (no secret; PKCE required)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type NewAppBody = Static<typeof NewAppBody>;

export const Governance = Type.Object({
  allow_service_tokens: Type.Boolean(),
  enforce_pkce: Type.Boolean(),
  access_token_ttl: Type.Integer({ description: 'Lifetime cap, in seconds, of access tokens issued to the app' }),
  service_token_max_ttl: Type.Integer({ description: 'Longest lifetime, in seconds, of a service token minted for the app' }),
});

export const AppView = Type.Object({
  client_id: Type.String(),
  name: Type.String(),
  tenant_id: Type.String(),
  grant_types: Type.Array(Type.String()),
  redirect_uris: Type.Array(Type.String()),
  post_logout_redirect_uris: Type.Array(Type.String()),
  requested_scopes: Type.Array(Type.String()),
  token_endpoint_auth_method: Type.String(),
  governance: Governance,
  status: stringEnum(['active', 'suspended'] as const, { description: 'suspended: no token is issued, every token of the app is refused, its webhook deliveries are held' }),
  suspended_at: Nullable(Timestamp),
  suspended_reason: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});

/** What a registration set, each optional; at least one. */
export const AppPatchBody = Type.Object(
  {
    name: Type.Optional(NewAppBody.properties.name),
    grant_types: Type.Optional(NewAppBody.properties.grant_types),
    redirect_uris: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 2000 }), { maxItems: 20, uniqueItems: true })),
    post_logout_redirect_uris: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 2000 }), { maxItems: 20, uniqueItems: true, description: NewAppBody.properties.post_logout_redirect_uris.description }),
    ),
    requested_scopes: Type.Optional(NewAppBody.properties.requested_scopes),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type AppPatchBody = Static<typeof AppPatchBody>;

/** Optional: a POST without a body suspends with no reason. */
export const SuspendBody = Type.Object(
  { reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Why, for the audit log and the app view' })) },
  { additionalProperties: false },
);
export type SuspendBody = Static<typeof SuspendBody>;

export const TenantParams = Type.Object({ tenant_id: Type.String({ maxLength: 100 }) });

export const TenantScopesBody = Type.Object(
  { scopes: Type.Array(ScopeName, { maxItems: 50, uniqueItems: true, description: 'Published scopes the tenant may use' }) },
  { additionalProperties: false },
);

export const TenantScopesView = Type.Object({
  tenant_id: Type.String(),
  scopes: Type.Array(Type.String()),
  restricted: Type.Boolean({ description: 'false: the tenant may use every published scope, those published later too' }),
});

export const CreatedApp = Type.Composite([
  AppView,
  Type.Object({
    client_secret: Type.Optional(Type.String({ description: 'Shown once; absent for public clients' })),
  }),
]);

export const AppList = Type.Object({ apps: Type.Array(AppView), next_cursor: NextCursor });

export const GovernancePatch = Type.Object(
  {
    allow_service_tokens: Type.Optional(Type.Boolean()),
    enforce_pkce: Type.Optional(Type.Boolean()),
    access_token_ttl: Type.Optional(Type.Integer({ minimum: 60 })),
    service_token_max_ttl: Type.Optional(Type.Integer({ minimum: 60 })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type GovernancePatch = Static<typeof GovernancePatch>;

export const GovernanceView = Type.Object({ client_id: Type.String(), governance: Governance });

/** Optional: a POST without a body rotates with the default grace period. */
export const RotateSecretBody = Type.Object(
  {
    grace_period_seconds: Type.Optional(
      Type.Integer({ minimum: 0, description: 'How long the previous secret keeps working; 0 revokes it now. Default 86400.' }),
    ),
  },
  { additionalProperties: false },
);
export type RotateSecretBody = Static<typeof RotateSecretBody>;

export const RotatedSecret = Type.Object({
  client_id: Type.String(),
  client_secret: Type.String({ description: 'Shown once' }),
  previous_secret_expires_at: Type.Union([Timestamp, Type.Null()], {
    description: 'Until when the previous secret keeps working; null when there was none',
  }),
});

export const ServiceTokenBody = Type.Object(
  {
    scopes: Type.Array(ScopeName, { minItems: 1, maxItems: 50, uniqueItems: true }),
    expires_in: Type.Optional(Type.Integer({ minimum: 60, description: 'Seconds; at most governance.service_token_max_ttl' })),
  },
  { additionalProperties: false },
);
export type ServiceTokenBody = Static<typeof ServiceTokenBody>;

export const MintedServiceToken = Type.Object({
  id: Type.String(),
  token: Type.String(),
  token_type: Type.Literal('Bearer'),
  scopes: Type.Array(Type.String()),
  expires_at: Timestamp,
});

export const ServiceTokenView = Type.Object({
  id: Type.String(),
  client_id: Type.String(),
  scopes: Type.Array(Type.String()),
  status: stringEnum(['active', 'revoked', 'expired'] as const),
  created_by: Type.String(),
  created_at: Timestamp,
  expires_at: Timestamp,
  revoked_at: Type.Union([Timestamp, Type.Null()]),
});

export const ServiceTokenList = Type.Object({
  service_tokens: Type.Array(ServiceTokenView),
  next_cursor: NextCursor,
});

export const ServiceTokenParams = Type.Object({ client_id: Type.String({ maxLength: 100 }), token_id: Type.String({ maxLength: 100 }) });
export type ServiceTokenParams = Static<typeof ServiceTokenParams>;

export const UserView = Type.Object({
  id: Type.String(),
  email: Type.String(),
  roles: Type.Array(Type.String()),
  mfa_enabled: Type.Boolean({ description: 'Whether the user has a TOTP authenticator (README "MFA")' }),
  created_at: Timestamp,
});

export const NewUserBody = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 320 }),
    password: Type.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 }),
    roles: Type.Array(stringEnum(['admin', 'member'] as const), { uniqueItems: true, default: ['member'] }),
  },
  { additionalProperties: false },
);

export const UserList = Type.Object({ users: Type.Array(UserView), next_cursor: NextCursor });

export const UserParams = Type.Object({ user_id: Type.String({ maxLength: 100 }) });

const MfaPolicy = stringEnum(['none', 'admins', 'everyone'] as const, {
  description: 'Who must confirm a TOTP code after the password: nobody, users with the admin role, or every local user',
});

/** The caller's tenant and its sign-in policy (README "MFA"). */
export const TenantView = Type.Object({
  id: Type.String(),
  slug: Type.String(),
  name: Type.String(),
  sandbox: Type.Boolean(),
  mfa_required: MfaPolicy,
  federation_required: Type.Boolean({ description: "Local passwords off: users sign in through one of the tenant's identity providers" }),
});

export const SignInPolicyBody = Type.Object(
  { mfa_required: Type.Optional(MfaPolicy), federation_required: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

export const AuditQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
    action: Type.Optional(Type.String({ maxLength: 100 })),
    target_id: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const AuditEventList = Type.Object({
  events: Type.Array(
    Type.Object({
      id: Type.String(),
      actor: Type.String(),
      action: Type.String(),
      target_type: Type.String(),
      target_id: Type.String(),
      details: Type.Record(Type.String(), Type.Unknown()),
      created_at: Timestamp,
    }),
  ),
  next_cursor: NextCursor,
});
