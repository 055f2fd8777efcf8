// The incidents list through its prepared query (src/db/prepared.ts): every combination of filters answers what
// MikroORM's own find answers, each tenant sees only its rows even when another tenant's request prepared the
// SQL, and a query that could run without the tenant, or with a value that is not its input, never runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleVersion } from '../src/bundles/entities.js';
import { PreparedQuery } from '../src/db/prepared.js';
import { TENANT_FILTER } from '../src/db/tenant.js';
import { Incident } from '../src/incidents/entities.js';
import type { IncidentFilter, IncidentService } from '../src/incidents/service.js';
import { startHarness, type Harness, type TenantFixture } from './helpers/harness.js';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;
let incidents: IncidentService;
let midpoint: Date;

const emFor = (tenantId: string) => {
  const em = h.runtime.orm.em.fork();
  em.setFilterParams(TENANT_FILTER, { tenantId });
  return em;
};

beforeAll(async () => {
  h = await startHarness();
  incidents = h.runtime.services.incidents;
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  const statuses = ['OPEN', 'INVESTIGATING', 'MITIGATED', 'RESOLVED'] as const;
  for (let i = 0; i < 12; i++) {
    const created = await incidents.create(emFor(acme.tenantId), acme.tenantId, { title: `Acme ${i}`, severity: (['SEV1', 'SEV2', 'SEV3', 'SEV4'] as const)[i % 4], labels: [`l${i}`] });
    if (!created.ok) throw new Error('create failed');
    if (i % 3) await incidents.update(emFor(acme.tenantId), created.value.id, { status: statuses[i % 4] });
    if (i === 5) {
      await h.clock.advance(20);
      midpoint = new Date(h.clock.now());
      await h.clock.advance(20);
    }
  }
  await incidents.create(emFor(globex.tenantId), globex.tenantId, { title: 'Globex only', severity: 'SEV1' });
});
afterAll(() => h?.close());

/** The same page through MikroORM's find, entities and all. */
async function reference(tenantId: string, filter: IncidentFilter, first: number, after: number | null) {
  const where: Record<string, unknown> = {};
  if (filter.status) where.status = filter.status;
  if (filter.severity) where.severity = filter.severity;
  if (filter.updatedSince) where.updatedAt = { $gte: filter.updatedSince };
  if (after !== null) where.number = { $lt: after };
  const rows = await emFor(tenantId).find(Incident, where, { orderBy: { number: 'desc' }, limit: first + 1 });
  return { items: rows.slice(0, first).map((i) => ({ ...i })), hasNextPage: rows.length > first };
}

describe('the prepared incidents list', () => {
  const filters: Array<[string, IncidentFilter]> = [
    ['no filter', {}],
    ['status', { status: 'INVESTIGATING' }],
    ['severity', { severity: 'SEV2' }],
    ['updatedSince', { updatedSince: undefined as unknown as Date }],
    ['status and severity', { status: 'OPEN', severity: 'SEV1' }],
    ['every filter', { status: 'MITIGATED', severity: 'SEV3', updatedSince: undefined as unknown as Date }],
  ];
  it.each(filters)('answers what find answers: %s, with and without a cursor, at several page sizes', async (_name, given) => {
    const filter = { ...given, ...('updatedSince' in given ? { updatedSince: midpoint } : {}) };
    for (const [first, after] of [[1, null], [5, null], [100, null], [2, 9], [3, 4], [10, 1]] as const) {
      const page = await incidents.list(emFor(acme.tenantId), filter, first, after);
      expect({ items: page.items.map((i) => ({ ...i })), hasNextPage: page.hasNextPage }, `${first} after ${after}`).toEqual(await reference(acme.tenantId, filter, first, after));
    }
  });

  it('binds each request\'s own tenant to SQL another tenant\'s request prepared', async () => {
    const acmePage = await incidents.list(emFor(acme.tenantId), { severity: 'SEV1' }, 50, null);
    const globexPage = await incidents.list(emFor(globex.tenantId), { severity: 'SEV1' }, 50, null);
    expect(acmePage.items.every((i) => i.tenantId === acme.tenantId)).toBe(true);
    expect(globexPage.items.map((i) => i.title)).toEqual(['Globex only']);
    expect((await incidents.list(emFor('ten_nobody'), {}, 50, null)).items).toEqual([]);
  });

  it('runs on the transaction\'s connection inside a transaction, and sees its uncommitted rows', async () => {
    const em = emFor(acme.tenantId);
    const seen = await em.transactional(async (tx) => {
      await incidents.create(tx, acme.tenantId, { title: 'Not yet committed', severity: 'SEV4' });
      return (await incidents.list(tx, { severity: 'SEV4' }, 100, null)).items.map((i) => i.title);
    });
    expect(seen).toContain('Not yet committed');
  });

  it('never runs without the request\'s tenant', async () => {
    const unbound = h.runtime.orm.em.fork();
    await expect(incidents.list(unbound, {}, 10, null)).rejects.toThrow();
    const query = new PreparedQuery<{ limit: number }>((em, q) => em.createQueryBuilder(Incident).select('*').limit(q.limit));
    await expect(query.all(unbound, { limit: 5 })).rejects.toThrow();
  });

  it('refuses SQL that binds a value which is not its input, or that is not filtered by tenant', async () => {
    const constant = new PreparedQuery<{ limit: number }>((em, q) => em.createQueryBuilder(Incident).select('*').where({ status: 'OPEN' }).limit(q.limit));
    await expect(constant.all(emFor(acme.tenantId), { limit: 5 })).rejects.toThrow(/not its input/);
    // Bundle versions belong to no tenant: MikroORM's tenant filter does not apply to them.
    const unfiltered = new PreparedQuery<{ limit: number }>((em, q) => em.createQueryBuilder(BundleVersion).select('*').limit(q.limit));
    await expect(unfiltered.all(emFor(acme.tenantId), { limit: 5 })).rejects.toThrow(/filtered by tenant/);
  });
});
