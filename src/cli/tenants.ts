// bootstrap, admin-token, operator-token: a tenant and its first admin, and the tokens an operator mints.
import { randomBytes } from 'node:crypto';
import { SCOPE_ADMIN, SCOPE_OPERATOR } from '../http/auth.js';
import type { Runtime } from '../runtime.js';
import { checkNewTenant, MIN_PASSWORD_LENGTH } from '../tenancy/service.js';
import { required, UsageError, type Command, type Values } from './command.js';
import { withRuntime } from './runtime.js';

/** The client_id of tokens the CLI mints. */
const CLI_CLIENT_ID = 'tessera-cli';

function ttl(values: Values, fallback: number, max: number): number {
  if (values.ttl === undefined) return fallback;
  const seconds = Number(values.ttl);
  if (!Number.isInteger(seconds) || seconds < 60 || seconds > max) throw new UsageError(`--ttl must be a whole number of seconds from 60 to ${max}`);
  return seconds;
}

/** A tenant admin's token; a sandbox's says so (README "Sandbox tenants"). */
function adminToken(runtime: Runtime, tenant: { id: string; sandbox: boolean }, userId: string, ttlSeconds: number) {
  return runtime.tokens.issue({ subject: userId, clientId: CLI_CLIENT_ID, scopes: [SCOPE_ADMIN], tenantId: tenant.id, ttlSeconds, sandbox: tenant.sandbox });
}

/** `--set a,b,c`: the scopes, each named once. */
function scopeList(raw: string): string[] {
  const scopes = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (!scopes.length) throw new UsageError('--set needs at least one scope, comma-separated (use --all for every published scope)');
  if (new Set(scopes).size !== scopes.length) throw new UsageError('--set names a scope twice');
  return scopes;
}

export const tenantCommands: Record<string, Command> = {
  'operator-user': {
    options: { email: { type: 'string' }, password: { type: 'string' }, slug: { type: 'string' } },
    check(values) {
      required(values, 'email');
      if (typeof values.password === 'string' && values.password.length < MIN_PASSWORD_LENGTH) throw new UsageError(`--password must be at least ${MIN_PASSWORD_LENGTH} characters`);
    },
    async run(values, { config }) {
      const password = typeof values.password === 'string' ? values.password : randomBytes(18).toString('base64url');
      return withRuntime(config, async (runtime) => {
        const input = { email: values.email as string, password, slug: typeof values.slug === 'string' ? values.slug : undefined };
        const { tenant, user } = await runtime.services.tenancy.createOperator(runtime.orm.em.fork(), input, 'operator');
        return { operators_tenant_id: tenant.id, operators_tenant_slug: tenant.slug, user_id: user.id, email: user.email, password, console: `${config.issuer}/console` };
      });
    },
  },
  'tenant-scopes': {
    options: { tenant: { type: 'string' }, set: { type: 'string' }, all: { type: 'boolean' } },
    check(values) {
      required(values, 'tenant');
      if (values.set !== undefined && values.all) throw new UsageError('--set and --all exclude each other');
      if (typeof values.set === 'string') scopeList(values.set);
    },
    async run(values, { config }) {
      return withRuntime(config, async (runtime) => {
        const em = runtime.orm.em.fork();
        const tenant = await runtime.services.tenancy.tenantBySlug(em, values.tenant as string);
        if (!tenant) throw new UsageError(`no tenant with slug ${values.tenant as string}`);
        const { platform } = runtime.services;
        const choice =
          typeof values.set === 'string'
            ? await platform.chooseTenantScopes(em, tenant.id, scopeList(values.set), 'operator')
            : values.all
              ? await platform.chooseTenantScopes(em, tenant.id, null, 'operator')
              : await platform.scopes.availableTo(tenant.id);
        return { tenant_id: tenant.id, tenant_slug: tenant.slug, scopes: choice.scopes.map((s) => s.name), restricted: choice.restricted };
      });
    },
  },
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
    async run(values, { config }) {
      const password = typeof values['admin-password'] === 'string' ? values['admin-password'] : randomBytes(18).toString('base64url');
      return withRuntime(config, async (runtime) => {
        const input = { slug: values.tenant as string, name: values.name as string, adminEmail: values['admin-email'] as string, adminPassword: password };
        const { tenant, user } = await runtime.services.tenancy.bootstrap(runtime.orm.em.fork(), input, 'operator');
        const issued = await adminToken(runtime, tenant, user.id, config.tokens.accessTtl);
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
    check(values, { config }) {
      required(values, 'tenant');
      required(values, 'email');
      ttl(values, config.tokens.accessTtl, config.tokens.adminMaxTtl);
    },
    async run(values, { config }) {
      return withRuntime(config, async (runtime) => {
        const { tenant, user } = await runtime.services.tenancy.findTenantUser(runtime.orm.em.fork(), values.tenant as string, values.email as string);
        if (!user.roles.includes('admin')) throw new UsageError(`${user.email} is not an admin of ${tenant.slug}`);
        const issued = await adminToken(runtime, tenant, user.id, ttl(values, config.tokens.accessTtl, config.tokens.adminMaxTtl));
        return { tenant_id: tenant.id, user_id: user.id, access_token: issued.token, expires_at: issued.expiresAt.toISOString() };
      });
    },
  },
  'operator-token': {
    options: { ttl: { type: 'string' } },
    check(values, { config }) {
      ttl(values, config.tokens.accessTtl, config.tokens.adminMaxTtl);
    },
    async run(values, { config }) {
      return withRuntime(config, async (runtime) => {
        const ttlSeconds = ttl(values, config.tokens.accessTtl, config.tokens.adminMaxTtl);
        const issued = await runtime.tokens.issue({ subject: 'operator', clientId: CLI_CLIENT_ID, scopes: [SCOPE_OPERATOR], tenantId: null, ttlSeconds });
        return { access_token: issued.token, expires_at: issued.expiresAt.toISOString() };
      });
    },
  },
};
