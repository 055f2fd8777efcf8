// Fixtures for the GraphQL transport: published bundles, an app holding them, persisted-operation ids.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, print } from 'graphql';
import { expect } from 'vitest';
import { loadBundles } from '../../src/bundles/files.js';
import { schema as getSchema } from '../../src/modules.js';
import { sha256 } from '../../src/ids.js';
import { bearer, type Harness, type TenantFixture } from './harness.js';
import { tokenRequest } from './oauth.js';

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

export interface Partner {
  clientId: string;
  secret: string;
  token: string;
}

/** A client_credentials app of the tenant, holding `bundles`, with a token for `scopes`. */
export async function partner(h: Harness, tenant: TenantFixture, bundles: string[], scopes = ['incidents:read', 'incidents:write']): Promise<Partner> {
  const created = await h.request({
    method: 'POST',
    url: '/v1/platform/apps',
    headers: bearer(tenant.adminToken),
    payload: { name: 'Partner sync', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['incidents:read', 'incidents:write', 'webhooks:read', 'webhooks:write'] },
  });
  expect(created.statusCode).toBe(201);
  const { client_id: clientId, client_secret: secret } = created.json();
  const operator = await h.operatorToken();
  for (const bundle of bundles) {
    const res = await h.request({ method: 'POST', url: `/api/v1/platform/apps/${clientId}/bundles`, headers: bearer(operator), payload: { bundle } });
    expect(res.statusCode).toBe(201);
  }
  const token = await tokenRequest(h, { grant_type: 'client_credentials', scope: scopes.join(' ') }, { id: clientId, secret });
  expect(token.statusCode).toBe(200);
  return { clientId, secret, token: token.json().access_token };
}

export function gql(h: Harness, who: { token: string }, tenantId: string | null, body: Record<string, unknown>, extraHeaders: Record<string, string> = {}) {
  return h.request({
    method: 'POST',
    url: '/graphql',
    headers: { ...bearer(who.token), 'content-type': 'application/json', ...(tenantId ? { 'x-tenant-id': tenantId } : {}), ...extraHeaders },
    payload: body,
  });
}
