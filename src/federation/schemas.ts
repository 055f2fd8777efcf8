// Request and response shapes of /v1/platform/identity-providers (snake_case, as every REST route).
import { Type, type Static } from '@sinclair/typebox';
import { NextCursor, Nullable, stringEnum, Timestamp } from '../http/schemas.js';

const Role = stringEnum(['admin', 'member'] as const);
const Url = Type.String({ minLength: 1, maxLength: 2000 });
const Domain = Type.String({ minLength: 1, maxLength: 253 });

export const RoleMappingSchema = Type.Object(
  {
    claim: Type.String({ minLength: 1, maxLength: 200, description: 'The OIDC claim or SAML attribute (Name) whose values decide the roles, e.g. `groups`' }),
    values: Type.Record(Type.String({ minLength: 1, maxLength: 200 }), Role, { description: 'A value of the claim -> the role it gives (`admin` or `member`)' }),
    default_role: Type.Optional(
      Nullable(stringEnum(['admin', 'member'] as const, { description: 'The role of a user with none of the values (default `member`); null refuses them' })),
    ),
  },
  { additionalProperties: false },
);

const common = {
  name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S', description: 'Shown on the hosted login page: "Sign in with <name>"' }),
  enabled: Type.Boolean({ description: 'Offered on the login page and accepted at its endpoints; default true' }),
  email_domains: Type.Array(Domain, { maxItems: 50, uniqueItems: true, description: 'Emails of these domains go to this provider (home-realm discovery); one provider per domain in a tenant' }),
  role_mapping: Nullable(RoleMappingSchema),
  // OpenID Connect
  issuer: Url,
  client_id: Type.String({ minLength: 1, maxLength: 500 }),
  client_secret: Type.String({ minLength: 1, maxLength: 2000, description: 'Stored sealed, never answered' }),
  scopes: Type.Array(Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$' }), { maxItems: 20, uniqueItems: true }),
  // SAML 2.0
  metadata_xml: Type.String({ minLength: 1, maxLength: 200_000, description: "The IdP's metadata: its entity id, HTTP-Redirect SSO URL and signing certificates are read from it" }),
  entity_id: Type.String({ minLength: 1, maxLength: 1024 }),
  sso_url: Url,
  certificates: Type.Array(Type.String({ minLength: 1, maxLength: 20_000 }), { minItems: 1, maxItems: 5, description: 'Signing certificates, PEM or base64 DER' }),
  allow_idp_initiated: Type.Boolean({ description: 'Accept unsolicited responses (IdP-initiated sign-in); default false' }),
};

const opt = <T extends Record<string, import('@sinclair/typebox').TSchema>>(fields: T) =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, Type.Optional(v)])) as { [K in keyof T]: import('@sinclair/typebox').TOptional<T[K]> };

export const NewProviderBody = Type.Object(
  { protocol: stringEnum(['saml', 'oidc'] as const), ...opt(common), name: common.name },
  { additionalProperties: false },
);
export type NewProviderBody = Static<typeof NewProviderBody>;

export const ProviderPatchBody = Type.Object(opt(common), { additionalProperties: false, minProperties: 1 });
export type ProviderPatchBody = Static<typeof ProviderPatchBody>;

export const ProviderParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

const RoleMappingView = Type.Object({ claim: Type.String(), values: Type.Record(Type.String(), Type.String()), default_role: Nullable(Type.String()) });

export const ProviderView = Type.Object({
  id: Type.String(),
  protocol: Type.String(),
  name: Type.String(),
  enabled: Type.Boolean(),
  email_domains: Type.Array(Type.String()),
  role_mapping: Nullable(RoleMappingView),
  issuer: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  scopes: Type.Optional(Type.Array(Type.String())),
  redirect_uri: Type.Optional(Type.String({ description: 'Register this redirect URI with the OpenID provider' })),
  entity_id: Type.Optional(Type.String()),
  sso_url: Type.Optional(Type.String()),
  certificates: Type.Optional(Type.Array(Type.String())),
  allow_idp_initiated: Type.Optional(Type.Boolean()),
  sp_entity_id: Type.Optional(Type.String({ description: "This tenant's SAML service provider: give it to the IdP with the ACS URL" })),
  acs_url: Type.Optional(Type.String()),
  sp_metadata_url: Type.Optional(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const ProviderList = Type.Object({ identity_providers: Type.Array(ProviderView), next_cursor: NextCursor });
