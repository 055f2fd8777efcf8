// One Tessera per test file: its own database, the real runtime and the real app (through app.inject).
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { parseConfig, type Config } from '../../src/config.js';
import { SCOPE_ADMIN, SCOPE_OPERATOR } from '../../src/http/auth.js';
import { startRuntime, type Runtime, type RuntimeOptions } from '../../src/runtime.js';
import { createTestDatabase } from './databases.js';

export const TEST_ISSUER = 'http://tessera.test';
export const TEST_SECRETS_KEY = Buffer.alloc(32, 7).toString('base64');

export interface TenantFixture {
  tenantId: string;
  slug: string;
  userId: string;
  adminToken: string;
}

export interface Harness {
  config: Config;
  runtime: Runtime;
  app: FastifyInstance;
  databaseUrl: string;
  env: Record<string, string>;
  request(options: InjectOptions): Promise<LightMyRequestResponse>;
  tenant(slug?: string): Promise<TenantFixture>;
  operatorToken(): Promise<string>;
  close(): Promise<void>;
}

let counter = 0;

export async function startHarness(overrides: Record<string, string> = {}, options: Partial<RuntimeOptions> = {}): Promise<Harness> {
  const database = await createTestDatabase(inject('serverUrl'), inject('templateDatabase'));
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
  const runtime = await startRuntime(config, { embeddedMode: 'own', background: true, log: () => undefined, ...options });
  const app = await buildApp(config, runtime);

  const harness: Harness = {
    config,
    runtime,
    app,
    databaseUrl: database.url,
    env,
    request: (options) => app.inject(options),
    async tenant(slug = `tenant-${++counter}-${Math.random().toString(36).slice(2, 8)}`) {
      const { tenant, user } = await runtime.services.tenancy.bootstrap(
        runtime.orm.em.fork(),
        { slug, name: `Tenant ${slug}`, adminEmail: `admin@${slug}.test`, adminPassword: 'correct horse battery staple' },
        'operator',
      );
      const issued = await runtime.tokens.issue({
        subject: user.id,
        clientId: 'tessera-cli',
        scopes: [SCOPE_ADMIN],
        tenantId: tenant.id,
        ttlSeconds: 3600,
      });
      return { tenantId: tenant.id, slug, userId: user.id, adminToken: issued.token };
    },
    async operatorToken() {
      const issued = await runtime.tokens.issue({ subject: 'operator', clientId: 'tessera-cli', scopes: [SCOPE_OPERATOR], tenantId: null, ttlSeconds: 3600 });
      return issued.token;
    },
    async close() {
      await app.close();
      await runtime.close();
      await database.drop();
    },
  };
  return harness;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
