// The schema can be distributed by tenant (README "Scaling past one PostgreSQL"), read from the catalog of the
// migrated database: every table of the public schema has a place (distributed by tenant_id, a reference table, or a
// local one), and every distributed table has tenant_id in its primary key, in each of its unique keys (partial and
// expression indexes too), and on both sides, at the same position, of each foreign key to another distributed
// table. Those are Citus's conditions: uniqueness and references are checked within one node, so a key must name
// the column that decides the node ("Creating and Modifying Distributed Objects (DDL)", Adding/Removing Constraints,
// docs.citusdata.com), and a reference table may not refer to a distributed one.
import type { EntitySchema } from '@mikro-orm/postgresql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { infrastructureTables } from '../src/db/orm.js';
import { dataModel } from '../src/modules.js';
import { startHarness, type Harness } from './helpers/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.close());

type Query = (text: string) => Promise<Array<Record<string, unknown>>>;

/** What the code says of each table: the modules' declarations (src/modules.ts) and db/'s own tables. */
interface Placement {
  tenantOwned: Set<string>;
  platformWide: Set<string>;
  infrastructure: Set<string>;
}

interface Catalog {
  tables: string[];
  /** Tables with a tenant_id column, and whether it may be null. */
  tenantColumns: Map<string, { nullable: boolean }>;
  /** Primary keys and every other unique index (a unique constraint is one); `columns` are key columns or expressions. */
  uniques: Array<{ table: string; name: string; primary: boolean; columns: string[] }>;
  foreignKeys: Array<{ table: string; name: string; columns: string[]; references: string; referencedColumns: string[] }>;
}

function placementOfTheCode(): Placement {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const tableOf = (entity: EntitySchema<any>) => h.runtime.orm.getMetadata().get(entity.meta.className).tableName;
  return {
    tenantOwned: new Set(dataModel.tenantOwned.map(tableOf)),
    platformWide: new Set(dataModel.platformWide.map(tableOf)),
    infrastructure: new Set(infrastructureTables),
  };
}

async function readCatalog(query: Query): Promise<Catalog> {
  const tables = await query(`
    select c.relname::text as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition order by 1`);
  const tenantColumns = await query(`
    select c.relname::text as table, not a.attnotnull as nullable
    from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') and a.attname = 'tenant_id' and not a.attisdropped`);
  // Key columns only (not INCLUDE ones), each as its name or, for an expression, its text: pg_get_indexdef(index, k).
  const uniques = await query(`
    select t.relname::text as table, i.relname::text as name, x.indisprimary as primary,
      array(select pg_get_indexdef(x.indexrelid, k, true) from generate_series(1, x.indnkeyatts) as k order by k)::text[] as columns
    from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
      join pg_namespace n on n.oid = t.relnamespace
    where n.nspname = 'public' and x.indisunique order by 1, 2`);
  const foreignKeys = await query(`
    select t.relname::text as table, c.conname::text as name, r.relname::text as references,
      array(select a.attname::text from unnest(c.conkey) with ordinality as k(attnum, position)
            join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum order by k.position)::text[] as columns,
      array(select a.attname::text from unnest(c.confkey) with ordinality as k(attnum, position)
            join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum order by k.position)::text[] as "referencedColumns"
    from pg_constraint c join pg_class t on t.oid = c.conrelid join pg_class r on r.oid = c.confrelid
      join pg_namespace n on n.oid = c.connamespace
    where n.nspname = 'public' and c.contype = 'f' order by 1, 2`);
  return {
    tables: tables.map((t) => t.name as string),
    tenantColumns: new Map(tenantColumns.map((c) => [c.table as string, { nullable: c.nullable as boolean }])),
    uniques: uniques as Catalog['uniques'],
    foreignKeys: foreignKeys as Catalog['foreignKeys'],
  };
}

