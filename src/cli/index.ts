// The operator CLI: `npm run cli -- <command> [options]`. Same configuration as the server; with the
// embedded database it joins the running server's cluster, or starts one for the length of the command.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { randomBytes } from 'node:crypto';
import { ConfigError, parseConfig, type Config } from '../config.js';
import { TesseraError } from '../errors.js';
import { SCOPE_ADMIN, SCOPE_OPERATOR } from '../http/auth.js';
import { startRuntime, type Runtime } from '../runtime.js';
import { bootstrapTenant, checkNewTenant, findTenantUser } from '../tenancy/service.js';
import { assertBundleName, loadBundles } from '../bundles/service.js';
import { getSchema } from '../graphql/schema.js';

/** Bad arguments: exit code 2, nothing done. */
class UsageError extends Error {}

/** Broken operations in operations/: exit code 1, each one named. */
class CheckFailed extends Error {
  constructor(readonly problems: string[]) {
    super('operations check failed');
  }
}

const OPERATIONS_DIR = 'operations';

const CLI_CLIENT_ID = 'tessera-cli';

const USAGE = `Usage: npm run cli -- <command> [options] [--json]

Commands:
  bootstrap --tenant <slug> --name <name> --admin-email <email> [--admin-password <pw>]
      Create a tenant and its first admin user; prints an admin access token.
  admin-token --tenant <slug> --email <email> [--ttl <seconds>]
      Mint a tenant-admin access token (scope ${SCOPE_ADMIN}).
  operator-token [--ttl <seconds>]
      Mint an operator access token (scope ${SCOPE_OPERATOR}, all tenants).
  keys list
      Show signing keys and their state (next, active, retired, expired).
  keys rotate
      Promote the next key to signing; the old key stays published until its tokens expire.
  operations check
      Validate every operation in operations/ against the current schema (no database needed).
  operations publish
      Store new bundle versions; a published version never changes.
  operations manifest <bundle> [--version <v>]
      Print what a client needs: an Apollo persisted-query manifest and a documentId map.
  operations assign <bundle> <client_id>
  operations unassign <bundle> <client_id>
      Let an app run a bundle's operations, or stop it; effective at once on every server.
`;

interface Command {
  options: ParseArgsConfig['options'];
  /** Positional arguments after the command words, by name. */
  args?: string[];
  run(values: Record<string, string | boolean | undefined>, config: Config, args: string[]): Promise<Record<string, unknown> | Record<string, unknown>[]>;
  /** Checks that need no database, so bad arguments never start one. */
  check?(values: Record<string, string | boolean | undefined>, config: Config): void;
}

function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value;
}

function ttl(values: Record<string, unknown>, fallback: number, max: number): number {
  if (values.ttl === undefined) return fallback;
  const seconds = Number(values.ttl);
  if (!Number.isInteger(seconds) || seconds < 60 || seconds > max) throw new UsageError(`--ttl must be a whole number of seconds from 60 to ${max}`);
  return seconds;
}

