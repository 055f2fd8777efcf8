// sandbox create / list: sandbox tenants made by an operator (README "Sandbox tenants").
import { sandboxView } from '../sandboxes/routes.js';
import { checkNewSandbox, MAX_SANDBOX_TTL_DAYS, type SandboxFieldNames } from '../tenancy/service.js';
import { required, UsageError, type Command, type Values } from './command.js';
import { withRuntime } from './runtime.js';

/** How the CLI names a sandbox's fields, for the errors the service may still find (a slug taken). */
const CLI_FIELDS: SandboxFieldNames = { name: '--name', slug: '--slug', adminEmail: '--admin-email', ttlDays: '--ttl-days' };

function ttlDays(values: Values, fallback: number): number {
  if (values['ttl-days'] === undefined) return fallback;
  const days = Number(values['ttl-days']);
  if (!Number.isInteger(days) || days < 1 || days > MAX_SANDBOX_TTL_DAYS) throw new UsageError(`--ttl-days must be a whole number of days from 1 to ${MAX_SANDBOX_TTL_DAYS}`);
  return days;
}

function input(values: Values, fallbackTtl: number) {
  return {
    name: required(values, 'name'),
    slug: values.slug as string | undefined,
    adminEmail: required(values, 'admin-email'),
    ttlDays: ttlDays(values, fallbackTtl),
  };
}

export const sandboxCommands: Record<string, Command> = {
  'sandbox create': {
    options: { name: { type: 'string' }, slug: { type: 'string' }, 'admin-email': { type: 'string' }, 'ttl-days': { type: 'string' } },
    check(values, { config }) {
      const problems = checkNewSandbox(input(values, config.sandboxes.ttlDays), CLI_FIELDS);
      if (problems.length) throw new UsageError(problems.map((p) => `${p.path} ${p.problem}`).join('\n'));
    },
    run: (values, { config }) =>
      withRuntime(config, async (runtime) => {
        const { sandboxes } = runtime.services;
        const created = await sandboxes.create(runtime.orm.em.fork(), input(values, config.sandboxes.ttlDays), 'operator', CLI_FIELDS);
        const token = await sandboxes.adminToken(created.tenant.id, created.admin.id);
        return {
          ...sandboxView(created.tenant, 'active'),
          admin_user_id: created.admin.id,
          admin_email: created.admin.email,
          admin_password: created.adminPassword,
          admin_access_token: token.token,
          sample_incidents: created.sampleIncidents,
        };
      }),
  },
  'sandbox list': {
    options: {},
    run: (_values, { config }) =>
      withRuntime(config, async (runtime) => {
        const { sandboxes } = runtime.services;
        const em = runtime.orm.em.fork();
        const rows: Record<string, unknown>[] = [];
        let cursor: string | undefined;
        do {
          const page = await sandboxes.list(em, 100, cursor);
          rows.push(...page.items.map((t) => sandboxView(t, sandboxes.status(t))));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        return rows;
      }),
  },
};
