import { Migration } from '@mikro-orm/migrations';

/**
 * The web console (README "Console") is an OAuth client of Tessera like any other, registered by the platform itself:
 * - `apps.first_party`: `console` for the console's own client in a tenant (made at its first sign-in there); such an
 *   app is the platform's, not the tenant's: no tenant admin lists, edits or deletes it;
 * - `tenants.operators`: the one tenant whose users may be operators (role `operator`), who sign in to the console
 *   through it and act across tenants.
 */
export class Migration20261210000000_console extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table apps add column first_party text null check (first_party in ('console'));
      create unique index apps_console_client_uq on apps (tenant_id) where first_party = 'console' and status <> 'deleted';
      alter table tenants add column operators boolean not null default false;
      create unique index tenants_operators_uq on tenants (operators) where operators;
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`
      drop index tenants_operators_uq;
      alter table tenants drop column operators;
      drop index apps_console_client_uq;
      alter table apps drop column first_party;
    `);
  }
}