async function withRuntime<T>(config: Config, work: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await startRuntime(config, { embeddedMode: 'share', background: false, log: () => undefined });
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

function adminToken(runtime: Runtime, tenantId: string, userId: string, ttlSeconds: number) {
  return runtime.tokens.issue({ subject: userId, clientId: CLI_CLIENT_ID, scopes: [SCOPE_ADMIN], tenantId, ttlSeconds });
}

const commands: Record<string, Command> = {
  bootstrap: {
    options: { tenant: { type: 'string' }, name: { type: 'string' }, 'admin-email': { type: 'string' }, 'admin-password': { type: 'string' } },
    check(values) {
      const problems = checkNewTenant({
        slug: required(values, 'tenant'),
        name: required(values, 'name'),
        adminEmail: required(values, 'admin-email'),
        adminPassword: typeof values['admin-password'] === 'string' ? values['admin-password'] : 'x'.repeat(32),
      });
      if (problems.length) throw new UsageError(problems.join('\n'));
    },
    async run(values, config) {
      const password = typeof values['admin-password'] === 'string' ? values['admin-password'] : randomBytes(18).toString('base64url');
      return withRuntime(config, async (runtime) => {
        const input = { slug: values.tenant as string, name: values.name as string, adminEmail: values['admin-email'] as string, adminPassword: password };
        const { tenant, user } = await bootstrapTenant(runtime.orm.em.fork(), input, 'operator');
        const issued = await adminToken(runtime, tenant.id, user.id, config.tokens.accessTtl);
        return {
          tenant_id: tenant.id,
          tenant_slug: tenant.slug,
          admin_user_id: user.id,
          admin_email: user.email,
          admin_password: password,
          admin_access_token: issued.token,
        };
      });
    },
  },
  'admin-token': {
    options: { tenant: { type: 'string' }, email: { type: 'string' }, ttl: { type: 'string' } },
    check(values, config) {
      required(values, 'tenant');
      required(values, 'email');
      ttl(values, config.tokens.accessTtl, config.tokens.adminMaxTtl);
    },
    async run(values, config) {
      return withRuntime(config, async (runtime) => {
        const { tenant, user } = await findTenantUser(runtime.orm.em.fork(), values.tenant as string, values.email as string);
        if (!user.roles.includes('admin')) throw new UsageError(`${user.email} is not an admin of ${tenant.slug}`);
        const issued = await adminToken(runtime, tenant.id, user.id, ttl(values, config.tokens.accessTtl, config.tokens.adminMaxTtl));
        return { tenant_id: tenant.id, user_id: user.id, access_token: issued.token, expires_at: issued.expiresAt.toISOString() };
      });
    },
  },
  'operator-token': {
    options: { ttl: { type: 'string' } },
    check(values, config) {
      ttl(values, config.tokens.accessTtl, config.tokens.adminMaxTtl);
    },
    async run(values, config) {
      return withRuntime(config, async (runtime) => {
        const issued = await runtime.tokens.issue({
          subject: 'operator',
          clientId: CLI_CLIENT_ID,
          scopes: [SCOPE_OPERATOR],
          tenantId: null,
          ttlSeconds: ttl(values, config.tokens.accessTtl, config.tokens.adminMaxTtl),
        });
        return { access_token: issued.token, expires_at: issued.expiresAt.toISOString() };
      });
    },
  },
  'keys list': {
    options: {},
    run: (_values, config) => withRuntime(config, async (runtime) => (await runtime.keyring.summaries()) as unknown as Record<string, unknown>[]),
  },
  'keys rotate': {
    options: {},
    run: (_values, config) =>
      withRuntime(config, async (runtime) => {
        const result = await runtime.keyring.rotate('operator');
        return { ...result! };
      }),
  },
};

/** Loads operations/ and fails naming every broken operation and why. */
function checkedBundles() {
  const { bundles, problems } = loadBundles(getSchema(), OPERATIONS_DIR);
  if (problems.length) {
    throw new CheckFailed(problems.map((p) => `${p.bundle}/${p.file}: ${p.message}`));
  }
  return bundles;
}

async function appRecord(runtime: Runtime, clientId: string) {
  const record = await runtime.platform.findClient(clientId);
  if (!record) throw new UsageError(`no app with client_id ${clientId}`);
  return record.app;
}

Object.assign(commands, {
  'operations check': {
    options: {},
    run: async () => {
      const bundles = checkedBundles();
      return bundles.map((b) => ({ bundle: b.name, version: b.version, operations: b.operations.length, status: 'ok' }));
    },
  },
  'operations publish': {
    options: {},
    run: async (_values, config) => {
      const bundles = checkedBundles();
      return withRuntime(config, async (runtime) => runtime.bundles.publish(bundles, 'operator'));
    },
  },
  'operations manifest': {
    options: { version: { type: 'string' } },
    args: ['bundle'],
    run: (values, config, [bundle]) =>
      withRuntime(config, async (runtime) => runtime.bundles.manifest(assertBundleName(bundle), values.version as string | undefined)),
  },
  'operations assign': {
    options: {},
    args: ['bundle', 'client_id'],
    run: (_values, config, [bundle, clientId]) =>
      withRuntime(config, async (runtime) => {
        const app = await appRecord(runtime, clientId!);
        const { assigned } = await runtime.bundles.assign(app, assertBundleName(bundle), 'operator');
        return { client_id: app.id, bundle: bundle!, status: assigned ? 'assigned' : 'already assigned' };
      }),
  },
  'operations unassign': {
    options: {},
    args: ['bundle', 'client_id'],
    run: (_values, config, [bundle, clientId]) =>
      withRuntime(config, async (runtime) => {
        const app = await appRecord(runtime, clientId!);
        await runtime.bundles.unassign(app, assertBundleName(bundle), 'operator');
        return { client_id: app.id, bundle: bundle!, status: 'unassigned' };
      }),
  },
} satisfies Record<string, Command>);

function print(result: Record<string, unknown> | Record<string, unknown>[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else if (Array.isArray(result)) {
    for (const row of result) process.stdout.write(`${Object.entries(row).map(([k, v]) => `${k}=${v ?? '-'}`).join('  ')}\n`);
  } else {
    for (const [key, value] of Object.entries(result)) {
      process.stdout.write(`${key}: ${typeof value === 'object' && value !== null ? JSON.stringify(value, null, 2) : value}\n`);
    }
  }
}

export async function runCli(argv: string[]): Promise<number> {
  const words = argv.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'keys' || words[0] === 'operations' ? `${words[0]} ${words[1] ?? ''}`.trim() : words[0];
  if (!name || name === 'help' || argv.includes('--help')) {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  try {
    if (!command) throw new UsageError(`unknown command: ${name}`);
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...command.options, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    const commandWords = name.split(' ').length;
    const expected = command.args ?? [];
    const args = positionals.slice(commandWords);
    if (args.length < expected.length) throw new UsageError(`${name} needs ${expected.map((a) => `<${a}>`).join(' ')}`);
    if (args.length > expected.length) throw new UsageError(`unexpected argument: ${args.slice(expected.length).join(' ')}`);
    const config = parseConfig();
    command.check?.(values, config);
    print(await command.run(values, config, args), values.json === true);
    return 0;
  } catch (error) {
    if (error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof CheckFailed) {
      process.stderr.write(`operations check failed:\n${error.problems.map((p) => `  - ${p}`).join('\n')}\n`);
      return 1;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    if (error instanceof TesseraError) {
      process.stderr.write(`error: ${error.description}\n`);
      // A duplicate slug or an unknown tenant is the caller's mistake, like any other bad argument.
      return error.status < 500 ? 2 : 1;
    }
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

runCli(process.argv.slice(2)).then((code) => process.exit(code));
