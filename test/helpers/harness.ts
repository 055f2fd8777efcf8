// The one test harness: one Tessera per test file on its own database (a copy of the migrated template), the real
// runtime and the real app (through app.inject), on a clock the test moves. It makes what most tests start from:
// a tenant and its admin, an operator, a registered app with its secret and a token, the CLI run in process.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect, inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Config } from '../../src/config.js';
import { SCOPE_ADMIN, SCOPE_OPERATOR } from '../../src/http/auth.js';
import { startRuntime, type Runtime, type RuntimeOptions } from '../../src/runtime.js';
import { runCliInProcess, ROOT, type CliResult } from './cli.js';
import { TestClock } from './clock.js';
import { createTestDatabase } from './databases.js';
import { TEST_ISSUER, TEST_SECRETS_KEY } from './identity.js';

export { TEST_ISSUER, TEST_SECRETS_KEY };

/** The client_id of the tokens the CLI (and this harness, standing in for it) mints. */
export const CLI_CLIENT_ID = 'tessera-cli';

/** The contract's example app: a confidential client_credentials client. */
export const MACHINE_APP = { name: 'Case sync connector', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['webhooks:write'] };
/** An authorization code client that may refresh, for a web app on https://integrator.example. */
export const CODE_APP = {
  name: 'Incident dashboard',
  grant_types: ['authorization_code', 'refresh_token'],
  redirect_uris: ['https://integrator.example/callback'],
  requested_scopes: ['incidents:read', 'webhooks:read'],
};

export interface TenantFixture {
  tenantId: string;
  slug: string;
  userId: string;
  adminToken: string;
}

/** What POST /v1/platform/apps answered (the secret is there once). */
export interface RegisteredApp {
  client_id: string;
  client_secret?: string;
  [field: string]: unknown;
}

/** A client_credentials app of a tenant with its secret and a token (the partner of the GraphQL tests). */
export interface AppWithToken {
  clientId: string;
  secret: string;
  token: string;
}

export interface Harness {
  config: Config;
  runtime: Runtime;
  app: FastifyInstance;
  clock: TestClock;
  databaseUrl: string;
  env: Record<string, string>;
  request(options: InjectOptions): Promise<LightMyRequestResponse>;
  tenant(slug?: string): Promise<TenantFixture>;
  operatorToken(): Promise<string>;
  /** Registers an app through the API as the tenant's admin, and expects 201. */
  registerApp(tenant: TenantFixture, body?: object): Promise<RegisteredApp>;
  /** A client_credentials app holding `bundles` (assigned by an operator), with a token for `scopes`. */
  appWithToken(tenant: TenantFixture, options?: { bundles?: string[]; scopes?: string[]; body?: object }): Promise<AppWithToken>;
  /** The operator CLI in this process, on this database; `cwd` holds the `operations/` it reads. */
  cli(args: string[], cwd?: string): Promise<CliResult>;
  close(): Promise<void>;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** POST /v1/oauth/token, form-encoded, with Basic credentials when given. */
export async function tokenRequest(h: Pick<Harness, 'request'>, fields: Record<string, string>, basic?: { id: string; secret: string }) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic.id)}:${encodeURIComponent(basic.secret)}`).toString('base64')}`;
  return h.request({ method: 'POST', url: '/v1/oauth/token', headers, payload: new URLSearchParams(fields).toString() });
}

/** Every scope a partner app is approved for by default. */
const PARTNER_SCOPES = ['incidents:read', 'incidents:write', 'webhooks:read', 'webhooks:write'];

let counter = 0;

/** A migrated database of the test's own (the stall test runs a cluster it can freeze); by default, a copy of the template. */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function startHarness(overrides: Record<string, string> = {}, options: Partial<RuntimeOptions> = {}, on?: TestDatabase): Promise<Harness> {
  const database = on ?? (await createTestDatabase(inject('serverUrl'), inject('templateDatabase')));
  const env = {
    DATABASE_URL: database.url,
    SECRETS_KEY: TEST_SECRETS_KEY,
    ISSUER: TEST_ISSUER,
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    // Small pools: several test files, each with a few runtimes, share one PostgreSQL.
    WORKER_CONCURRENCY: '4',
    ...overrides,
  };
  const config = parseConfig(env);
  const clock = new TestClock();
  const runtime = await startRuntime(config, { embeddedMode: 'own', background: true, clock, ...options });
  // Jobs due later (retries) are due by PostgreSQL's clock: moving time moves them as much, and wakes the worker.
  clock.onAdvance(async (ms) => {
    const moved = await runtime.core.pool.query(
      `update graphile_worker._private_jobs set run_at = run_at - make_interval(secs => $1::double precision / 1000) where locked_at is null and run_at > now()`,
      [ms],
    );
    if (moved.rowCount) await runtime.core.pool.query(`select pg_notify('jobs:insert', $1)`, [JSON.stringify({ count: moved.rowCount })]);
  });
  const app = await buildApp(config, runtime);

  // Thirty days, so that a test that moves time by days keeps its admin and operator.
  const issue = (subject: string, scopes: string[], tenantId: string | null) => runtime.tokens.issue({ subject, clientId: CLI_CLIENT_ID, scopes, tenantId, ttlSeconds: 30 * 86_400 });

  const harness: Harness = {
    config,
    runtime,
    app,
    clock,
    databaseUrl: database.url,
    env,
    request: (options) => app.inject(options),
    async tenant(slug = `tenant-${++counter}-${Math.random().toString(36).slice(2, 8)}`) {
      const { tenant, user } = await runtime.services.tenancy.bootstrap(
        runtime.orm.em.fork(),
        { slug, name: `Tenant ${slug}`, adminEmail: `admin@${slug}.test`, adminPassword: 'correct horse battery staple' },
        'operator',
      );
      const issued = await issue(user.id, [SCOPE_ADMIN], tenant.id);
      return { tenantId: tenant.id, slug, userId: user.id, adminToken: issued.token };
    },
    async operatorToken() {
      return (await issue('operator', [SCOPE_OPERATOR], null)).token;
    },
    async registerApp(tenant, body = MACHINE_APP) {
      const res = await app.inject({ method: 'POST', url: '/v1/platform/apps', headers: bearer(tenant.adminToken), payload: body });
      expect(res.statusCode, res.body).toBe(201);
      return res.json();
    },
    async appWithToken(tenant, { bundles = [], scopes = ['incidents:read', 'incidents:write'], body } = {}) {
      const registered = await harness.registerApp(tenant, body ?? { name: 'Partner sync', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: PARTNER_SCOPES });
      const clientId = registered.client_id;
      const secret = registered.client_secret!;
      const operator = await harness.operatorToken();
      for (const bundle of bundles) {
        const res = await app.inject({ method: 'POST', url: `/api/v1/platform/apps/${clientId}/bundles`, headers: bearer(operator), payload: { bundle } });
        expect(res.statusCode, res.body).toBe(201);
      }
      const token = await tokenRequest(harness, { grant_type: 'client_credentials', scope: scopes.join(' ') }, { id: clientId, secret });
      expect(token.statusCode, token.body).toBe(200);
      return { clientId, secret, token: token.json().access_token };
    },
    cli: (args, cwd = ROOT) => runCliInProcess(args, env, cwd),
    async close() {
      await app.close();
      await runtime.close();
      await database.drop();
    },
  };
  return harness;
}
