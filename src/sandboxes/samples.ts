// The sample incidents a new sandbox starts with, so that an integrator has something to list, read, page through
// and change from the first call: a few incidents of each severity and stage of an incident's life, with notes, made
// through the incidents service as any change is (numbered, with their events).
import type { EntityManager } from '@mikro-orm/postgresql';
import type { IncidentService } from '../incidents/service.js';

/** Who wrote the sample notes, as their `author` shows. */
const SAMPLE_AUTHOR = 'tessera-sandbox';

interface SampleIncident {
  title: string;
  summary: string;
  severity: 'SEV1' | 'SEV2' | 'SEV3' | 'SEV4';
  status: 'OPEN' | 'INVESTIGATING' | 'MITIGATED' | 'RESOLVED';
  labels: string[];
  notes: string[];
  close?: boolean;
}

export const SAMPLE_INCIDENTS: readonly SampleIncident[] = [
  {
    title: 'Checkout latency above 2 s',
    summary: 'p99 latency of the checkout API rose after the 10:00 deploy.',
    severity: 'SEV2',
    status: 'INVESTIGATING',
    labels: ['sample', 'checkout', 'region:eu-west-1'],
    notes: ['Latency started at 10:02, right after release 2026.03.24-1.', 'Rolling back the release on half of the fleet to compare.'],
  },
  {
    title: 'Single sign-on failing for some users',
    summary: 'Users of two customer domains get an error page after the identity provider redirects back.',
    severity: 'SEV1',
    status: 'MITIGATED',
    labels: ['sample', 'auth'],
    notes: ['The identity provider rotated its signing certificate overnight.', 'New certificate imported; sign-ins succeed again, watching the error rate.'],
  },
  {
    title: 'Nightly export finished three hours late',
    summary: 'The data warehouse export job waited on a lock held by a long-running migration.',
    severity: 'SEV4',
    status: 'OPEN',
    labels: ['sample', 'data'],
    notes: ['No data lost; downstream dashboards were stale until 06:10.'],
  },
  {
    title: 'Payment provider webhooks retried in bulk',
    summary: 'Our endpoint answered 503 for 12 minutes during a database failover; the provider is retrying.',
    severity: 'SEV3',
    status: 'RESOLVED',
    labels: ['sample', 'payments', 'webhooks'],
    notes: ['Failover completed at 14:27.', 'All retried events processed; no duplicate charges found.'],
  },
  {
    title: 'Search results stale in one region',
    summary: 'The search index in ap-southeast-2 stopped receiving updates.',
    severity: 'SEV3',
    status: 'RESOLVED',
    labels: ['sample', 'search', 'region:ap-southeast-2'],
    notes: ['The indexer queue consumer had crashed on a malformed document.', 'Consumer fixed and restarted; index caught up in 40 minutes.'],
    close: true,
  },
];

/**
 * Makes the sample incidents in `em`'s tenant (it must be bound to the sandbox's), in its transaction when it has
 * one; answers how many were made. A sample that the service refuses is a mistake in this file, and fails loudly.
 */
export async function seedSampleIncidents(em: EntityManager, incidents: IncidentService, tenantId: string): Promise<number> {
  for (const sample of SAMPLE_INCIDENTS) {
    const created = await incidents.create(em, tenantId, { title: sample.title, summary: sample.summary, severity: sample.severity, status: sample.status, labels: sample.labels });
    if (!created.ok) throw new Error(`sample incident refused: ${JSON.stringify(created.errors)}`);
    for (const note of sample.notes) {
      const added = await incidents.addNote(em, created.value.id, SAMPLE_AUTHOR, note);
      if (!added.ok) throw new Error(`sample note refused: ${JSON.stringify(added.errors)}`);
    }
    if (sample.close) {
      const closed = await incidents.close(em, created.value.id);
      if (!closed.ok) throw new Error(`sample incident not closed: ${JSON.stringify(closed.errors)}`);
    }
  }
  return SAMPLE_INCIDENTS.length;
}
