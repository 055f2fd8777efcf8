// Fixtures for the GraphQL transport: published bundles, an app holding them, persisted-operation ids.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, print } from 'graphql';
import { expect } from 'vitest';
import { loadBundles } from '../../src/bundles/files.js';
import { schema as getSchema } from '../../src/modules.js';
import { sha256 } from '../../src/ids.js';
import { bearer, type AppWithToken, type Harness, type TenantFixture } from './harness.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The persisted operation id of a file in operations/: SHA-256 of its printed text. */
export function operationId(bundle: string, file: string): string {
  return sha256(print(parse(readFileSync(join(ROOT, 'operations', bundle, `${file}.graphql`), 'utf8'))));
}

export async function publishShippedBundles(h: Harness): Promise<void> {
  const { bundles, problems } = loadBundles(getSchema(), join(ROOT, 'operations'));
  expect(problems).toEqual([]);
  await h.runtime.services.bundles.publish(bundles, 'operator');
}

/** A partner: the tenant's client_credentials app holding `bundles`, with a token for `scopes`. */
export type Partner = AppWithToken;

export function partner(h: Harness, tenant: TenantFixture, bundles: string[], scopes = ['incidents:read', 'incidents:write']): Promise<Partner> {
  return h.appWithToken(tenant, { bundles, scopes });
}

export function gql(h: Harness, who: { token: string }, tenantId: string | null, body: Record<string, unknown>, extraHeaders: Record<string, string> = {}) {
  return h.request({
    method: 'POST',
    url: '/graphql',
    headers: { ...bearer(who.token), 'content-type': 'application/json', ...(tenantId ? { 'x-tenant-id': tenantId } : {}), ...extraHeaders },
    payload: body,
  });
}