/** Every way the catalog breaks the rule, one line each, naming the table and the constraint. */
function shardingProblems(catalog: Catalog, placement: Placement): string[] {
  const problems: string[] = [];
  const existing = new Set(catalog.tables);
  // Distributed by tenant_id: what the code says belongs to a tenant, and whatever has a tenant_id column.
  const distributed = new Set([...placement.tenantOwned, ...catalog.tenantColumns.keys()]);
  const placeOf = (table: string) => (distributed.has(table) ? 'distributed' : placement.platformWide.has(table) ? 'reference' : placement.infrastructure.has(table) ? 'local' : undefined);

  for (const table of placement.tenantOwned) {
    if (existing.has(table) && !catalog.tenantColumns.has(table)) problems.push(`${table}: tenant-owned (its module says so) but has no tenant_id column`);
  }
  for (const [table, { nullable }] of catalog.tenantColumns) {
    if (nullable) problems.push(`${table}: tenant_id may be null, and a row of no tenant has no node to go to`);
  }
  for (const table of catalog.tables) {
    const places = [distributed.has(table) && 'distributed by tenant_id', placement.platformWide.has(table) && 'platform-wide', placement.infrastructure.has(table) && 'infrastructure'].filter(Boolean);
    if (!places.length) {
      problems.push(`${table}: has no place: give it tenant_id and declare its entity tenant-owned, or declare it platform-wide (a module's platformWide) or infrastructure (db/orm.ts)`);
    } else if (places.length > 1) {
      problems.push(`${table}: placed twice: ${places.join(' and ')}`);
    }
  }
  for (const table of [...placement.tenantOwned, ...placement.platformWide, ...placement.infrastructure]) {
    if (!existing.has(table)) problems.push(`${table}: declared, but the database has no such table`);
  }

  for (const table of catalog.tables.filter((t) => distributed.has(t))) {
    if (!catalog.uniques.some((u) => u.table === table && u.primary)) problems.push(`${table}: has no primary key`);
  }
  for (const unique of catalog.uniques.filter((u) => distributed.has(u.table))) {
    if (!unique.columns.includes('tenant_id')) {
      problems.push(`${unique.table}: ${unique.primary ? 'primary key' : 'unique index'} ${unique.name} (${unique.columns.join(', ')}) lacks tenant_id`);
    }
  }

  for (const fk of catalog.foreignKeys) {
    const from = placeOf(fk.table);
    const to = placeOf(fk.references);
    const described = `foreign key ${fk.name} (${fk.columns.join(', ')}) references ${fk.references} (${fk.referencedColumns.join(', ')})`;
    if (from === 'distributed' && to === 'distributed') {
      const position = fk.columns.indexOf('tenant_id');
      if (position < 0 || fk.referencedColumns[position] !== 'tenant_id') problems.push(`${fk.table}: ${described} without tenant_id on both sides at the same position`);
    } else if ((from === 'distributed' && to === 'local') || (from !== 'distributed' && to === 'distributed')) {
      problems.push(`${fk.table}: ${described}: a ${from ?? 'unplaced'} table may not refer to a ${to} one`);
    }
  }
  return problems;
}

describe('the schema, distributed by tenant', () => {
  it('places every table, and has tenant_id in every key of each distributed table', async () => {
    const db = h.runtime.orm.em.fork().getConnection();
    const catalog = await readCatalog((text) => db.execute(text));
    expect(shardingProblems(catalog, placementOfTheCode())).toEqual([]);
  });

  it('names each table and constraint that breaks the rule (broken in a transaction that is rolled back)', async () => {
    const client = new pg.Client({ connectionString: h.databaseUrl });
    await client.connect();
    try {
      await client.query('begin');
      await client.query(`
        create table scratch_notes (id text primary key, body text not null);
        alter table webhook_attempts drop constraint webhook_attempts_pkey, add constraint webhook_attempts_pkey primary key (id);
        create unique index incidents_number_uq on incidents (number) where closed_at is null;
        create unique index incidents_id_uq on incidents (id);
        create unique index users_email_uq on users (lower(email));
        alter table scopes add column incident_id text references incidents (id);
        alter table incident_notes drop constraint incident_notes_incident_id_fkey,
          add constraint incident_notes_incident_id_fkey foreign key (incident_id) references incidents (id);
        alter table oauth_login_throttles drop column tenant_id cascade;
      `);
      const catalog = await readCatalog(async (text) => (await client.query(text)).rows);
      expect(shardingProblems(catalog, placementOfTheCode())).toEqual([
        'oauth_login_throttles: tenant-owned (its module says so) but has no tenant_id column',
        "scratch_notes: has no place: give it tenant_id and declare its entity tenant-owned, or declare it platform-wide (a module's platformWide) or infrastructure (db/orm.ts)",
        'oauth_login_throttles: has no primary key',
        'incidents: unique index incidents_id_uq (id) lacks tenant_id',
        'incidents: unique index incidents_number_uq (number) lacks tenant_id',
        'users: unique index users_email_uq (lower(email)) lacks tenant_id',
        'webhook_attempts: primary key webhook_attempts_pkey (id) lacks tenant_id',
        'incident_notes: foreign key incident_notes_incident_id_fkey (incident_id) references incidents (id) without tenant_id on both sides at the same position',
        'scopes: foreign key scopes_incident_id_fkey (incident_id) references incidents (id): a reference table may not refer to a distributed one',
      ]);
    } finally {
      await client.query('rollback').catch(() => undefined);
      await client.end();
    }
    // Nothing of it is left.
    const db = h.runtime.orm.em.fork().getConnection();
    expect(shardingProblems(await readCatalog((text) => db.execute(text)), placementOfTheCode())).toEqual([]);
  });
});
