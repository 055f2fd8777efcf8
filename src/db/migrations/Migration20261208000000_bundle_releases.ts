import { Migration } from '@mikro-orm/migrations';

/**
 * Releases of operation bundles (README "Operation bundles"):
 * - a version moves published -> deprecated -> retired; a retired version's operations answer as unknown ones;
 * - an app holds a bundle on a track: `latest` (the channel: the newest version not retired) or a pinned version
 *   (`1.2.0`), several of them at once while a partner migrates;
 * - bundle_version_usage: when each app last ran an operation of each version, which a retirement is checked against.
 */
export class Migration20261208000000_bundle_releases extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table bundle_versions
        add column status text not null default 'published' check (status in ('published', 'deprecated', 'retired')),
        add column deprecated_at timestamptz null,
        add column retired_at timestamptz null;

      alter table app_bundles drop constraint app_bundles_pkey;
      alter table app_bundles add column track text not null default 'latest' check (track = 'latest' or track ~ '^[0-9]+[.][0-9]+[.][0-9]+$');
      alter table app_bundles add primary key (app_id, bundle, track, tenant_id);

      create table bundle_version_usage (
        app_id text not null,
        version_id text not null references bundle_versions(id) on delete cascade deferrable initially deferred,
        tenant_id text not null references tenants(id) on delete cascade deferrable initially deferred,
        calls bigint not null,
        last_used_at timestamptz not null,
        primary key (app_id, version_id, tenant_id),
        foreign key (tenant_id, app_id) references apps(tenant_id, id) on delete cascade deferrable initially deferred
      );
      create index bundle_version_usage_version_idx on bundle_version_usage (version_id, last_used_at);
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop table bundle_version_usage;
      delete from app_bundles where track <> 'latest';
      alter table app_bundles drop constraint app_bundles_pkey;
      alter table app_bundles drop column track;
      alter table app_bundles add primary key (app_id, bundle, tenant_id);
      alter table bundle_versions drop column status, drop column deprecated_at, drop column retired_at;
    `);
  }
}
