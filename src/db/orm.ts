// MikroORM set-up from the entities the modules declare (src/modules.ts), the tenant filter over those they
// declare tenant-owned, and the static migration list (DESIGN "Runtime": static so they load under tsx,
// vitest and built JS alike).
import { MikroORM, type EntitySchema, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import pg from 'pg';
import { Logger, runMigrations as runWorkerMigrations } from 'graphile-worker';
import { Migration20261126000000_platform_core } from './migrations/Migration20261126000000_platform_core.js';
import { Migration20261126010000_oauth } from './migrations/Migration20261126010000_oauth.js';
import { Migration20261126020000_graphql } from './migrations/Migration20261126020000_graphql.js';
import { Migration20261126030000_webhooks } from './migrations/Migration20261126030000_webhooks.js';
import { Migration20261126040000_sql_ids } from './migrations/Migration20261126040000_sql_ids.js';
import { Migration20261201000000_operation_aliases } from './migrations/Migration20261201000000_operation_aliases.js';
import { Migration20261202000000_platform_audit } from './migrations/Migration20261202000000_platform_audit.js';
import { Migration20261202010000_tenant_keys } from './migrations/Migration20261202010000_tenant_keys.js';
import { Migration20261202020000_pending_deliveries } from './migrations/Migration20261202020000_pending_deliveries.js';
import { Migration20261202030000_event_trace_context } from './migrations/Migration20261202030000_event_trace_context.js';
import { Migration20261207000000_app_lifecycle } from './migrations/Migration20261207000000_app_lifecycle.js';
import { Migration20261207010000_webhook_recovery } from './migrations/Migration20261207010000_webhook_recovery.js';
import { Migration20261208000000_bundle_releases } from './migrations/Migration20261208000000_bundle_releases.js';
import { Migration20261208010000_integration_requests } from './migrations/Migration20261208010000_integration_requests.js';
import { Migration20261209000000_sign_in_policy } from './migrations/Migration20261209000000_sign_in_policy.js';
import { Migration20261209010000_openid_connect } from './migrations/Migration20261209010000_openid_connect.js';
import { Migration20261209020000_totp } from './migrations/Migration20261209020000_totp.js';
import { Migration20261209030000_federation } from './migrations/Migration20261209030000_federation.js';
import { Migration20261210000000_console } from './migrations/Migration20261210000000_console.js';
import { Migration20261210010000_activity } from './migrations/Migration20261210010000_activity.js';
import { tenantFilter } from './tenant.js';

/** How long the database may keep a caller waiting, in ms (see connectionLimits). */
export interface DatabaseTimeouts {
  statementTimeout: number;
  acquireTimeout: number;
}

/**
 * Every wait on the database is bounded, so that a stalled database makes requests fail fast (503, errors.ts) and
 * never hang: a statement is cancelled by PostgreSQL after `statementTimeout`, and given up by the client a second
 * later (a frozen server cancels nothing); a connection is waited for, from the pool or a new one, at most
 * `acquireTimeout`.
 */
export function connectionLimits(timeouts: DatabaseTimeouts) {
  return {
    statement_timeout: timeouts.statementTimeout,
    query_timeout: timeouts.statementTimeout + 1000,
    connectionTimeoutMillis: timeouts.acquireTimeout,
  };
}

/**
 * The tables an ORM maps: every entity, the ones whose rows belong to one tenant (the tenant filter's), and the
 * platform-wide ones. Each entity is one of the two; test/sharding.test.ts holds the catalog to that.
 */
export interface DataModel {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- entities of any shape
  entities: Array<EntitySchema<any>>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  tenantOwned: Array<EntitySchema<any>>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  platformWide: Array<EntitySchema<any>>;
}

/**
 * The tables of the machinery below the modules, which no entity maps: MikroORM's migration history and the job
 * runner's heartbeats (jobs.ts). Like graphile-worker's own schema, they stay plain tables of the one node every
 * process connects to (under Citus, the coordinator): nothing of a tenant's joins them, and the heartbeats are
 * written every few seconds, which a reference table would copy to every node.
 */
export const infrastructureTables = ['mikro_orm_migrations', 'worker_heartbeats'];

const migrationsList = [
  { name: 'Migration20261126000000_platform_core', class: Migration20261126000000_platform_core },
  { name: 'Migration20261126010000_oauth', class: Migration20261126010000_oauth },
  { name: 'Migration20261126020000_graphql', class: Migration20261126020000_graphql },
  { name: 'Migration20261126030000_webhooks', class: Migration20261126030000_webhooks },
  { name: 'Migration20261126040000_sql_ids', class: Migration20261126040000_sql_ids },
  { name: 'Migration20261201000000_operation_aliases', class: Migration20261201000000_operation_aliases },
  { name: 'Migration20261202000000_platform_audit', class: Migration20261202000000_platform_audit },
  { name: 'Migration20261202010000_tenant_keys', class: Migration20261202010000_tenant_keys },
  { name: 'Migration20261202020000_pending_deliveries', class: Migration20261202020000_pending_deliveries },
  { name: 'Migration20261202030000_event_trace_context', class: Migration20261202030000_event_trace_context },
  { name: 'Migration20261207000000_app_lifecycle', class: Migration20261207000000_app_lifecycle },
  { name: 'Migration20261207010000_webhook_recovery', class: Migration20261207010000_webhook_recovery },
  { name: 'Migration20261208000000_bundle_releases', class: Migration20261208000000_bundle_releases },
  { name: 'Migration20261208010000_integration_requests', class: Migration20261208010000_integration_requests },
  { name: 'Migration20261209000000_sign_in_policy', class: Migration20261209000000_sign_in_policy },
  { name: 'Migration20261209010000_openid_connect', class: Migration20261209010000_openid_connect },
  { name: 'Migration20261209020000_totp', class: Migration20261209020000_totp },
  { name: 'Migration20261209030000_federation', class: Migration20261209030000_federation },
  { name: 'Migration20261210000000_console', class: Migration20261210000000_console },
  { name: 'Migration20261210010000_activity', class: Migration20261210010000_activity },
];

function ormOptions(url: string, model: DataModel, timeouts?: DatabaseTimeouts, poolMax = 10): Options {
  return {
    clientUrl: url,
    entities: model.entities,
    extensions: [Migrator],
    discovery: { disableDynamicFileAccess: true, warnWhenNoEntities: false },
    forceUtcTimezone: true,
    pool: { min: 0, max: poolMax, ...(timeouts ? { acquireTimeoutMillis: timeouts.acquireTimeout } : {}) },
    ...(timeouts ? { driverOptions: { acquireConnectionTimeout: timeouts.acquireTimeout, connection: connectionLimits(timeouts) } } : {}),
    // A query on a tenant-owned entity without the tenant set fails rather than reading every tenant.
    filters: tenantFilter(model.tenantOwned.map((entity) => entity.meta.className)),
    migrations: { migrationsList, transactional: true, allOrNothing: true, disableForeignKeys: false, silent: true },
  };
}

const quietLogger = new Logger(() => () => undefined);

/** Any stable 64-bit number: the advisory lock that serialises migrations between processes. */
const MIGRATION_LOCK = 7_361_555_101;

/**
 * Runs pending migrations under an advisory lock; with `orm`, through it (the runtime's), else through a
 * short-lived one that maps no entity (migrations are SQL of their own).
 */
export async function migrate(url: string, orm?: MikroORM): Promise<void> {
  const lock = new pg.Client({ connectionString: url });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const migrator = orm ?? (await MikroORM.init(ormOptions(url, { entities: [], tenantOwned: [], platformWide: [] }, undefined, 2)));
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

export async function openOrm(url: string, model: DataModel, timeouts: DatabaseTimeouts, poolMax = 10): Promise<MikroORM> {
  return MikroORM.init(ormOptions(url, model, timeouts, poolMax));
}

export type { MikroORM };
