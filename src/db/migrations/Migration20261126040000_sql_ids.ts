import { Migration } from '@mikro-orm/migrations';

/**
 * `tessera_new_id(prefix)`: an identifier in the format of `newId` (src/ids.ts), made inside a statement, so
 * that one statement can write rows whose number it decides itself (the deliveries of an event, one per
 * matching subscription). The 120 random bits are those of a version 4 UUID (RFC 9562 section 5.4: 122 random
 * bits from PostgreSQL's strong random source), without its fixed version and variant digits.
 */
export class Migration20261126040000_sql_ids extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create function tessera_new_id(prefix text) returns text language sql volatile parallel safe as $$
        select prefix || '_' || translate(encode(decode(substr(h, 1, 12) || substr(h, 14, 3) || substr(h, 18, 15), 'hex'), 'base64'), '+/', '-_')
        from (select replace(gen_random_uuid()::text, '-', '') as h) as uuid
      $$;
    `);
  }

  override async down(): Promise<void> {
    this.addSql('drop function tessera_new_id(text);');
  }
}
