// Input is checked at the edge, in one place per transport: a NUL character or an unpaired surrogate anywhere in a
// request (a path id, a query string, a JSON or form field, a GraphQL variable) is refused before anything reaches
// PostgreSQL, with a 4xx that names where it is, and bodies are typed strictly (query strings alone are coerced).
// A client's mistake is never a 5xx, and never logged at error level.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, operationId, partner, publishShippedBundles, type Partner } from './helpers/graphql.js';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { loggedApp, type LoggedApp } from './helpers/logged-app.js';

let h: Harness;
let acme: TenantFixture;
let sync: Partner;
let machine: { client_id: string; client_secret?: string };
/** The app whose log the tests read. */
let app: LoggedApp;

const CREATE = operationId('incident-sync', 'CreateIncident');
const LIST = operationId('incident-read', 'ListIncidents');
const NUL = '\u0000';
const LONE = '\ud800';

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  await publishShippedBundles(h);
  sync = await partner(h, acme, ['incident-read', 'incident-sync']);
  machine = await h.registerApp(acme);
  app = await loggedApp(h);
});
afterAll(async () => {
  await app?.close();
  await h?.close();
});

const request: LoggedApp['request'] = (options) => app.request(options);
const invalid = (description: string) => ({ error: 'invalid_request', error_description: description });
const TEXT_PROBLEM = 'must not contain a NUL character or an unpaired surrogate';

describe('NUL characters and unpaired surrogates', () => {
  it('answer 404 in a path id, like any unknown id', async () => {
    for (const url of [`/v1/platform/apps/%00`, `/v1/platform/apps/app_x%00y/service-tokens`, `/v1/webhooks/wh_%00`, `/v1/webhooks/wh_x/deliveries/%00`]) {
      const res = await request({ method: 'GET', url, headers: bearer(acme.adminToken) });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error, url).toBe('not_found');
    }
    const res = await request({ method: 'GET', url: '/v1/platform/apps/%00', headers: bearer(acme.adminToken) });
    expect(res.json()).toEqual({ error: 'not_found', error_description: `params.client_id identifies nothing: it holds a NUL character or an unpaired surrogate` });
  });

  it('answer 400 in a query string, naming the parameter', async () => {
    const res = await request({ method: 'GET', url: '/v1/platform/apps?cursor=%00', headers: bearer(acme.adminToken) });
    expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 400, body: invalid(`query.cursor ${TEXT_PROBLEM}`) });
    const audit = await request({ method: 'GET', url: '/v1/platform/audit-events?action=app%00created', headers: bearer(acme.adminToken) });
    expect(audit.json()).toEqual(invalid(`query.action ${TEXT_PROBLEM}`));
  });

  it('answer 400 in a JSON body, naming the field, however deep', async () => {
    const user = await request({ method: 'POST', url: '/v1/platform/users', headers: bearer(acme.adminToken), payload: { email: `a${NUL}@b.test`, password: 'a long enough password' } });
    expect({ status: user.statusCode, body: user.json() }).toEqual({ status: 400, body: invalid(`body.email ${TEXT_PROBLEM}`) });
    const lone = await request({
      method: 'POST',
      url: '/v1/platform/users',
      headers: { ...bearer(acme.adminToken), 'content-type': 'application/json' },
      payload: '{"email":"a\\ud800@b.test","password":"a long enough password"}',
    });
    expect(lone.json()).toEqual(invalid(`body.email ${TEXT_PROBLEM}`));
    const deep = await request({
      method: 'POST',
      url: '/v1/platform/apps',
      headers: bearer(acme.adminToken),
      payload: { name: 'Deep', grant_types: ['authorization_code'], redirect_uris: ['https://ok.example/cb', `https://x.example/${LONE}`], requested_scopes: ['incidents:read'] },
    });
    expect(deep.json()).toEqual(invalid(`body.redirect_uris[1] ${TEXT_PROBLEM}`));
    // A pair of surrogates is one character, and fine.
    const emoji = await request({ method: 'POST', url: '/v1/platform/apps', headers: bearer(acme.adminToken), payload: { name: 'Pager 🚨', grant_types: ['client_credentials'], redirect_uris: [], requested_scopes: ['webhooks:write'] } });
    expect(emoji.statusCode).toBe(201);
  });

  it('answer 400 in a form field of the token endpoint', async () => {
    const res = await request({
      method: 'POST',
      url: '/v1/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=client_credentials&scope=webhooks%00write`,
    });
    expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 400, body: invalid(`body.scope ${TEXT_PROBLEM}`) });
  });

  it('answer BAD_USER_INPUT in a GraphQL variable, on both paths, and nothing is written', async () => {
    const before = await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from incidents');
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      const res = await gql({ request } as Harness, sync, acme.tenantId, { documentId: `sha256:${CREATE}`, variables: { input: { title: `a${NUL}b`, severity: 'SEV1' } } }, { accept });
      expect(res.statusCode, accept).toBe(400);
      expect(res.json(), accept).toEqual({ errors: [{ message: `variables.input.title ${TEXT_PROBLEM}`, extensions: { code: 'BAD_USER_INPUT' } }] });
    }
    const after = await h.runtime.orm.em.fork().getConnection().execute('select count(*)::int as n from incidents');
    expect(after).toEqual(before);
  });

  it('are never logged at error level', () => {
    expect(app.logged.filter((line) => (line.level as number) >= 50)).toEqual([]);
  });
});

