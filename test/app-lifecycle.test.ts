// An app's lifecycle (README "App states"): editing it, suspending and resuming it, deleting it, and ending the
// previous secret's grace period; each token kind (client credentials, a user's access and refresh tokens, service
// tokens) on REST and GraphQL, here and on a second runtime that learns of the change by NOTIFY.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { startRuntime, type Runtime } from '../src/runtime.js';
import { gql, operationId, publishShippedBundles } from './helpers/graphql.js';
import { bearer, startHarness, tokenRequest, type Harness, type TenantFixture } from './helpers/harness.js';
import { authorizeUrl, Browser, createUser, loginAndConsent, pkce } from './helpers/oauth.js';
import { until } from './helpers/poll.js';

let h: Harness;
let acme: TenantFixture;
let globex: TenantFixture;
let operator: string;

const LIST = `sha256:${operationId('incident-read', 'ListIncidents')}`;
const SCOPES = ['incidents:read', 'webhooks:read', 'webhooks:write'];
const PASSWORD = 'a long enough password';

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  globex = await h.tenant('globex');
  operator = await h.operatorToken();
  await publishShippedBundles(h);
  await createUser(h, acme, 'dana@acme.test', PASSWORD);
});
afterAll(() => h?.close());

/** An app that holds every kind of token: client credentials, a user's access and refresh tokens, a service token. */
interface LiveApp {
  clientId: string;
  secret: string;
  machine: string;
  user: string;
  refresh: string;
  service: string;
  serviceId: string;
}

async function liveApp(tenant: TenantFixture = acme, on: Pick<Harness, 'request'> = h): Promise<LiveApp> {
  const registered = await h.registerApp(tenant, {
    name: 'Case sync connector',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    redirect_uris: ['https://integrator.example/callback'],
    requested_scopes: SCOPES,
  });
  const clientId = registered.client_id;
  const secret = registered.client_secret!;
  const basic = { id: clientId, secret };
  const assigned = await h.request({ method: 'POST', url: `/api/v1/platform/apps/${clientId}/bundles`, headers: bearer(operator), payload: { bundle: 'incident-read' } });
  expect(assigned.statusCode).toBe(201);
  const machine = await tokenRequest(on, { grant_type: 'client_credentials' }, basic);
  expect(machine.statusCode, machine.body).toBe(200);

  const { verifier, challenge } = pkce();
  const redirect = await loginAndConsent(
    new Browser(h),
    authorizeUrl({ response_type: 'code', client_id: clientId, redirect_uri: 'https://integrator.example/callback', scope: 'incidents:read webhooks:read', state: 's', code_challenge: challenge, code_challenge_method: 'S256' }),
    'dana@acme.test',
    PASSWORD,
  );
  const code = redirect.searchParams.get('code')!;
  const exchanged = await tokenRequest(on, { grant_type: 'authorization_code', code, redirect_uri: 'https://integrator.example/callback', code_verifier: verifier }, basic);
  expect(exchanged.statusCode, exchanged.body).toBe(200);

  const governance = await h.request({ method: 'PATCH', url: `/v1/platform/apps/${clientId}/governance`, headers: bearer(tenant.adminToken), payload: { allow_service_tokens: true } });
  expect(governance.statusCode).toBe(200);
  const minted = await h.request({ method: 'POST', url: `/v1/platform/apps/${clientId}/service-token`, headers: bearer(tenant.adminToken), payload: { scopes: ['incidents:read', 'webhooks:read'] } });
  expect(minted.statusCode, minted.body).toBe(201);
  return { clientId, secret, machine: machine.json().access_token, user: exchanged.json().access_token, refresh: exchanged.json().refresh_token, service: minted.json().token, serviceId: minted.json().id };
}

type Call = (options: Parameters<Harness['request']>[0]) => ReturnType<Harness['request']>;

/** What each access token kind gets on REST and on GraphQL, through `call`. */
async function standing(call: Call, app: LiveApp, tenantId = acme.tenantId) {
  const rest = async (token: string) => (await call({ method: 'GET', url: '/v1/webhooks', headers: bearer(token) })).statusCode;
  const graphql = async (token: string) =>
    (await call({ method: 'POST', url: '/graphql', headers: { ...bearer(token), 'content-type': 'application/json', 'x-tenant-id': tenantId }, payload: { documentId: LIST } })).statusCode;
  return {
    machine: [await rest(app.machine), await graphql(app.machine)],
    user: [await rest(app.user), await graphql(app.user)],
    service: [await rest(app.service), await graphql(app.service)],
  };
}

