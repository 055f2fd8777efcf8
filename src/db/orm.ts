// MikroORM set-up: entities of every feature, the tenant filter and the static migration list
// (DESIGN "Runtime": static so they load under tsx, vitest and built JS alike).
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import pg from 'pg';
import { Logger, runMigrations as runWorkerMigrations } from 'graphile-worker';
import { AuditEvent } from '../audit/entities.js';
import { RevokedToken, SigningKey } from '../keys/entities.js';
import { App, ClientSecret, Scope, ServiceToken } from '../platform/entities.js';
import { Tenant, User } from '../tenancy/entities.js';
import { Migration20261126000000_platform_core } from './migrations/Migration20261126000000_platform_core.js';
import { Migration20261126010000_oauth } from './migrations/Migration20261126010000_oauth.js';
import { Migration20261126020000_graphql } from './migrations/Migration20261126020000_graphql.js';
import { Migration20261126030000_webhooks } from './migrations/Migration20261126030000_webhooks.js';
import { Migration20261126040000_sql_ids } from './migrations/Migration20261126040000_sql_ids.js';
import { WebhookAttempt, WebhookDelivery, WebhookSubscription } from '../webhooks/entities.js';
import { AppBundle, BundleOperation, BundleVersion, OperationStat } from '../bundles/entities.js';
import { Incident, IncidentNote } from '../incidents/entities.js';
import { DomainEvent } from '../webhooks/outbox.js';
import {
  AuthorizationCode,
  AuthorizationRequest,
  Consent,
  Grant,
  GrantAccessToken,
  LoginSession,
  LoginThrottle,
  RefreshToken,
} from '../oauth/entities.js';

const oauthEntities = [AuthorizationRequest, LoginSession, Consent, Grant, AuthorizationCode, RefreshToken, GrantAccessToken, LoginThrottle];
export const entities = [
  Tenant,
  User,
  SigningKey,
  RevokedToken,
  Scope,
  App,
  ClientSecret,
  ServiceToken,
  AuditEvent,
  ...oauthEntities,
  Incident,
  IncidentNote,
  DomainEvent,
  BundleVersion,
  BundleOperation,
  AppBundle,
  OperationStat,
  WebhookSubscription,
  WebhookDelivery,
  WebhookAttempt,
];

/** Entities that belong to one tenant. Queries on them see only the request's tenant (DESIGN "Conventions" 8). */
const tenantOwned = [
  'User',
  'App',
  'ClientSecret',
  'ServiceToken',
  'AuditEvent',
  ...oauthEntities.map((e) => e.meta.className),
  'Incident',
  'IncidentNote',
  'DomainEvent',
  'WebhookSubscription',
  'WebhookDelivery',
  'WebhookAttempt',
];

export const TENANT_FILTER = 'tenant';

export function ormOptions(url: string, poolMax = 10): Options {
  return {
    clientUrl: url,
    entities,
    extensions: [Migrator],
    discovery: { disableDynamicFileAccess: true },
    forceUtcTimezone: true,
    pool: { min: 0, max: poolMax },
    // A query on a tenant-owned entity without the tenant set fails rather than reading every tenant.
    filters: {
      [TENANT_FILTER]: {
        name: TENANT_FILTER,
        entity: tenantOwned,
        cond: (args: { tenantId: string }) => ({ tenantId: args.tenantId }),
        default: true,
      },
    },
    migrations: {
      migrationsList: [
        { name: 'Migration20261126000000_platform_core', class: Migration20261126000000_platform_core },
        { name: 'Migration20261126010000_oauth', class: Migration20261126010000_oauth },
        { name: 'Migration20261126020000_graphql', class: Migration20261126020000_graphql },
        { name: 'Migration20261126030000_webhooks', class: Migration20261126030000_webhooks },
        { name: 'Migration20261126040000_sql_ids', class: Migration20261126040000_sql_ids },
      ],
      transactional: true,
      allOrNothing: true,
      disableForeignKeys: false,
      silent: true,
    },
  };
}

const quietLogger = new Logger(() => () => undefined);

/** Any stable 64-bit number: the advisory lock that serialises migrations between processes. */
const MIGRATION_LOCK = 7_361_555_101;

/** Runs pending migrations under an advisory lock; with `orm`, through it (the runtime's), else a short-lived one. */
export async function migrate(url: string, orm?: MikroORM): Promise<void> {
  const lock = new pg.Client({ connectionString: url });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const migrator = orm ?? (await MikroORM.init({ ...ormOptions(url, 2), pool: { min: 0, max: 2 } }));
    try {
      await migrator.getMigrator().up();
    } finally {
      if (!orm) await migrator.close(true);
    }
    // graphile-worker's own schema: jobs are added by plain SQL inside our transactions.
    await runWorkerMigrations({ connectionString: url, logger: quietLogger });
  } finally {
    await lock.end();
  }
}

export async function openOrm(url: string, poolMax = 10): Promise<MikroORM> {
  return MikroORM.init(ormOptions(url, poolMax));
}

export type { MikroORM };
