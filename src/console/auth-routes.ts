// Signing in to the console, and out (README "Console"). The console is an OAuth client of Tessera like any other:
// - tenant admins and operators sign in through Tessera's own authorization server: authorization code + PKCE + state
//   + nonce (OpenID Connect), with the console's client in their tenant (platform/console-clients.ts; operators
//   through the operators' tenant); what they see follows the role scope the token carries;
// - a partner signs in as its app, with the app's client id and secret (client credentials), and sees what the
//   app's own token may see;
// - signing out revokes the tokens (RFC 7009), clears the session and, for a person, ends the hosted login session too
//   (OpenID Connect RP-Initiated Logout), so the next sign-in asks for the password again.
import type { FastifyInstance, FastifyReply, FastifyRequest, InjectOptions } from 'fastify';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { SCOPE_ADMIN, SCOPE_OPERATOR } from '../http/auth.js';
import type { ConsoleClients } from '../platform/console-clients.js';
import type { TenancyService } from '../tenancy/service.js';
import { basicAuth, type ApiAnswer } from './api.js';
import { SCRIPT, STYLESHEET } from './assets.js';
import type { ConsoleContext, Form } from './context.js';
import { one } from './context.js';
import { esc, field, page } from './html.js';
import type { ConsoleSession, ConsoleSessions, SessionKind } from './session.js';

export interface AuthDeps {
  /** The whole server: the console's requests to the REST API go through it. */
  root: FastifyInstance;
  context: ConsoleContext;
  sessions: ConsoleSessions;
  consoleClients: ConsoleClients;
  tenancy: TenancyService;
  config: Config;
  clock: Clock;
}

/** Where each role lands once signed in. */
const HOME: Record<SessionKind, string> = { admin: '/console/apps', operator: '/console/tenants', partner: '/console/partner/operations', member: '/console/member' };

const random = () => randomBytes(32).toString('base64url');
const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

function sameText(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The claims of a JWT we were just handed by our own token endpoint (in process): read, not verified again. */
function claimsOf(jwt: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return {};
  }
}