const WORKING = { machine: [200, 200], user: [200, 200], service: [200, 200] };
const REFUSED = { machine: [401, 401], user: [401, 401], service: [401, 401] };

const patchApp = (tenant: TenantFixture, clientId: string, payload: object) => h.request({ method: 'PATCH', url: `/v1/platform/apps/${clientId}`, headers: bearer(tenant.adminToken), payload });
const post = (tenant: TenantFixture, path: string, payload?: object) => h.request({ method: 'POST', url: path, headers: bearer(tenant.adminToken), ...(payload ? { payload } : {}) });

async function auditActions(tenant: TenantFixture, targetId: string): Promise<string[]> {
  const res = await h.request({ method: 'GET', url: `/v1/platform/audit-events?target_id=${targetId}&limit=100`, headers: bearer(tenant.adminToken) });
  expect(res.statusCode).toBe(200);
  return res.json().events.map((e: { action: string }) => e.action);
}

describe('PATCH /v1/platform/apps/{client_id}', () => {
  it('changes name, redirect URIs, grants and scopes, answers the app, and audits before and after', async () => {
    const app = await h.registerApp(acme, { name: 'Dashboard', grant_types: ['authorization_code'], redirect_uris: ['https://integrator.example/cb'], requested_scopes: ['incidents:read'] });
    const res = await patchApp(acme, app.client_id, {
      name: '  Dashboard v2 ',
      redirect_uris: ['https://integrator.example/cb2', 'http://127.0.0.1/cb'],
      grant_types: ['authorization_code', 'refresh_token'],
      requested_scopes: ['incidents:read', 'webhooks:read'],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      client_id: app.client_id,
      name: 'Dashboard v2',
      redirect_uris: ['https://integrator.example/cb2', 'http://127.0.0.1/cb'],
      grant_types: ['authorization_code', 'refresh_token'],
      requested_scopes: ['incidents:read', 'webhooks:read'],
      status: 'active',
      suspended_at: null,
      suspended_reason: null,
    });
    expect((await h.request({ method: 'GET', url: `/v1/platform/apps/${app.client_id}`, headers: bearer(acme.adminToken) })).json().name).toBe('Dashboard v2');
    const audit = await h.request({ method: 'GET', url: `/v1/platform/audit-events?action=app.updated&target_id=${app.client_id}`, headers: bearer(acme.adminToken) });
    expect(audit.json().events[0].details).toEqual({
      name: { before: 'Dashboard', after: 'Dashboard v2' },
      redirect_uris: { before: ['https://integrator.example/cb'], after: ['https://integrator.example/cb2', 'http://127.0.0.1/cb'] },
      grant_types: { before: ['authorization_code'], after: ['authorization_code', 'refresh_token'] },
      requested_scopes: { before: ['incidents:read'], after: ['incidents:read', 'webhooks:read'] },
    });
  });

  it('checks each change as registration does, naming the field, and changes nothing when one is refused', async () => {
    const app = await h.registerApp(acme, { name: 'Dashboard', grant_types: ['authorization_code'], redirect_uris: ['https://integrator.example/cb'], requested_scopes: ['incidents:read'] });
    const public_ = await h.registerApp(acme, { name: 'Mobile', grant_types: ['authorization_code'], redirect_uris: ['https://integrator.example/cb'], requested_scopes: ['incidents:read'], token_endpoint_auth_method: 'none' });
    const cases: Array<[string, object, number, object]> = [
      [app.client_id, { redirect_uris: ['http://integrator.example/cb'] }, 400, { error: 'invalid_request', error_description: 'body.redirect_uris[0] must use https (http is allowed only for loopback hosts)' }],
      [app.client_id, { redirect_uris: [] }, 400, { error: 'invalid_request', error_description: 'body.redirect_uris needs at least one URI for the authorization_code grant' }],
      [app.client_id, { grant_types: ['client_credentials'] }, 400, { error: 'invalid_request', error_description: 'body.redirect_uris is only used by the authorization_code grant' }],
      [app.client_id, { grant_types: ['refresh_token'], redirect_uris: [] }, 400, { error: 'invalid_request', error_description: 'body.grant_types: refresh_token is only issued with authorization_code' }],
      [app.client_id, { requested_scopes: ['incidents:export'] }, 400, { error: 'invalid_scope', error_description: 'body.requested_scopes names scopes that are not published: incidents:export' }],
      [app.client_id, { name: '   ' }, 400, { error: 'invalid_request' }],
      [app.client_id, {}, 400, { error: 'invalid_request' }],
      [app.client_id, { token_endpoint_auth_method: 'none' }, 400, { error: 'invalid_request' }],
      [public_.client_id, { grant_types: ['authorization_code', 'client_credentials'], redirect_uris: ['https://integrator.example/cb'] }, 400, { error: 'invalid_request', error_description: 'body.grant_types: client_credentials needs a confidential client (token_endpoint_auth_method none is public)' }],
    ];
    for (const [clientId, body, status, error] of cases) {
      const res = await patchApp(acme, clientId, body);
      expect({ body, status: res.statusCode, error: res.json() }).toMatchObject({ body, status, error });
    }
    const unchanged = await h.request({ method: 'GET', url: `/v1/platform/apps/${app.client_id}`, headers: bearer(acme.adminToken) });
    expect(unchanged.json()).toMatchObject({ name: 'Dashboard', redirect_uris: ['https://integrator.example/cb'], grant_types: ['authorization_code'], requested_scopes: ['incidents:read'] });
    expect(await auditActions(acme, app.client_id)).toEqual(['app.created']);
  });

  it('narrows scopes at once: new tokens cannot have them, tokens already issued lose them and keep the rest', async () => {
    const app = await liveApp();
    expect(await standing((o) => h.request(o), app)).toEqual(WORKING);
    const res = await patchApp(acme, app.clientId, { requested_scopes: ['webhooks:read', 'webhooks:write'] });
    expect(res.statusCode, res.body).toBe(200);

    // Refused at verification for the scope it lost (GraphQL's list needs incidents:read), working for the rest.
    const listed = await gql(h, { token: app.machine }, acme.tenantId, { documentId: LIST });
    expect(listed.statusCode).toBe(403);
    expect(listed.json().errors[0]).toMatchObject({ message: 'the token lacks the scopes this operation needs: incidents:read', extensions: { code: 'FORBIDDEN' } });
    expect((await gql(h, { token: app.user }, acme.tenantId, { documentId: LIST })).statusCode).toBe(403);
    expect((await h.request({ method: 'GET', url: '/v1/webhooks', headers: bearer(app.machine) })).statusCode).toBe(200);
    const introspected = await h.request({
      method: 'POST',
      url: '/v1/oauth/introspect',
      headers: { authorization: `Basic ${Buffer.from(`${app.clientId}:${app.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token: app.machine }).toString(),
    });
    expect(introspected.json()).toMatchObject({ active: true, scope: 'webhooks:read webhooks:write' });

    const basic = { id: app.clientId, secret: app.secret };
    const asked = await tokenRequest(h, { grant_type: 'client_credentials', scope: 'incidents:read' }, basic);
    expect(asked.json()).toEqual({ error: 'invalid_scope', error_description: 'scope not allowed for this client: incidents:read' });
    expect((await tokenRequest(h, { grant_type: 'client_credentials' }, basic)).json().scope).toBe('webhooks:read webhooks:write');
    // The user's grant had incidents:read and webhooks:read: a refresh now carries what is left.
    const refreshed = await tokenRequest(h, { grant_type: 'refresh_token', refresh_token: app.refresh }, basic);
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect(refreshed.json().scope).toBe('webhooks:read');
    const service = await h.request({ method: 'POST', url: `/v1/platform/apps/${app.clientId}/service-token`, headers: bearer(acme.adminToken), payload: { scopes: ['incidents:read'] } });
    expect(service.json()).toEqual({ error: 'invalid_scope', error_description: 'body.scopes are not approved for this app: incidents:read' });
    // The service token minted with incidents:read before keeps webhooks:read only.
    expect((await gql(h, { token: app.service }, acme.tenantId, { documentId: LIST })).statusCode).toBe(403);
    expect((await h.request({ method: 'GET', url: '/v1/webhooks', headers: bearer(app.service) })).statusCode).toBe(200);
  });

  it('narrows grants at once: a grant the app lost issues nothing more', async () => {
    const app = await liveApp();
    const res = await patchApp(acme, app.clientId, { grant_types: ['authorization_code', 'client_credentials'] });
    expect(res.statusCode, res.body).toBe(200);
    const refreshed = await tokenRequest(h, { grant_type: 'refresh_token', refresh_token: app.refresh }, { id: app.clientId, secret: app.secret });
    expect(refreshed.json()).toEqual({ error: 'unauthorized_client', error_description: 'this client is not registered for the refresh_token grant' });
  });
});

