import { Migration } from '@mikro-orm/migrations';

/**
 * `alias_id`: the id graphql-codegen's client preset gives the same document (SHA-256 of its normalised print),
 * computed at publish. Rows published before it have none; the registry computes theirs when it loads them.
 */
export class Migration20261201000000_operation_aliases extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table bundle_operations add column alias_id text null;');
  }

  override async down(): Promise<void> {
    this.addSql('alter table bundle_operations drop column alias_id;');
  }
}