export function registerAuthRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const { sessions, consoleClients, tenancy, config, clock } = deps;

  const inject = async (request: FastifyRequest, options: InjectOptions): Promise<ApiAnswer> => {
    const res = await deps.root.inject({ ...options, remoteAddress: request.ip });
    let body: unknown = null;
    try {
      body = JSON.parse(res.body);
    } catch {
      body = null;
    }
    return { status: res.statusCode, body, headers: res.headers as ApiAnswer['headers'], text: res.body };
  };

  const landing = (reply: FastifyReply, options: { error?: string; notice?: string; tenant?: string; tenantError?: string; partnerError?: string; status?: number } = {}) =>
    page(reply, {
      title: 'Sign in',
      narrow: true,
      status: options.status,
      error: options.error,
      notice: options.notice,
      body: `<h1>Sign in to the Tessera console</h1>
<form method="get" action="/console/signin" class="card" aria-labelledby="admins">
  <h2 id="admins">Tenant admins</h2>
  ${field({ name: 'tenant', label: 'Organisation', value: options.tenant, hint: 'Your tenant\'s short name, e.g. acme', error: options.tenantError, required: true, autocomplete: 'organization' })}
  <button type="submit">Continue</button>
</form>
<section class="card" aria-labelledby="operators">
  <h2 id="operators">Operators</h2>
  <p><a class="button" href="/console/signin/operator">Sign in as an operator</a></p>
</section>
<form method="post" action="/console/partner/signin" class="card" aria-labelledby="partners">
  <h2 id="partners">Partners</h2>
  <p class="hint">Sign in as your app, with its client id and secret.</p>
  ${field({ name: 'client_id', label: 'Client id', required: true, autocomplete: 'username' })}
  ${field({ name: 'client_secret', label: 'Client secret', type: 'password', required: true, error: options.partnerError, autocomplete: 'current-password' })}
  <button type="submit">Sign in as the app</button>
</form>`,
    });

  /** Off to the authorization endpoint, with the console's client of the tenant (made at first use). */
  const signInThrough = async (reply: FastifyReply, tenant: { id: string; slug: string; operators: boolean }) => {
    const client = await consoleClients.forTenant(tenant);
    const pending = { state: random(), verifier: random(), nonce: random(), tenantId: tenant.id, tenantSlug: tenant.slug, operators: tenant.operators };
    sessions.startSignIn(reply, pending);
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: client.redirectUri,
      scope: client.scopes.join(' '),
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: s256(pending.verifier),
      code_challenge_method: 'S256',
    });
    // Relative: the console and the authorization server are one server.
    return reply.redirect(`/v1/oauth/authorize?${query}`, 303);
  };

  app.get('/console/assets/console.css', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=31536000, immutable').send(STYLESHEET.body),
  );
  app.get('/console/assets/console.js', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=31536000, immutable').send(SCRIPT.body),
  );

  app.get('/console', { schema: { hide: true } }, async (request, reply) => {
    const session = sessions.read(request);
    if (session) return reply.redirect(HOME[session.kind], 303);
    const ended = (request.query as Record<string, string | undefined>).ended;
    return landing(reply, ended ? { notice: 'Your session has ended. Sign in again.' } : {});
  });

  app.get('/console/signin', { schema: { hide: true } }, async (request, reply) => {
    const slug = String((request.query as Record<string, unknown>).tenant ?? '').trim().toLowerCase();
    const tenant = slug ? await tenancy.tenantBySlug(request.em, slug) : null;
    if (!tenant || tenant.operators) return landing(reply, { status: slug ? 404 : 400, tenant: slug, tenantError: slug ? `No organisation is called ${slug}.` : 'Enter your organisation.' });
    return signInThrough(reply, tenant);
  });

  app.get('/console/signin/operator', { schema: { hide: true } }, async (request, reply) => {
    const tenant = await tenancy.operatorsTenant(request.em);
    if (!tenant) return landing(reply, { status: 404, error: 'No operator account exists yet. An operator is made with the CLI: tessera operator-user --email you@example.com' });
    return signInThrough(reply, tenant);
  });

  app.get('/console/callback', { schema: { hide: true } }, async (request, reply) => {
    const query = request.query as Record<string, string | undefined>;
    const pending = sessions.takeSignIn(request, reply);
    // RFC 6749 section 10.12 (state) and RFC 9207 (iss): the answer is to this browser's request, from this issuer.
    if (!pending || !query.state || !sameText(query.state, pending.state)) return landing(reply, { status: 400, error: 'This sign-in could not be verified. Start again.' });
    if (query.iss !== config.issuer) return landing(reply, { status: 400, error: 'This sign-in came from another issuer. Start again.' });
    if (query.error) return landing(reply, { status: 400, error: `Sign-in did not complete: ${query.error_description ?? query.error}` });
    const client = await consoleClients.forTenant({ id: pending.tenantId, operators: pending.operators });
    const answer = await inject(request, {
      method: 'POST',
      url: '/v1/oauth/token',
      headers: { authorization: basicAuth(client.clientId, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'authorization_code', code: query.code ?? '', redirect_uri: client.redirectUri, code_verifier: pending.verifier }).toString(),
    });
    if (answer.status !== 200) return landing(reply, { status: 400, error: `Sign-in did not complete: ${answer.body?.error_description ?? 'the code was refused'}` });
    const idClaims = answer.body.id_token ? claimsOf(answer.body.id_token) : {};
    if (answer.body.id_token && idClaims.nonce !== pending.nonce) return landing(reply, { status: 400, error: 'This sign-in could not be verified (nonce). Start again.' });
    const scopes = String(answer.body.scope ?? '').split(' ').filter(Boolean);
    const kind: SessionKind = scopes.includes(SCOPE_OPERATOR) ? 'operator' : scopes.includes(SCOPE_ADMIN) ? 'admin' : 'member';
    const access = claimsOf(answer.body.access_token);
    sessions.write(reply, {
      kind,
      tenantId: kind === 'operator' ? null : pending.tenantId,
      tenantSlug: kind === 'operator' ? null : pending.tenantSlug,
      clientId: client.clientId,
      clientTenantId: pending.tenantId,
      who: typeof idClaims.email === 'string' ? idClaims.email : String(access.sub ?? ''),
      subject: String(access.sub ?? ''),
      scopes,
      accessToken: answer.body.access_token,
      accessExpiresAt: clock.now() + answer.body.expires_in * 1000,
      refreshToken: answer.body.refresh_token ?? null,
      idToken: answer.body.id_token ?? null,
    });
    return reply.redirect(HOME[kind], 303);
  });

  app.post('/console/partner/signin', { schema: { hide: true } }, async (request, reply) => {
    const form = (request.body ?? {}) as Form;
    const clientId = (one(form, 'client_id') ?? '').trim();
    const secret = one(form, 'client_secret') ?? '';
    const answer = await inject(request, {
      method: 'POST',
      url: '/v1/oauth/token',
      headers: { authorization: basicAuth(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
    });
    if (answer.status !== 200) return landing(reply, { status: 401, partnerError: answer.body?.error_description ?? 'The client id or secret is not correct.' });
    const access = claimsOf(answer.body.access_token);
    const own = await inject(request, { method: 'GET', url: `/v1/platform/apps/${encodeURIComponent(clientId)}`, headers: { authorization: `Bearer ${answer.body.access_token}` } });
    sessions.write(reply, {
      kind: 'partner',
      tenantId: typeof access.tenant_id === 'string' ? access.tenant_id : null,
      tenantSlug: null,
      clientId,
      clientTenantId: typeof access.tenant_id === 'string' ? access.tenant_id : '',
      who: own.status === 200 ? String(own.body.name) : clientId,
      subject: clientId,
      scopes: String(answer.body.scope ?? '').split(' ').filter(Boolean),
      accessToken: answer.body.access_token,
      accessExpiresAt: clock.now() + answer.body.expires_in * 1000,
      // Client credentials have no refresh token: the session lasts the access token's life.
      refreshToken: null,
      idToken: null,
    });
    return reply.redirect(HOME.partner, 303);
  });

  app.post('/console/logout', { schema: { hide: true } }, async (request, reply) => {
    const session = sessions.read(request);
    const form = (request.body ?? {}) as Form;
    if (!session) return reply.redirect('/console/signed-out', 303);
    if (!sessions.csrfMatches(session, one(form, 'csrf'))) return page(reply, { title: 'Form expired', session, status: 403, error: 'This form could not be verified. Reload the page and try again.', body: '' });
    sessions.clear(reply);
    if (session.kind === 'partner') return reply.redirect('/console/signed-out', 303);
    await revoke(request, session);
    const client = await consoleClients.forTenant({ id: session.clientTenantId, operators: session.kind === 'operator' });
    if (!session.idToken) return reply.redirect('/console/signed-out', 303);
    const query = new URLSearchParams({ id_token_hint: session.idToken, client_id: client.clientId, post_logout_redirect_uri: client.postLogoutRedirectUri });
    return reply.redirect(`/v1/oauth/logout?${query}`, 303);
  });

  /** RFC 7009: the refresh token (which ends the grant, and the access tokens it issued), then the access token. */
  const revoke = async (request: FastifyRequest, session: ConsoleSession) => {
    const client = await consoleClients.forTenant({ id: session.clientTenantId, operators: session.kind === 'operator' });
    for (const token of [session.refreshToken, session.accessToken]) {
      if (!token) continue;
      await inject(request, {
        method: 'POST',
        url: '/v1/oauth/revoke',
        headers: { authorization: basicAuth(client.clientId, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ token }).toString(),
      });
    }
  };

  app.get('/console/signed-out', { schema: { hide: true } }, async (_request, reply) =>
    page(reply, { title: 'Signed out', narrow: true, body: '<h1>You are signed out</h1><p><a href="/console">Sign in again</a></p>' }),
  );

  app.get('/console/member', { schema: { hide: true } }, deps.context.page(['member'], async ({ reply, session }) =>
    page(reply, {
      title: 'No console access',
      session,
      body: `<h1>Your account has no console role</h1><p>You are signed in as ${esc(session.who)}, a member of ${esc(session.tenantSlug)}. The console is for the tenant's admins; ask one of them if you need access.</p>`,
    }),
  ));
}
