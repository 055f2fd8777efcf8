// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): an app sends the user here to end their Tessera
// login session, naming itself (`client_id`, or the `aud` of an `id_token_hint`) and where to go afterwards
// (`post_logout_redirect_uri`, with `state`). This decides; the endpoints (logout-endpoints.ts) render.
//
// - An id_token_hint must be one of our ID tokens (signature, issuer; expired is fine, section 2) and, with a
//   client_id, issued to that client: anything else is an error page, never a redirect.
// - The user is sent back only to a post_logout_redirect_uri the app registered, exactly (section 3.1); otherwise
//   (none sent, no app named, not registered, the app suspended) a plain "You are signed out" page is shown.
// - Section 6 warns that a logout request anyone can make is a nuisance; so unless the hint vouches for the session
//   being ended (its user and its `sid`), the user confirms first, with a form bound to this browser (CSRF).
import type { MikroORM } from '@mikro-orm/postgresql';
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import { forTenant } from '../db/tenant.js';
import { Forbidden, InvalidRequest } from '../errors.js';
import { sha256 } from '../ids.js';
import type { IdTokenHint, TokenService } from '../keys/tokens.js';
import type { ClientDirectory } from '../platform/clients.js';
import type { App } from '../platform/service.js';
import { LoginSession } from './entities.js';
import { param, type Params } from './params.js';
import { equalSecrets } from './secrets.js';

/** The parameters of section 2, in the order a confirmation form carries them back. */
const LOGOUT_PARAMS = ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state', 'ui_locales'] as const;

export type LogoutStep =
  /** Ask the user: a form that posts `fields` back with `csrfToken`. */
  | { kind: 'confirm'; appName: string | null; fields: Record<string, string>; csrfToken: string }
  /** Signed out, and not sent back: `notReturned` when the app asked to be returned to a URI it did not register. */
  | { kind: 'signed-out'; appName: string | null; notReturned: boolean }
  | { kind: 'redirect'; location: string };

/** A logout request, checked. */
interface CheckedLogout {
  hint: IdTokenHint | null;
  app: App | null;
  /** The registered post_logout_redirect_uri to go back to, with `state`; null: the signed-out page. */
  returnTo: string | null;
  askedToReturn: boolean;
  state: string | undefined;
  fields: Record<string, string>;
}

/** The CSRF token of the confirmation form: derived from the browser's own cookie, which no other site can read. */
function confirmationToken(browserId: string): string {
  return createHash('sha256').update(`tessera-logout:${browserId}`).digest('base64url');
}

export class RpInitiatedLogout {
  constructor(
    private readonly orm: MikroORM,
    private readonly clients: ClientDirectory,
    private readonly tokens: TokenService,
    private readonly clock: Clock,
  ) {}

  /**
   * A logout request (GET or POST from the app, section 2). Ends the session at once when the id_token_hint vouches
   * for it, or when there is none to end; else asks the user to confirm.
   */
  async request(params: Params, browserId: string, sessionId: string | undefined): Promise<LogoutStep> {
    const logout = await this.check(params);
    const session = await this.liveSession(sessionId);
    if (session && !this.vouchedFor(logout.hint, session)) {
      return { kind: 'confirm', appName: logout.app?.name ?? null, fields: logout.fields, csrfToken: confirmationToken(browserId) };
    }
    if (session) await this.end(session);
    return this.after(logout);
  }

  /** The user confirmed: the form came from this browser, and carries the request's parameters back. */
  async confirm(params: Params, browserId: string | undefined, csrfToken: string, sessionId: string | undefined): Promise<LogoutStep> {
    if (!browserId || !equalSecrets(confirmationToken(browserId), csrfToken)) {
      throw new Forbidden('The form could not be verified. Go back to the application and sign out again.');
    }
    const logout = await this.check(params);
    const session = await this.liveSession(sessionId);
    if (session) await this.end(session);
    return this.after(logout);
  }

  private async check(params: Params): Promise<CheckedLogout> {
    const fields: Record<string, string> = {};
    for (const name of LOGOUT_PARAMS) {
      const value: unknown = param(params, name);
      // A form or a query holds strings; a JSON body might hold anything.
      if (value !== undefined && typeof value !== 'string') throw InvalidRequest.field(name, 'must be a string');
      if (value !== undefined) fields[name] = value;
    }
    // ui_locales is read (a repeated one is refused) and otherwise ignored: the pages are in English only.
    const { id_token_hint: hintToken, client_id: clientId, post_logout_redirect_uri: returnUri, state } = fields;
    const hint = hintToken ? await this.tokens.verifyIdTokenHint(hintToken) : null;
    // Section 2: "When both client_id and id_token_hint are present, the OP MUST verify that the Client Identifier
    // matches the one used when issuing the ID Token."
    if (hint && clientId && !hint.audience.includes(clientId)) {
      throw InvalidRequest.field('id_token_hint', 'was issued to another application than client_id names');
    }
    const appId = clientId ?? (hint?.audience.length === 1 ? hint.audience[0] : undefined);
    const record = appId ? await this.clients.find(appId) : null;
    if (clientId && !record) throw new InvalidRequest('The application that sent you here is not registered.');
    const app = record?.app ?? null;
    // Section 3.1: only a URI registered for the app, compared exactly; and never back to an app that is suspended.
    const registered = Boolean(returnUri && app && app.status === 'active' && app.postLogoutRedirectUris.includes(returnUri));
    return { hint, app, returnTo: registered ? returnUri! : null, askedToReturn: returnUri !== undefined, state, fields };
  }

  /** The hint names the user of this session, and this very session when it says which (`sid`). */
  private vouchedFor(hint: IdTokenHint | null, session: LoginSession): boolean {
    return Boolean(hint && hint.subject === session.userId && (hint.sid === undefined || hint.sid === session.id));
  }

  /** The browser's live login session, in whichever tenant. */
  private async liveSession(sessionId: string | undefined): Promise<LoginSession | null> {
    if (!sessionId) return null;
    const session = await this.orm.em.fork().findOne(LoginSession, { id: sha256(sessionId) }, { filters: false });
    return session && session.expiresAt.getTime() > this.clock.now() ? session : null;
  }

  private async end(session: LoginSession): Promise<void> {
    await forTenant(this.orm.em, session.tenantId).nativeDelete(LoginSession, { id: session.id });
  }

  /** Section 3: back to the registered URI with `state`, or the signed-out page. */
  private after(logout: CheckedLogout): LogoutStep {
    if (!logout.returnTo) return { kind: 'signed-out', appName: logout.app?.name ?? null, notReturned: logout.askedToReturn };
    const url = new URL(logout.returnTo);
    if (logout.state !== undefined) url.searchParams.append('state', logout.state);
    return { kind: 'redirect', location: url.toString() };
  }
}
