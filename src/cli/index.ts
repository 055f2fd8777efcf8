// The operator CLI: `npm run cli -- <command> [options]`. Same configuration as the server; with the
// embedded database it joins the running server's cluster, or starts one for the length of the command.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { randomBytes } from 'node:crypto';
import { ConfigError, parseConfig, type Config } from '../config.js';
import { TesseraError } from '../errors.js';
import { SCOPE_ADMIN, SCOPE_OPERATOR } from '../http/auth.js';
import { startRuntime, type Runtime } from '../runtime.js';
import { bootstrapTenant, checkNewTenant, findTenantUser } from '../tenancy/service.js';

/** Bad arguments: exit code 2, nothing done. */
class UsageError extends Error {}

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
`;

interface Command {
  options: ParseArgsConfig['options'];
  run(values: Record<string, string | boolean | undefined>, config: Config): Promise<Record<string, unknown> | Record<string, unknown>[]>;
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

function print(result: Record<string, unknown> | Record<string, unknown>[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else if (Array.isArray(result)) {
    for (const row of result) process.stdout.write(`${Object.entries(row).map(([k, v]) => `${k}=${v ?? '-'}`).join('  ')}\n`);
  } else {
    for (const [key, value] of Object.entries(result)) process.stdout.write(`${key}: ${value}\n`);
  }
}

export async function runCli(argv: string[]): Promise<number> {
  const words = argv.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'keys' ? `keys ${words[1] ?? ''}`.trim() : words[0];
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
    if (positionals.length !== name.split(' ').length) throw new UsageError(`unexpected argument: ${positionals.slice(name.split(' ').length).join(' ')}`);
    const config = parseConfig();
    command.check?.(values, config);
    print(await command.run(values, config), values.json === true);
    return 0;
  } catch (error) {
    if (error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
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
