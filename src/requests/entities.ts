import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const REQUEST_KINDS = ['bundle', 'scopes', 'federation', 'sandbox', 'platform_access'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];
export const REQUEST_STATUSES = ['pending', 'approved', 'denied'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** What a tenant admin or an app asked the operators for (README "Integration requests"), and what they decided. */
export const IntegrationRequest = defineEntity({
  name: 'IntegrationRequest',
  tableName: 'integration_requests',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    /** The token's subject: a user id (a tenant admin, or a user through an app), or the app's client id. */
    requestedBy: p.string(),
    /** The app that asked for itself; null when a tenant admin asked. */
    requesterClientId: p.string().nullable(),
    kind: p.string().$type<RequestKind>(),
    /** The kind's own fields, checked when the request was made (kinds.ts). */
    details: p.json<Record<string, unknown>>(),
    justification: p.text(),
    status: p.string().$type<RequestStatus>().default('pending'),
    decisionNote: p.text().nullable(),
    decidedBy: p.string().nullable(),
    decidedAt: p.datetime().nullable(),
    /** What the approval did (the bundle assigned, the scopes now, the sandbox made); null until then, and when denied. */
    result: p.json<Record<string, unknown>>().nullable(),
    createdAt: p.datetime(),
  },
});
export type IntegrationRequest = InferEntity<typeof IntegrationRequest>;
