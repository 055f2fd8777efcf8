import { Migration } from '@mikro-orm/migrations';

/** The new primary key of each tenant-owned table whose key lacked tenant_id (tenant_counters' has it already). */
const PRIMARY_KEYS: Record<string, string> = {
  users: 'id, tenant_id',
  apps: 'id, tenant_id',
  client_secrets: 'id, tenant_id',
  service_tokens: 'id, tenant_id',
  audit_events: 'id, tenant_id',
  oauth_authorization_requests: 'id, tenant_id',
  oauth_login_sessions: 'id, tenant_id',
  oauth_consents: 'id, tenant_id',
  oauth_grants: 'id, tenant_id',
  oauth_authorization_codes: 'id, tenant_id',
  oauth_refresh_tokens: 'id, tenant_id',
  oauth_grant_access_tokens: 'jti, tenant_id',
  oauth_login_throttles: 'id, tenant_id',
  incidents: 'id, tenant_id',
  incident_notes: 'id, tenant_id',
  domain_events: 'id, tenant_id',
  app_bundles: 'app_id, bundle, tenant_id',
  operation_stats: 'app_id, operation_id, tenant_id',
  webhook_subscriptions: 'id, tenant_id',
  webhook_deliveries: 'id, tenant_id',
  webhook_attempts: 'id, tenant_id',
};

/** Every foreign key from one tenant-owned table to another: the child's column and the parent it names by id. */
const TENANT_REFERENCES: Array<{ table: string; column: string; parent: string }> = [
  { table: 'client_secrets', column: 'app_id', parent: 'apps' },
  { table: 'service_tokens', column: 'app_id', parent: 'apps' },
  { table: 'oauth_authorization_requests', column: 'app_id', parent: 'apps' },
  { table: 'oauth_login_sessions', column: 'user_id', parent: 'users' },
  { table: 'oauth_consents', column: 'user_id', parent: 'users' },
  { table: 'oauth_consents', column: 'app_id', parent: 'apps' },
  { table: 'oauth_grants', column: 'app_id', parent: 'apps' },
  { table: 'oauth_grants', column: 'user_id', parent: 'users' },
  { table: 'oauth_authorization_codes', column: 'app_id', parent: 'apps' },
  { table: 'oauth_authorization_codes', column: 'user_id', parent: 'users' },
  { table: 'oauth_authorization_codes', column: 'grant_id', parent: 'oauth_grants' },
  { table: 'oauth_refresh_tokens', column: 'app_id', parent: 'apps' },
  { table: 'oauth_refresh_tokens', column: 'grant_id', parent: 'oauth_grants' },
  { table: 'oauth_grant_access_tokens', column: 'grant_id', parent: 'oauth_grants' },
  { table: 'incident_notes', column: 'incident_id', parent: 'incidents' },
  { table: 'app_bundles', column: 'app_id', parent: 'apps' },
  { table: 'operation_stats', column: 'app_id', parent: 'apps' },
  // owner_client_id is null when a tenant admin made the subscription: a key with a null column is not checked.
  { table: 'webhook_subscriptions', column: 'owner_client_id', parent: 'apps' },
  { table: 'webhook_deliveries', column: 'webhook_id', parent: 'webhook_subscriptions' },
  { table: 'webhook_attempts', column: 'delivery_id', parent: 'webhook_deliveries' },
];

/**
 * tenant_id in every key of every tenant-owned table, so that the tables can be distributed by tenant (README
 * "Scaling past one PostgreSQL"): Citus checks a unique key or a foreign key within one node only, so each must name
 * the column that decides the node, and a foreign key between two distributed tables must have it at the same
 * position on both sides ("Creating and Modifying Distributed Objects (DDL)", docs.citusdata.com). Every one of these
 * tables already has a NOT NULL tenant_id, set by every path that writes it; test/sharding.test.ts reads the catalog.
 *
 * Primary keys become (id, tenant_id), id first (app bundles and operation stats: their old key, then tenant_id).
 * Ids are random and unique across tenants, so the ORM keeps the old key as an entity's identity (one column to name a
 * row by, and its unit of work updates by it), and rows are still found by id alone (a client by client_id, the
 * delivery engine's rows), which this key's index serves as the old one did. A tenant's lists have (tenant_id, ...)
 * indexes of their own.
 *
 * Foreign keys between tenant-owned tables become (tenant_id, x) -> parent (tenant_id, id): besides placing a child
 * on its parent's node, they refuse a child whose tenant is not its parent's. Existing rows are checked as the keys
 * are added; a row of one tenant that refers to another tenant's would stop the migration, to be looked at rather
 * than silently moved. Foreign keys to tenants (a reference table) stay as they are.
 */
export class Migration20261202010000_tenant_keys extends Migration {
  override async up(): Promise<void> {
    // Dropped first, since the keys they refer to are about to change.
    for (const { table, column } of TENANT_REFERENCES) this.addSql(`alter table ${table} drop constraint ${table}_${column}_fkey;`);

    for (const [table, columns] of Object.entries(PRIMARY_KEYS)) {
      this.addSql(`alter table ${table} drop constraint ${table}_pkey, add constraint ${table}_pkey primary key (${columns});`);
    }
    this.addSql(`
      alter table oauth_consents drop constraint oauth_consents_user_id_app_id_scope_set_key,
        add constraint oauth_consents_tenant_id_user_id_app_id_scope_set_key unique (tenant_id, user_id, app_id, scope_set);
    `);

    // Checked at commit, as before (deferrable): the unit of work inserts in any order it likes.
    for (const { table, column, parent } of TENANT_REFERENCES) {
      this.addSql(
        `alter table ${table} add constraint ${table}_${column}_fkey foreign key (tenant_id, ${column}) references ${parent} (tenant_id, id) on delete cascade deferrable initially deferred;`,
      );
    }
  }
}
