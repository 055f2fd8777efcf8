// Incident changes write the row, the event, its deliveries and its dispatch job in one statement that applies
// only to the version of the row that was read (src/incidents/service.ts). These tests hold that to what a
// user sees: concurrent writers lose nothing and each event describes the row it wrote, a change that lost a
// race is decided again on the new row, and the event reaches exactly the tenant's matching subscriptions.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TENANT_FILTER } from '../src/db/tenant.js';
import type { IncidentService } from '../src/incidents/service.js';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { until } from './helpers/poll.js';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;
let db: pg.Client;
let incidents: IncidentService;

const emFor = (tenantId: string) => {
  const em = h.runtime.orm.em.fork();
  em.setFilterParams(TENANT_FILTER, { tenantId });
  return em;
};

async function createIncident(tenant: TenantFixture, title = 'Checkout errors'): Promise<string> {
  const created = await incidents.create(emFor(tenant.tenantId), tenant.tenantId, { title, severity: 'SEV2' });
  if (!created.ok) throw new Error(JSON.stringify(created.errors));
  return created.value.id;
}

/** The incident's events, oldest first, with their payload. */
async function eventsOf(incidentId: string): Promise<Array<{ type: string; data: { incident: Record<string, unknown>; changes?: string[]; note?: { id: string } } }>> {
  const { rows } = await db.query(`select type, data from domain_events where data->'incident'->>'id' = $1 order by created_at, id`, [incidentId]);
  return rows;
}

async function row(incidentId: string): Promise<Record<string, unknown>> {
  const { rows } = await db.query('select * from incidents where id = $1', [incidentId]);
  return rows[0];
}

async function subscribe(tenant: TenantFixture, events: string[], enabled = true): Promise<string> {
  const created = await h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(tenant.adminToken), payload: { url: 'https://hooks.example.test/tessera', events } });
  expect(created.statusCode).toBe(201);
  const { id } = created.json() as { id: string };
  if (!enabled) expect((await h.request({ method: 'PUT', url: `/v1/webhooks/${id}`, headers: bearer(tenant.adminToken), payload: { enabled: false } })).statusCode).toBe(200);
  return id;
}

beforeAll(async () => {
  h = await startHarness();
  incidents = h.runtime.services.incidents;
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await h?.close();
});