describe('a fault of ours', () => {
  it('is a 500 that leaks nothing, logged at error level with the request id and without SQL or row values', async () => {
    const db = h.runtime.orm.em.fork().getConnection();
    // The table the route reads is gone for a moment: the database answers with an error that quotes the query.
    await db.execute('alter table audit_events rename to audit_events_away');
    let res;
    try {
      res = await request({ method: 'GET', url: '/v1/platform/audit-events?action=app.created', headers: { ...bearer(acme.adminToken), 'x-request-id': 'fault-of-ours-1' } });
    } finally {
      await db.execute('alter table audit_events_away rename to audit_events');
    }
    expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 500, body: { error: 'server_error', error_description: 'an unexpected error occurred' } });
    const lines = app.logged.filter((line) => line.reqId === 'fault-of-ours-1' && (line.level as number) >= 50);
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'request failed', err: { type: 'TableNotFoundException', code: '42P01', message: 'a database statement failed (its text and values are not logged)', stack: '' } }),
    ]);
    // The caller's tenant is named where it belongs (each line's tenant_id), and nowhere else: not as a row value.
    expect(lines[0]!.tenant_id).toBe(acme.tenantId);
    const text = JSON.stringify(lines.map(({ tenant_id: _tenant, ...rest }) => rest));
    for (const leak of ['select', 'audit_events', acme.tenantId, 'app.created']) expect(text).not.toContain(leak);
  });
});

describe('JSON bodies are typed strictly; query strings are coerced', () => {
  it('refuses a string where an array is expected, naming the field', async () => {
    await request({ method: 'PATCH', url: `/v1/platform/apps/${machine.client_id}/governance`, headers: bearer(acme.adminToken), payload: { allow_service_tokens: true } });
    const res = await request({ method: 'POST', url: `/v1/platform/apps/${machine.client_id}/service-token`, headers: bearer(acme.adminToken), payload: { scopes: 'webhooks:write' } });
    expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 400, body: invalid('body.scopes must be array') });
  });

  it('refuses a string where a boolean or a number is expected', async () => {
    const flag = await request({ method: 'PATCH', url: `/v1/platform/apps/${machine.client_id}/governance`, headers: bearer(acme.adminToken), payload: { allow_service_tokens: 'true' } });
    expect(flag.json()).toEqual(invalid('body.allow_service_tokens must be boolean'));
    const ttl = await request({ method: 'PATCH', url: `/v1/platform/apps/${machine.client_id}/governance`, headers: bearer(acme.adminToken), payload: { access_token_ttl: '600' } });
    expect(ttl.json()).toEqual(invalid('body.access_token_ttl must be integer'));
  });

  it('still reads numbers from query strings', async () => {
    const res = await request({ method: 'GET', url: '/v1/platform/apps?limit=1', headers: bearer(acme.adminToken) });
    expect(res.statusCode).toBe(200);
    expect(res.json().apps).toHaveLength(1);
  });
});

describe('GraphQL over HTTP refusals', () => {
  const headers = () => ({ ...bearer(sync.token), 'x-tenant-id': acme.tenantId });

  it('answers a GET with malformed variables or extensions JSON with 400', async () => {
    for (const [url, message] of [
      [`/graphql?documentId=sha256:${LIST}&variables=%7Bnope`, 'variables must be a JSON object'],
      [`/graphql?documentId=sha256:${LIST}&extensions=%7Bnope`, 'extensions must be a JSON object'],
      [`/graphql?documentId=sha256:${LIST}&variables=%5B1%5D`, 'variables must be a JSON object'],
    ] as const) {
      const res = await request({ method: 'GET', url, headers: headers() });
      expect(res.statusCode, url).toBe(400);
      expect(res.json(), url).toEqual({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT' } }] });
    }
  });

  it('answers a POST that is not JSON with 415: form-encoded, like text and multipart', async () => {
    for (const [type, payload] of [
      ['application/x-www-form-urlencoded', `documentId=sha256:${LIST}`],
      ['text/plain', JSON.stringify({ documentId: `sha256:${LIST}` })],
      ['multipart/form-data; boundary=x', '--x--'],
    ]) {
      const res = await request({ method: 'POST', url: '/graphql', headers: { ...headers(), 'content-type': type! }, payload });
      expect(res.statusCode, type).toBe(415);
      expect(res.json(), type).toEqual({ error: 'unsupported_media_type', error_description: `Unsupported Media Type: ${type!.split(';')[0]}` });
    }
  });
});

describe('a URL that does not decode', () => {
  it('is a 400 in the error shape of every other refusal', async () => {
    const res = await request({ method: 'GET', url: '/v1/platform/apps/%ED%A0%80', headers: bearer(acme.adminToken) });
    expect({ status: res.statusCode, body: res.json() }).toEqual({ status: 400, body: invalid("the URL is not valid: '/v1/platform/apps/%ED%A0%80' does not decode") });
  });
});
