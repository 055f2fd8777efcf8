// Request and response shapes of the integration requests, public (/v1/platform/integration-requests) and the
// operators' (/api/v1/platform/integration-requests), and how a request is shown.
import { Type, type Static } from '@sinclair/typebox';
import { NextCursor, Nullable, stringEnum, Timestamp } from '../http/schemas.js';
import { isoSeconds } from '../http/pagination.js';
import { REQUEST_KINDS, REQUEST_STATUSES, type IntegrationRequest } from './entities.js';

const ScopeName = Type.String({ minLength: 1, maxLength: 100, pattern: '^[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)*$' });

/** One flat body: `kind`, `justification`, and the kind's own fields (each kind refuses the others' fields). */
export const NewRequestBody = Type.Object(
  {
    kind: stringEnum(REQUEST_KINDS, { description: 'What is asked for' }),
    justification: Type.String({ minLength: 1, maxLength: 2000, description: 'Why: what the integration does with it' }),
    bundle: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'kind bundle: the curated operation bundle wanted' })),
    client_id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: "kind bundle: the app that is to hold it (an app asking names itself, or nothing); required of a tenant admin" }),
    ),
    scopes: Type.Optional(Type.Array(ScopeName, { minItems: 1, maxItems: 50, uniqueItems: true, description: 'kind scopes: published scopes the tenant is to be allowed' })),
    protocol: Type.Optional(stringEnum(['saml', 'oidc'] as const, { description: 'kind federation: the identity provider\'s protocol' })),
    domain: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'kind federation: the domain whose users sign in through it' })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'kind sandbox: the sandbox tenant\'s name' })),
    slug: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'kind sandbox: its slug (default: made from the name)' })),
    admin_email: Type.Optional(Type.String({ minLength: 3, maxLength: 320, description: "kind sandbox: its first admin's email (default: the requesting user's)" })),
    capability: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'kind platform_access: the control-plane capability wanted under /api/v1/platform' })),
  },
  { additionalProperties: false },
);
export type NewRequestBody = Static<typeof NewRequestBody>;

const StatusQuery = { status: Type.Optional(stringEnum(REQUEST_STATUSES)) };
const Paging = { limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Type.String({ maxLength: 500 })) };

export const RequestQuery = Type.Object({ ...Paging, ...StatusQuery }, { additionalProperties: false });
export const OperatorRequestQuery = Type.Object({ ...Paging, ...StatusQuery, tenant_id: Type.Optional(Type.String({ maxLength: 100 })) }, { additionalProperties: false });

export const RequestParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

export const ApproveBody = Type.Object({ note: Type.Optional(Type.String({ maxLength: 2000, description: 'For the requester: what to do next' })) }, { additionalProperties: false });
export const DenyBody = Type.Object({ note: Type.String({ minLength: 1, maxLength: 2000, description: 'Why: told to the requester' }) }, { additionalProperties: false });

const FreeObject = Type.Record(Type.String(), Type.Unknown());

export const RequestView = Type.Object({
  id: Type.String(),
  tenant_id: Type.String(),
  kind: stringEnum(REQUEST_KINDS),
  status: stringEnum(REQUEST_STATUSES),
  details: FreeObject,
  justification: Type.String(),
  requested_by: Type.String({ description: 'The user id, or the client id of the app, that asked' }),
  requester_client_id: Nullable(Type.String({ description: 'The app that asked for itself; null when a tenant admin asked' })),
  decision_note: Nullable(Type.String()),
  decided_by: Nullable(Type.String()),
  decided_at: Nullable(Timestamp),
  result: Nullable(FreeObject),
  created_at: Timestamp,
});

export const RequestList = Type.Object({ integration_requests: Type.Array(RequestView), next_cursor: NextCursor });

export const SandboxCredentials = Type.Object({
  tenant_id: Type.String(),
  tenant_slug: Type.String(),
  admin_user_id: Type.String(),
  admin_email: Type.String(),
  admin_password: Type.String({ description: 'Shown once' }),
  admin_access_token: Type.String(),
  expires_at: Type.String({ format: 'date-time' }),
});

export function requestView(request: IntegrationRequest) {
  return {
    id: request.id,
    tenant_id: request.tenantId,
    kind: request.kind,
    status: request.status,
    details: request.details,
    justification: request.justification,
    requested_by: request.requestedBy,
    requester_client_id: request.requesterClientId ?? null,
    decision_note: request.decisionNote ?? null,
    decided_by: request.decidedBy ?? null,
    decided_at: isoSeconds(request.decidedAt),
    result: request.result ?? null,
    created_at: isoSeconds(request.createdAt),
  };
}
