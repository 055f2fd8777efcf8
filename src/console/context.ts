// What every console page handler is given: the signed-in session (or a redirect to sign in), the REST API as that
// person, the form it posted with its CSRF token checked (and its query and path parameters, read as text), and one
// place where a session that ended is answered.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import { ConsoleApi, SessionEnded, type ClientCredentialsOf } from './api.js';
import { page } from './html.js';
import type { ConsoleSession, ConsoleSessions, SessionKind } from './session.js';

export type Form = Record<string, string | string[] | undefined>;

export interface PageContext {
  request: FastifyRequest;
  reply: FastifyReply;
  session: ConsoleSession;
  api: ConsoleApi;
}

export interface ActionContext extends PageContext {
  form: Form;
}

/** One value of a posted form field (the first, if it was repeated). */
export function one(form: Form, name: string): string | undefined {
  const value = form[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Every value of a posted form field (checkboxes). */
export function all(form: Form, name: string): string[] {
  const value = form[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** The query string's parameters, one string each (the first, if one was repeated). */
export function queryOf(request: FastifyRequest): Record<string, string | undefined> {
  const raw = (request.query ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined]));
}

/** A parameter of the route's path (`:client_id`), as text. */
export function paramOf(request: FastifyRequest, name: string): string {
  return String((request.params as Record<string, unknown>)[name] ?? '');
}

export class ConsoleContext {
  constructor(
    private readonly app: FastifyInstance,
    readonly sessions: ConsoleSessions,
    private readonly credentials: ClientCredentialsOf,
    private readonly clock: Clock,
  ) {}

  /** A GET page for the roles `kinds`; anyone else is sent to sign in, or told the page is not theirs. */
  page(kinds: SessionKind[], handler: (context: PageContext) => Promise<unknown>) {
    return async (request: FastifyRequest, reply: FastifyReply) => {
      const context = this.contextOf(request, reply, kinds);
      if (!context) return reply;
      return this.run(reply, () => handler(context));
    };
  }

  /**
   * A POST action for the roles `kinds`: its form must carry the session's CSRF token (the session cookie is SameSite
   * Lax, and this double submit makes sure a form of ours was posted).
   */
  action(kinds: SessionKind[], handler: (context: ActionContext) => Promise<unknown>) {
    return async (request: FastifyRequest, reply: FastifyReply) => {
      const context = this.contextOf(request, reply, kinds);
      if (!context) return reply;
      const form = (request.body ?? {}) as Form;
      if (!this.sessions.csrfMatches(context.session, one(form, 'csrf'))) {
        return page(reply, { title: 'Form expired', session: context.session, status: 403, error: 'This form could not be verified (it may be from an older page). Go back, reload the page and try again.', body: '' });
      }
      return this.run(reply, () => handler({ ...context, form }));
    };
  }

  private contextOf(request: FastifyRequest, reply: FastifyReply, kinds: SessionKind[]): PageContext | null {
    const session = this.sessions.read(request);
    if (!session) {
      void reply.redirect(`/console?next=${encodeURIComponent(request.url)}`, 303);
      return null;
    }
    if (!kinds.includes(session.kind)) {
      void page(reply, { title: 'Not available', session, status: 403, error: 'This page is not part of your role in the console.', body: '<p><a href="/console">Back to the console</a></p>' });
      return null;
    }
    return { request, reply, session, api: new ConsoleApi(this.app, request, reply, this.sessions, session, this.credentials, this.clock) };
  }

  /** A session whose tokens can no longer be used ends here: its cookie goes, and the person signs in again. */
  private async run(reply: FastifyReply, work: () => Promise<unknown>): Promise<unknown> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof SessionEnded)) throw error;
      this.sessions.clear(reply);
      return reply.redirect('/console?ended=1', 303);
    }
  }
}