describe('POST /v1/platform/apps/{client_id}/suspend and /resume', () => {
  it('refuses every token of a suspended app on REST and GraphQL, and issues none, until it is resumed', async () => {
    const app = await liveApp();
    const basic = { id: app.clientId, secret: app.secret };
    expect(await standing((o) => h.request(o), app)).toEqual(WORKING);

    const suspended = await post(acme, `/v1/platform/apps/${app.clientId}/suspend`, { reason: 'key leaked in a public repository' });
    expect(suspended.statusCode, suspended.body).toBe(200);
    expect(suspended.json()).toMatchObject({ client_id: app.clientId, status: 'suspended', suspended_reason: 'key leaked in a public repository' });
    expect(suspended.json().suspended_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    expect(await standing((o) => h.request(o), app)).toEqual(REFUSED);
    const refused = await h.request({ method: 'GET', url: '/v1/webhooks', headers: bearer(app.machine) });
    expect(refused.json()).toEqual({ error: 'unauthorized', error_description: 'the app this token was issued to is suspended' });
    expect(refused.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="the app this token was issued to is suspended"');
    const graphql = await gql(h, { token: app.service }, acme.tenantId, { documentId: LIST });
    expect(graphql.statusCode).toBe(401);
    expect(graphql.json().errors[0]).toMatchObject({ message: 'the app this token was issued to is suspended', extensions: { code: 'UNAUTHENTICATED' } });

    const SUSPENDED = { error: 'invalid_client', error_description: 'this client is suspended: a tenant admin suspended the app; no token is issued until it is resumed' };
    const issued = await tokenRequest(h, { grant_type: 'client_credentials' }, basic);
    expect({ status: issued.statusCode, body: issued.json() }).toEqual({ status: 401, body: SUSPENDED });
    const refreshed = await tokenRequest(h, { grant_type: 'refresh_token', refresh_token: app.refresh }, basic);
    expect({ status: refreshed.statusCode, body: refreshed.json() }).toEqual({ status: 401, body: SUSPENDED });
    // The wrong secret is not told that the client exists, let alone that it is suspended.
    const wrong = await tokenRequest(h, { grant_type: 'client_credentials' }, { id: app.clientId, secret: 'tsec_wrong' });
    expect(wrong.json()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
    const signIn = await new Browser(h).get(authorizeUrl({ response_type: 'code', client_id: app.clientId, redirect_uri: 'https://integrator.example/callback', scope: 'incidents:read', state: 's', code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    expect(signIn.statusCode).toBe(400);
    expect(signIn.headers.location).toBeUndefined();
    expect(signIn.body).toContain('Case sync connector is suspended by an administrator of its organisation');
    const mint = await h.request({ method: 'POST', url: `/v1/platform/apps/${app.clientId}/service-token`, headers: bearer(acme.adminToken), payload: { scopes: ['webhooks:read'] } });
    expect(mint.json()).toEqual({ error: 'conflict', error_description: `app ${app.clientId} is suspended; resume it before minting service tokens` });

    // Suspending again changes nothing: the first suspension's time and reason stay, and it is audited once.
    const again = await post(acme, `/v1/platform/apps/${app.clientId}/suspend`);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ status: 'suspended', suspended_at: suspended.json().suspended_at, suspended_reason: 'key leaked in a public repository' });

    const resumed = await post(acme, `/v1/platform/apps/${app.clientId}/resume`);
    expect(resumed.statusCode, resumed.body).toBe(200);
    expect(resumed.json()).toMatchObject({ status: 'active', suspended_at: null, suspended_reason: null });
    expect(await standing((o) => h.request(o), app)).toEqual(WORKING);
    expect((await tokenRequest(h, { grant_type: 'client_credentials' }, basic)).statusCode).toBe(200);
    expect((await tokenRequest(h, { grant_type: 'refresh_token', refresh_token: app.refresh }, basic)).statusCode).toBe(200);
    expect(await auditActions(acme, app.clientId)).toEqual(['app.resumed', 'app.suspended', 'app.governance_changed', 'bundle.assigned', 'app.created']);
  });

  it('refuses them at once on another process too, which learns of the suspension by NOTIFY', async () => {
    const app = await liveApp();
    const other: Runtime = await startRuntime(h.config, { embeddedMode: 'own', background: true });
    const otherApp: FastifyInstance = await buildApp(h.config, other);
    try {
      const onOther: Call = (o) => otherApp.inject(o);
      // Verified, and so cached as good, on the other process first.
      expect(await standing(onOther, app)).toEqual(WORKING);
      expect((await post(acme, `/v1/platform/apps/${app.clientId}/suspend`)).statusCode).toBe(200);
      const since = Date.now();
      const seen = await until(() => standing(onOther, app), (s) => JSON.stringify(s) === JSON.stringify(REFUSED), { timeoutMs: 2000, intervalMs: 10 });
      expect(seen).toEqual(REFUSED);
      expect(Date.now() - since).toBeLessThan(2000);
      const refreshed = await tokenRequest({ request: onOther }, { grant_type: 'refresh_token', refresh_token: app.refresh }, { id: app.clientId, secret: app.secret });
      expect(refreshed.json().error).toBe('invalid_client');

      expect((await post(acme, `/v1/platform/apps/${app.clientId}/resume`)).statusCode).toBe(200);
      expect(await until(() => standing(onOther, app), (s) => JSON.stringify(s) === JSON.stringify(WORKING), { timeoutMs: 2000, intervalMs: 10 })).toEqual(WORKING);
    } finally {
      await otherApp.close();
      await other.close();
    }
  });
});

describe('DELETE /v1/platform/apps/{client_id}', () => {
  it('removes the app and everything it holds, refuses each of its tokens for good, and keeps the audit record', async () => {
    const app = await liveApp();
    const subscription = await h.request({ method: 'POST', url: '/v1/webhooks', headers: bearer(app.machine), payload: { url: 'https://integrator.example/hooks', events: ['incident.created'] } });
    expect(subscription.statusCode, subscription.body).toBe(201);
    const counts = async () => {
      const [row] = await h.runtime.orm.em.fork().getConnection().execute(
        `select (select count(*) from client_secrets where app_id = ?)::int as secrets,
                (select count(*) from service_tokens where app_id = ?)::int as service_tokens,
                (select count(*) from oauth_grants where app_id = ?)::int as grants,
                (select count(*) from oauth_refresh_tokens where app_id = ?)::int as refresh_tokens,
                (select count(*) from oauth_consents where app_id = ?)::int as consents,
                (select count(*) from app_bundles where app_id = ?)::int as bundles,
                (select count(*) from webhook_subscriptions where owner_client_id = ?)::int as subscriptions`,
        Array(7).fill(app.clientId),
      );
      return row;
    };
    expect(await counts()).toEqual({ secrets: 1, service_tokens: 1, grants: 1, refresh_tokens: 1, consents: 1, bundles: 1, subscriptions: 1 });

    const deleted = await h.request({ method: 'DELETE', url: `/v1/platform/apps/${app.clientId}`, headers: bearer(acme.adminToken) });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expect(await counts()).toEqual({ secrets: 0, service_tokens: 0, grants: 0, refresh_tokens: 0, consents: 0, bundles: 0, subscriptions: 0 });

    expect(await standing((o) => h.request(o), app)).toEqual(REFUSED);
    expect((await h.request({ method: 'GET', url: '/v1/webhooks', headers: bearer(app.service) })).json()).toEqual({ error: 'unauthorized', error_description: 'the app this token was issued to has been deleted' });
    const basic = { id: app.clientId, secret: app.secret };
    const forms: Array<Record<string, string>> = [{ grant_type: 'client_credentials' }, { grant_type: 'refresh_token', refresh_token: app.refresh }];
    for (const form of forms) {
      const res = await tokenRequest(h, form, basic);
      expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 401, body: { error: 'invalid_client', error_description: 'client authentication failed' } });
    }
    expect((await h.request({ method: 'GET', url: `/v1/platform/apps/${app.clientId}`, headers: bearer(acme.adminToken) })).statusCode).toBe(404);
    const list = await h.request({ method: 'GET', url: '/v1/platform/apps?limit=100', headers: bearer(acme.adminToken) });
    expect(list.json().apps.map((a: { client_id: string }) => a.client_id)).not.toContain(app.clientId);
    expect((await h.request({ method: 'GET', url: `/api/v1/platform/apps/${app.clientId}/bundles`, headers: bearer(operator) })).statusCode).toBe(404);
    expect((await h.request({ method: 'DELETE', url: `/v1/platform/apps/${app.clientId}`, headers: bearer(acme.adminToken) })).statusCode).toBe(404);

    // The audit log keeps the app's record; its id stays taken by a tombstone, so it is never handed out again.
    const audit = await h.request({ method: 'GET', url: `/v1/platform/audit-events?action=app.deleted&target_id=${app.clientId}`, headers: bearer(acme.adminToken) });
    expect(audit.json().events[0].details).toEqual({
      name: 'Case sync connector',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      requested_scopes: SCOPES,
      removed: { client_secrets: 1, service_tokens: 1, grants: 1, authorization_requests: 0, consents: 1, bundle_assignments: 1, operation_stats: 0, webhook_subscriptions: 1 },
    });
    expect(await auditActions(acme, app.clientId)).toContain('app.created');
    const [tombstone] = await h.runtime.orm.em.fork().getConnection().execute('select status, name, deleted_at is not null as deleted from apps where id = ?', [app.clientId]);
    expect(tombstone).toEqual({ status: 'deleted', name: 'Case sync connector', deleted: true });
  });
});

describe('DELETE /v1/platform/apps/{client_id}/secrets/previous', () => {
  it('ends the previous secret now, keeps the current one, and mints none', async () => {
    const app = await h.registerApp(acme);
    const rotated = await post(acme, `/v1/platform/apps/${app.client_id}/rotate-secret`);
    const current = rotated.json().client_secret;
    const works = async (secret: string) => (await tokenRequest(h, { grant_type: 'client_credentials' }, { id: app.client_id, secret })).statusCode;
    expect([await works(app.client_secret!), await works(current)]).toEqual([200, 200]);

    const ended = await h.request({ method: 'DELETE', url: `/v1/platform/apps/${app.client_id}/secrets/previous`, headers: bearer(acme.adminToken) });
    expect(ended.statusCode).toBe(204);
    expect([await works(app.client_secret!), await works(current)]).toEqual([401, 200]);
    const [{ n }] = await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from client_secrets where app_id = ?', [app.client_id]);
    expect(n).toBe(2);
    expect(await auditActions(acme, app.client_id)).toEqual(['app.previous_secret_ended', 'app.secret_rotated', 'app.created']);

    const again = await h.request({ method: 'DELETE', url: `/v1/platform/apps/${app.client_id}/secrets/previous`, headers: bearer(acme.adminToken) });
    expect({ status: again.statusCode, body: again.json() }).toEqual({ status: 404, body: { error: 'not_found', error_description: `app ${app.client_id} has no previous secret in a grace period` } });
    const publicApp = await h.registerApp(acme, { name: 'Mobile', grant_types: ['authorization_code'], redirect_uris: ['https://integrator.example/cb'], requested_scopes: ['incidents:read'], token_endpoint_auth_method: 'none' });
    const none = await h.request({ method: 'DELETE', url: `/v1/platform/apps/${publicApp.client_id}/secrets/previous`, headers: bearer(acme.adminToken) });
    expect({ status: none.statusCode, body: none.json() }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: `app ${publicApp.client_id} is a public client and has no secret` } });
  });
});

