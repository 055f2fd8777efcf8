import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const INCIDENT_STATUSES = ['OPEN', 'INVESTIGATING', 'MITIGATED', 'RESOLVED', 'CLOSED'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];
export const INCIDENT_SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4'] as const;
export type IncidentSeverity = (typeof INCIDENT_SEVERITIES)[number];

export const Incident = defineEntity({
  name: 'Incident',
  tableName: 'incidents',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    /** Per-tenant sequence: INC-1, INC-2, ... in each tenant. */
    number: p.integer(),
    title: p.string(),
    summary: p.text(),
    status: p.string().$type<IncidentStatus>(),
    severity: p.string().$type<IncidentSeverity>(),
    labels: p.json<string[]>(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    closedAt: p.datetime().nullable(),
  },
});
export type Incident = InferEntity<typeof Incident>;

export const IncidentNote = defineEntity({
  name: 'IncidentNote',
  tableName: 'incident_notes',
  properties: {
    id: p.string().primary(),
    tenantId: p.string(),
    incidentId: p.string(),
    /** The token's subject: a user id, or the client id of a machine. */
    author: p.string(),
    body: p.text(),
    createdAt: p.datetime(),
  },
});
export type IncidentNote = InferEntity<typeof IncidentNote>;
