// requests list / approve / deny: the operators' side of integration requests (README "Integration requests").
import { REQUEST_STATUSES, type RequestStatus } from '../requests/entities.js';
import { requestView } from '../requests/schemas.js';
import type { IntegrationRequest } from '../requests/service.js';
import type { Runtime } from '../runtime.js';
import { required, UsageError, type Command, type Values } from './command.js';
import { withRuntime } from './runtime.js';

/** Who decides from the CLI, as the audit log records it. */
const OPERATOR = 'operator';
/** The most `requests list` prints: the newest, a page of 100 at a time. */
const LIST_MAX = 1000;

function status(values: Values): RequestStatus | undefined {
  if (values.status === undefined) return undefined;
  if (!REQUEST_STATUSES.includes(values.status as RequestStatus)) throw new UsageError(`--status must be one of ${REQUEST_STATUSES.join(', ')}`);
  return values.status as RequestStatus;
}

async function tenantIdOf(runtime: Runtime, slug: string | undefined): Promise<string | undefined> {
  if (slug === undefined) return undefined;
  const tenant = await runtime.services.tenancy.tenantBySlug(runtime.orm.em.fork(), slug);
  if (!tenant) throw new UsageError(`no tenant with slug ${slug}`);
  return tenant.id;
}

/** One line of `requests list`: what an operator scans for. */
function row(request: IntegrationRequest): Record<string, unknown> {
  const view = requestView(request);
  return { id: view.id, tenant_id: view.tenant_id, kind: view.kind, status: view.status, requested_by: view.requested_by, created_at: view.created_at, decided_at: view.decided_at };
}

export const requestCommands: Record<string, Command> = {
  'requests list': {
    options: { status: { type: 'string' }, tenant: { type: 'string' } },
    check(values) {
      status(values);
    },
    run: (values, { config }) =>
      withRuntime(config, async (runtime) => {
        const tenantId = await tenantIdOf(runtime, values.tenant as string | undefined);
        const em = runtime.orm.em.fork();
        const rows: Record<string, unknown>[] = [];
        let cursor: string | undefined;
        do {
          const page = await runtime.services.integrationRequests.listAll(em, { status: status(values), tenantId, limit: 100, cursor });
          rows.push(...page.items.map(row));
          cursor = page.nextCursor ?? undefined;
        } while (cursor && rows.length < LIST_MAX);
        return rows;
      }),
  },
  'requests approve': {
    options: { note: { type: 'string' } },
    args: ['id'],
    run: (values, { config }, [id]) =>
      withRuntime(config, async (runtime) => requestView(await runtime.services.integrationRequests.approve(runtime.orm.em.fork(), id!, OPERATOR, (values.note as string | undefined) ?? null))),
  },
  'requests deny': {
    options: { note: { type: 'string' } },
    args: ['id'],
    check(values) {
      required(values, 'note');
    },
    run: (values, { config }, [id]) =>
      withRuntime(config, async (runtime) => requestView(await runtime.services.integrationRequests.deny(runtime.orm.em.fork(), id!, OPERATOR, values.note as string, '--note'))),
  },
};