describe('another tenant', () => {
  it('gets a 404 on every lifecycle route of an app it does not own, and changes nothing', async () => {
    const app = await h.registerApp(acme);
    const routes: Array<[string, string, object | undefined]> = [
      ['PATCH', `/v1/platform/apps/${app.client_id}`, { name: 'pwned' }],
      ['POST', `/v1/platform/apps/${app.client_id}/suspend`, {}],
      ['POST', `/v1/platform/apps/${app.client_id}/resume`, undefined],
      ['DELETE', `/v1/platform/apps/${app.client_id}/secrets/previous`, undefined],
      ['DELETE', `/v1/platform/apps/${app.client_id}`, undefined],
    ];
    for (const [method, url, payload] of routes) {
      const res = await h.request({ method: method as 'POST', url, headers: bearer(globex.adminToken), ...(payload ? { payload } : {}) });
      expect({ url, method, status: res.statusCode, body: res.json() }).toEqual({ url, method, status: 404, body: { error: 'not_found', error_description: `no app with client_id ${app.client_id}` } });
    }
    const mine = await h.request({ method: 'GET', url: `/v1/platform/apps/${app.client_id}`, headers: bearer(acme.adminToken) });
    expect(mine.json()).toMatchObject({ name: 'Case sync connector', status: 'active' });
    // An app's own token is no admin either.
    const token = (await tokenRequest(h, { grant_type: 'client_credentials' }, { id: app.client_id, secret: app.client_secret! })).json().access_token;
    expect((await h.request({ method: 'POST', url: `/v1/platform/apps/${app.client_id}/suspend`, headers: bearer(token) })).statusCode).toBe(403);
  });
});