describe('incident changes', () => {
  it('keeps every one of concurrent changes to one incident, each event describing the row it wrote', async () => {
    const id = await createIncident(acme);
    const summaries = Array.from({ length: 12 }, (_, i) => `summary ${i}`);
    const notes = Array.from({ length: 6 }, (_, i) => `note ${i}`);
    const results = await Promise.all([
      ...summaries.map((summary) => incidents.update(emFor(acme.tenantId), id, { summary })),
      ...notes.map((body) => incidents.addNote(emFor(acme.tenantId), id, 'usr_writer', body)),
    ]);
    expect(results.every((r) => r.ok)).toBe(true);

    const updates = (await eventsOf(id)).filter((e) => e.type === 'incident.updated');
    expect(updates).toHaveLength(summaries.length + notes.length);
    expect(updates.filter((e) => e.data.changes?.[0] === 'summary').map((e) => e.data.incident.summary).sort()).toEqual([...summaries].sort());
    const { rows: written } = await db.query('select id, body from incident_notes where incident_id = $1 order by body', [id]);
    expect(written.map((n) => n.body)).toEqual(notes);
    expect(updates.filter((e) => e.data.note).map((e) => e.data.note!.id).sort()).toEqual(written.map((n) => n.id).sort());
    // The row is what the last event says it is.
    const last = updates.at(-1)!.data.incident;
    const final = await row(id);
    expect(final.summary).toBe(last.summary);
    expect((final.updated_at as Date).toISOString()).toBe(last.updated_at);
  });

  it('decides a change again on the row another writer committed meanwhile', async () => {
    const id = await createIncident(acme);
    // Another writer holds the row: the change reads the old version, then its write waits for the lock.
    await db.query('begin');
    await db.query(`update incidents set summary = 'written elsewhere' where id = $1`, [id]);
    const pending = incidents.update(emFor(acme.tenantId), id, { severity: 'SEV1' });
    await waitForLockWaiter();
    await db.query('commit');
    const result = await pending;
    expect(result.ok && { summary: result.value.summary, severity: result.value.severity }).toEqual({ summary: 'written elsewhere', severity: 'SEV1' });
    const [event] = (await eventsOf(id)).filter((e) => e.type === 'incident.updated');
    expect(event!.data.incident).toMatchObject({ summary: 'written elsewhere', severity: 'SEV1' });
    expect(event!.data.changes).toEqual(['severity']);
    expect(await row(id)).toMatchObject({ summary: 'written elsewhere', severity: 'SEV1' });
  });

  it('refuses a change that a concurrent close overtook, and writes nothing for it', async () => {
    const id = await createIncident(acme);
    await db.query('begin');
    await db.query(`update incidents set status = 'CLOSED', closed_at = now() where id = $1`, [id]);
    const pending = incidents.update(emFor(acme.tenantId), id, { summary: 'too late' });
    await waitForLockWaiter();
    await db.query('commit');
    expect(await pending).toEqual({ ok: false, errors: [{ field: 'id', code: 'INCIDENT_CLOSED', message: 'a closed incident cannot change' }] });
    expect((await eventsOf(id)).map((e) => e.type)).toEqual(['incident.created']);
    expect((await row(id)).summary).toBe('');
  });

  it('closes once when closes race', async () => {
    const id = await createIncident(acme);
    const results = await Promise.all(Array.from({ length: 5 }, () => incidents.close(emFor(acme.tenantId), id)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.errors[0]!.code)).toEqual(Array(4).fill('INCIDENT_CLOSED'));
    expect((await eventsOf(id)).map((e) => e.type)).toEqual(['incident.created', 'incident.closed']);
  });

  it("never changes another tenant's incident", async () => {
    const id = await createIncident(globex);
    expect(await incidents.update(emFor(acme.tenantId), id, { summary: 'from acme' })).toEqual({
      ok: false,
      errors: [{ field: 'id', code: 'NOT_FOUND', message: `no incident ${id}` }],
    });
    expect(await incidents.addNote(emFor(acme.tenantId), id, 'usr_x', 'from acme')).toMatchObject({ ok: false, errors: [{ field: 'incidentId', code: 'NOT_FOUND' }] });
    expect(await incidents.close(emFor(acme.tenantId), id)).toMatchObject({ ok: false, errors: [{ code: 'NOT_FOUND' }] });
    expect((await eventsOf(id)).map((e) => e.type)).toEqual(['incident.created']);
    expect(await row(id)).toMatchObject({ summary: '', status: 'OPEN' });
    expect((await db.query('select count(*)::int as n from incident_notes where incident_id = $1', [id])).rows[0].n).toBe(0);
  });

  it("delivers an event to the tenant's enabled subscriptions to its type, with one dispatch job", async () => {
    const tenant = await h.tenant();
    const matching = [await subscribe(tenant, ['incident.updated']), await subscribe(tenant, ['incident.created', 'incident.updated'])];
    await subscribe(tenant, ['incident.closed']);
    await subscribe(tenant, ['incident.updated'], false);
    await subscribe(globex, ['incident.updated']);
    const id = await createIncident(tenant);
    const updated = await incidents.update(emFor(tenant.tenantId), id, { title: 'Checkout is down' });
    expect(updated.ok).toBe(true);

    const { rows: deliveries } = await db.query(
      `select d.id, d.webhook_id, d.tenant_id, d.status, d.attempts, d.body from webhook_deliveries d join domain_events e on e.id = d.event_id
       where e.type = 'incident.updated' and e.data->'incident'->>'id' = $1 order by d.webhook_id`,
      [id],
    );
    expect(deliveries.map((d) => d.webhook_id)).toEqual([...matching].sort());
    for (const d of deliveries) {
      expect(d).toMatchObject({ tenant_id: tenant.tenantId, status: 'queued', attempts: 0 });
      expect(d.id).toMatch(/^dlv_[A-Za-z0-9_-]{20}$/);
      expect(JSON.parse(d.body)).toMatchObject({ type: 'incident.updated', tenant_id: tenant.tenantId, data: { incident: { id, title: 'Checkout is down' }, changes: ['title'] } });
    }
    expect(deliveries[0].id).not.toBe(deliveries[1].id);
    const { rows: jobs } = await db.query(
      `select j.payload from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
       where t.identifier = 'webhook-dispatch' and (j.payload->'deliveryIds')::jsonb ?| $1`,
      [deliveries.map((d) => d.id)],
    );
    expect(jobs.map((j) => [...j.payload.deliveryIds].sort())).toEqual([deliveries.map((d) => d.id).sort()]);
    // The job names the deliveries' tenant, so that the worker reads them by their whole key.
    expect(jobs.map((j) => j.payload.tenantId)).toEqual([tenant.tenantId]);
  });

  it('writes an event without deliveries or a job when nobody subscribes, and nothing for a change that changes nothing', async () => {
    const tenant = await h.tenant();
    const id = await createIncident(tenant);
    await incidents.update(emFor(tenant.tenantId), id, { summary: 'first' });
    await incidents.update(emFor(tenant.tenantId), id, { summary: 'first' });
    expect((await eventsOf(id)).map((e) => e.type)).toEqual(['incident.created', 'incident.updated']);
    expect((await db.query('select count(*)::int as n from webhook_deliveries where tenant_id = $1', [tenant.tenantId])).rows[0].n).toBe(0);
  });
});

/** Waits until a backend of this database waits for a row lock. */
async function waitForLockWaiter(): Promise<void> {
  const waiting = async () => (await db.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)).rows[0].n;
  if ((await until(waiting, (n) => n > 0, { timeoutMs: 2000, intervalMs: 10 })) === 0) throw new Error('no backend waited for the row lock');
}
