// The incidents part of the GraphQL schema: types, queries and mutations, each field with its scope.
import type { Result, UserError } from '../errors.js';
import { badUserInput, builder, UserErrorType } from '../graphql/builder.js';
import { INCIDENT_SEVERITIES, INCIDENT_STATUSES, type Incident, type IncidentNote } from './entities.js';
import type { IncidentService } from './service.js';

declare module '../graphql/builder.js' {
  interface GraphQLServices {
    incidents: IncidentService;
  }
}

const READ = { scope: 'incidents:read' };
const WRITE = { scope: 'incidents:write' };
const MAX_PAGE = 100;

const cursorOf = (incident: Incident) => Buffer.from(`incident:${incident.number}`).toString('base64url');
function numberFromCursor(cursor: string | null | undefined): number | null {
  if (!cursor) return null;
  const match = /^incident:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw badUserInput('after is not a cursor this API returned');
  return Number(match[1]);
}

const noteCursorOf = (note: IncidentNote) => Buffer.from(`note:${note.createdAt.toISOString()}:${note.id}`).toString('base64url');
function notePositionFromCursor(cursor: string | null | undefined): { createdAt: Date; id: string } | null {
  if (!cursor) return null;
  const match = /^note:([\dT:.\-]+Z):(note_[A-Za-z0-9_-]+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const createdAt = match ? new Date(match[1]!) : null;
  if (!match || !createdAt || Number.isNaN(createdAt.getTime())) throw badUserInput('after is not a cursor this API returned');
  return { createdAt, id: match[2]! };
}

/** A page size asked of a connection: `first` within 1 and MAX_PAGE, forward only. */
function pageSize(args: { first?: number | null; last?: number | null }, fallback: number): number {
  const first = args.first ?? fallback;
  if (first < 1 || first > MAX_PAGE) throw badUserInput(`first must be between 1 and ${MAX_PAGE}`);
  if (args.last !== undefined && args.last !== null) throw badUserInput('paginate forward with first and after');
  return first;
}

function connection<T>(page: { items: T[]; hasNextPage: boolean }, cursorOfItem: (item: T) => string, after: string | null | undefined) {
  const edges = page.items.map((node) => ({ cursor: cursorOfItem(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: after !== undefined && after !== null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}

/** Notes a page holds unless `first` says otherwise: a page of notes is bounded like every list. */
const NOTES_PAGE = 20;

/** Every mutation answers the incident or typed user errors; nothing is written when there are errors. */
interface IncidentPayloadShape {
  incident: Incident | null;
  userErrors: UserError[];
}

function payload(result: Result<Incident>): IncidentPayloadShape {
  return result.ok ? { incident: result.value, userErrors: [] } : { incident: null, userErrors: result.errors };
}

/** The incident types, queries and mutations, added to the schema once (src/modules.ts). */
export function addIncidentTypes(): void {
  const IncidentStatusEnum = builder.enumType('IncidentStatus', { values: INCIDENT_STATUSES });
  const IncidentSeverityEnum = builder.enumType('IncidentSeverity', { values: INCIDENT_SEVERITIES });

  const IncidentNoteType = builder.objectRef<IncidentNote>('IncidentNote').implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      author: t.exposeString('author', { description: 'The user id, or the client id of a machine, that wrote the note' }),
      body: t.exposeString('body'),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  });

  const IncidentType = builder.objectRef<Incident>('Incident').implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      number: t.exposeInt('number', { description: 'Sequence number within the tenant' }),
      title: t.exposeString('title'),
      summary: t.exposeString('summary'),
      status: t.field({ type: IncidentStatusEnum, resolve: (i) => i.status }),
      severity: t.field({ type: IncidentSeverityEnum, resolve: (i) => i.severity }),
      labels: t.exposeStringList('labels'),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
      closedAt: t.expose('closedAt', { type: 'DateTime', nullable: true }),
      notes: t.connection(
        {
          type: IncidentNoteType,
          authScopes: READ,
          description: `Oldest first, ${NOTES_PAGE} a page unless \`first\` (at most ${MAX_PAGE}) says otherwise`,
          resolve: async (incident, args, ctx) => {
            const page = await ctx.incidents.notes(ctx.em, incident.id, pageSize(args, NOTES_PAGE), notePositionFromCursor(args.after));
            return connection(page, noteCursorOf, args.after);
          },
        },
        { name: 'IncidentNoteConnection' },
        { name: 'IncidentNoteEdge' },
      ),
    }),
  });

  const IncidentFilter = builder.inputType('IncidentFilter', {
    fields: (t) => ({
      status: t.field({ type: IncidentStatusEnum, required: false }),
      severity: t.field({ type: IncidentSeverityEnum, required: false }),
      updatedSince: t.field({ type: 'DateTime', required: false }),
    }),
  });

  builder.queryFields((t) => ({
    incident: t.field({
      type: IncidentType,
      nullable: true,
      authScopes: READ,
      args: { id: t.arg.id({ required: true }) },
      resolve: (_root, args, ctx) => ctx.incidents.get(ctx.em, String(args.id)),
    }),
    incidents: t.connection({
      type: IncidentType,
      authScopes: READ,
      args: { filter: t.arg({ type: IncidentFilter, required: false }) },
      resolve: async (_root, args, ctx) => {
        const page = await ctx.incidents.list(ctx.em, args.filter ?? {}, pageSize(args, 20), numberFromCursor(args.after));
        return connection(page, cursorOf, args.after);
      },
    }, { name: 'IncidentConnection' }, { name: 'IncidentEdge' }),
  }));

  const IncidentPayload = builder.objectRef<IncidentPayloadShape>('IncidentPayload').implement({
    fields: (t) => ({
      incident: t.field({ type: IncidentType, nullable: true, resolve: (p) => p.incident }),
      userErrors: t.field({ type: [UserErrorType], resolve: (p) => p.userErrors }),
    }),
  });

  /** The note added, not the incident's every note: an answer of bounded size. */
  const AddIncidentNotePayload = builder
    .objectRef<{ incident: Incident | null; note: IncidentNote | null; userErrors: UserError[] }>('AddIncidentNotePayload')
    .implement({
      fields: (t) => ({
        note: t.field({ type: IncidentNoteType, nullable: true, resolve: (p) => p.note }),
        incident: t.field({ type: IncidentType, nullable: true, resolve: (p) => p.incident }),
        userErrors: t.field({ type: [UserErrorType], resolve: (p) => p.userErrors }),
      }),
    });

  const CreateIncidentInput = builder.inputType('CreateIncidentInput', {
    fields: (t) => ({
      title: t.string({ required: true }),
      summary: t.string({ required: false }),
      severity: t.field({ type: IncidentSeverityEnum, required: true }),
      status: t.field({ type: IncidentStatusEnum, required: false }),
      labels: t.stringList({ required: false }),
    }),
  });

  const UpdateIncidentInput = builder.inputType('UpdateIncidentInput', {
    fields: (t) => ({
      title: t.string({ required: false }),
      summary: t.string({ required: false }),
      severity: t.field({ type: IncidentSeverityEnum, required: false }),
      status: t.field({ type: IncidentStatusEnum, required: false }),
      labels: t.stringList({ required: false }),
    }),
  });

  builder.mutationFields((t) => ({
    createIncident: t.field({
      type: IncidentPayload,
      authScopes: WRITE,
      args: { input: t.arg({ type: CreateIncidentInput, required: true }) },
      resolve: async (_root, { input }, ctx) => payload(await ctx.incidents.create(ctx.em, ctx.tenantId, input)),
    }),
    updateIncident: t.field({
      type: IncidentPayload,
      authScopes: WRITE,
      args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateIncidentInput, required: true }) },
      resolve: async (_root, { id, input }, ctx) => payload(await ctx.incidents.update(ctx.em, String(id), input)),
    }),
    closeIncident: t.field({
      type: IncidentPayload,
      authScopes: WRITE,
      args: { id: t.arg.id({ required: true }) },
      resolve: async (_root, { id }, ctx) => payload(await ctx.incidents.close(ctx.em, String(id))),
    }),
    addIncidentNote: t.field({
      type: AddIncidentNotePayload,
      authScopes: WRITE,
      args: { incidentId: t.arg.id({ required: true }), body: t.arg.string({ required: true }) },
      resolve: async (_root, { incidentId, body }, ctx) => {
        const result = await ctx.incidents.addNote(ctx.em, String(incidentId), ctx.principal.subject, body);
        return result.ok ? { ...result.value, userErrors: [] } : { incident: null, note: null, userErrors: result.errors };
      },
    }),
  }));
}
