// The console's sessions (README "Console"): the console is a backend for its pages (OAuth 2.0 for Browser-Based
// Apps, "Backend For Frontend"), so the tokens it holds for a person never reach the browser. They live sealed
// (AES-256-GCM under SECRETS_KEY, src/secret-box.ts) in an HttpOnly cookie of the console's path: nothing is stored
// server-side, any process serves any request, and a session ends when its cookie is cleared (logout, which also
// revokes the tokens) or when its tokens can no longer be refreshed (expiry).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { SecretBox } from '../secret-box.js';

/** Who is signed in: a tenant admin, an operator, a partner (an app, by its own credentials), or a member without console rights. */
export type SessionKind = 'admin' | 'operator' | 'partner' | 'member';

export interface ConsoleSession {
  kind: SessionKind;
  /** The tenant (null for an operator, who acts across tenants). */
  tenantId: string | null;
  tenantSlug: string | null;
  /** The OAuth client the tokens belong to: the console's client in the tenant, or the partner's app. */
  clientId: string;
  /** The tenant of that client (the operators' tenant for an operator). */
  clientTenantId: string;
  /** Who, as the console shows it: an email, or an app's name. */
  who: string;
  subject: string;
  scopes: string[];
  accessToken: string;
  /** Epoch ms. */
  accessExpiresAt: number;
  refreshToken: string | null;
  /** For RP-initiated logout (id_token_hint). */
  idToken: string | null;
  /** Double-submit token of every form of this session. */
  csrf: string;
}

/** A sign-in under way: what the callback checks (state, the PKCE verifier, the nonce) and where it came from. */
export interface PendingSignIn {
  state: string;
  verifier: string;
  nonce: string;
  tenantId: string;
  tenantSlug: string;
  operators: boolean;
}

export const SESSION_COOKIE = 'tessera_console';
const PENDING_COOKIE = 'tessera_console_signin';
const COOKIE_PATH = '/console';
const PENDING_SECONDS = 600;

export class ConsoleSessions {
  private readonly cookie: { path: string; httpOnly: true; sameSite: 'lax'; secure: boolean };

  constructor(
    private readonly box: SecretBox,
    /** Secure cookies everywhere but on a plain-http loopback issuer (local development, the tests). */
    secure: boolean,
    /** Seconds a session may last at most (the hosted login's own session length). */
    private readonly maxAge: number,
  ) {
    this.cookie = { path: COOKIE_PATH, httpOnly: true, sameSite: 'lax', secure };
  }

  read(request: FastifyRequest): ConsoleSession | null {
    return this.openCookie<ConsoleSession>(request.cookies[SESSION_COOKIE], 'console-session');
  }

  write(reply: FastifyReply, session: Omit<ConsoleSession, 'csrf'> & { csrf?: string }): ConsoleSession {
    const full = { ...session, csrf: session.csrf ?? randomBytes(24).toString('base64url') };
    reply.setCookie(SESSION_COOKIE, this.box.seal(JSON.stringify(full), 'console-session'), { ...this.cookie, maxAge: this.maxAge });
    return full;
  }

  clear(reply: FastifyReply): void {
    reply.clearCookie(SESSION_COOKIE, this.cookie);
  }

  startSignIn(reply: FastifyReply, pending: PendingSignIn): void {
    reply.setCookie(PENDING_COOKIE, this.box.seal(JSON.stringify(pending), 'console-signin'), { ...this.cookie, maxAge: PENDING_SECONDS });
  }

  /** The sign-in under way, used up: a callback can be taken once. */
  takeSignIn(request: FastifyRequest, reply: FastifyReply): PendingSignIn | null {
    const pending = this.openCookie<PendingSignIn>(request.cookies[PENDING_COOKIE], 'console-signin');
    reply.clearCookie(PENDING_COOKIE, this.cookie);
    return pending;
  }

  /** Whether a form's token is the session's (constant time). */
  csrfMatches(session: ConsoleSession, sent: unknown): boolean {
    if (typeof sent !== 'string') return false;
    const [a, b] = [Buffer.from(session.csrf), Buffer.from(sent)];
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** A cookie sealed by us for `purpose`, or null: absent, tampered with, from another key. */
  private openCookie<T>(value: string | undefined, purpose: string): T | null {
    if (!value) return null;
    try {
      return JSON.parse(this.box.open(value, purpose)) as T;
    } catch {
      return null;
    }
  }
}
