// The console calls Tessera's REST API like any other client (README "Console": no private back door): each page
// sends its requests, with the signed-in person's bearer token, through the same routes, schemas, rules and audit as
// curl would, in process (Fastify's inject) and from the person's own address, so per-IP limits count them. A token
// about to expire is refreshed first; one that cannot be refreshed ends the session.
import type { FastifyInstance, FastifyReply, FastifyRequest, InjectOptions } from 'fastify';
import type { Clock } from '../clock.js';
import type { ConsoleSession, ConsoleSessions } from './session.js';

/** A REST answer as the console reads it. */
export interface ApiAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each page reads the shape its route documents
  body: any;
  headers: Record<string, string | string[] | undefined>;
  /** The raw text (a schema, say). */
  text: string;
}

/** The session can no longer reach the API: its tokens expired and cannot be refreshed, or were refused. */
export class SessionEnded extends Error {}

/** Credentials of the console's own client in a tenant, to refresh and revoke its tokens. */
export type ClientCredentialsOf = (session: ConsoleSession) => Promise<{ clientId: string; secret: string } | null>;

/** Seconds before expiry at which a token is refreshed rather than used. */
const REFRESH_MARGIN_MS = 30_000;

export function basicAuth(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

export class ConsoleApi {
  constructor(
    private readonly app: FastifyInstance,
    private readonly request: FastifyRequest,
    private readonly reply: FastifyReply,
    private readonly sessions: ConsoleSessions,
    private session: ConsoleSession,
    private readonly credentials: ClientCredentialsOf,
    private readonly clock: Clock,
  ) {}

  get current(): ConsoleSession {
    return this.session;
  }

  get(url: string): Promise<ApiAnswer> {
    return this.call({ method: 'GET', url });
  }

  post(url: string, payload?: object): Promise<ApiAnswer> {
    return this.call({ method: 'POST', url, ...(payload ? { payload } : {}) });
  }

  put(url: string, payload: object): Promise<ApiAnswer> {
    return this.call({ method: 'PUT', url, payload });
  }

  patch(url: string, payload: object): Promise<ApiAnswer> {
    return this.call({ method: 'PATCH', url, payload });
  }

  delete(url: string): Promise<ApiAnswer> {
    return this.call({ method: 'DELETE', url });
  }

  private async call(options: { method: InjectOptions['method']; url: string; payload?: object }): Promise<ApiAnswer> {
    if (this.session.accessExpiresAt - REFRESH_MARGIN_MS <= this.clock.now()) await this.refresh();
    const answer = await this.inject({ ...options, headers: { authorization: `Bearer ${this.session.accessToken}` } });
    // Refused as a token (revoked, the app suspended, the sandbox expired): the session is over.
    if (answer.status === 401) throw new SessionEnded('the session is no longer valid');
    return answer;
  }

  /** The token endpoint, on behalf of the console's client (refresh and revocation). */
  async inject(options: InjectOptions): Promise<ApiAnswer> {
    const res = await this.app.inject({ ...options, remoteAddress: this.request.ip });
    let body: unknown = null;
    try {
      body = res.body ? JSON.parse(res.body) : null;
    } catch {
      body = null;
    }
    return { status: res.statusCode, body, headers: res.headers as ApiAnswer['headers'], text: res.body };
  }

  /** A new access token from the refresh token (RFC 6749 section 6); none, or refused: the session has ended. */
  private async refresh(): Promise<void> {
    const credentials = this.session.refreshToken ? await this.credentials(this.session) : null;
    if (!credentials || !this.session.refreshToken) throw new SessionEnded('the session has expired');
    const answer = await this.inject({
      method: 'POST',
      url: '/v1/oauth/token',
      headers: { authorization: basicAuth(credentials.clientId, credentials.secret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.session.refreshToken }).toString(),
    });
    if (answer.status !== 200) throw new SessionEnded('the session has expired');
    this.session = this.sessions.write(this.reply, {
      ...this.session,
      accessToken: answer.body.access_token,
      accessExpiresAt: this.clock.now() + answer.body.expires_in * 1000,
      refreshToken: answer.body.refresh_token ?? this.session.refreshToken,
      idToken: answer.body.id_token ?? this.session.idToken,
      scopes: String(answer.body.scope ?? '').split(' ').filter(Boolean),
    });
  }
}

/**
 * The field a REST refusal names (`body.redirect_uris[0] must use https`), for the form to show the message next to
 * that field; a refusal naming a part of a field (`body.role_mapping.values.x must be one of …`) names the field it is
 * part of. Null when it names none.
 */
export function fieldError(answer: ApiAnswer): { field: string; message: string } | null {
  const description = typeof answer.body?.error_description === 'string' ? answer.body.error_description : '';
  const match = /^(?:body|query)\.([a-z_]+)(?:[.[]|:?\s)/.exec(description);
  return match ? { field: match[1]!, message: description } : null;
}

/** What a refusal says, for a page: the API's own sentence. */
export function problemOf(answer: ApiAnswer): string {
  return typeof answer.body?.error_description === 'string' ? answer.body.error_description : `the request failed (${answer.status})`;
}
