// Access tokens as JWTs per RFC 9068, and the one verifier every protected route uses.
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { randomUUID } from 'node:crypto';
import { epochSeconds, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import { Unauthorized } from '../errors.js';
import type { Keyring } from './keyring.js';
import type { RevocationList } from './revocations.js';

/** RFC 9068 section 2.1: the media type of a JWT access token, in the `typ` header. */
const ACCESS_TOKEN_TYP = 'at+jwt';
const ALLOWED_ALGORITHMS = ['RS256', 'ES256'];

export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  tenant_id?: string;
  /** Present (true) only on tokens of a sandbox tenant: a receiver can tell a try-out from production at a glance. */
  sandbox?: boolean;
}

export interface IssueRequest {
  subject: string;
  clientId: string;
  scopes: string[];
  tenantId: string | null;
  ttlSeconds: number;
  /** A caller-chosen id (e.g. a service token's record id) so that it can be revoked later. */
  jti?: string;
  /** The tenant is a sandbox: the token says so in a `sandbox: true` claim. */
  sandbox?: boolean;
}

export interface IssuedToken {
  token: string;
  jti: string;
  expiresAt: Date;
  expiresIn: number;
}

/** What a protected route knows about its caller once the token is verified. */
export interface Principal {
  subject: string;
  clientId: string;
  tenantId: string | null;
  /** Issued for a sandbox tenant (the `sandbox` claim). */
  sandbox: boolean;
  scopes: ReadonlySet<string>;
  jti: string;
  expiresAt: number; // epoch seconds
  issuedAt: number; // epoch seconds
  notBefore?: number;
}

/**
 * A feature's say on a verified token, on every use, after its signature, lifetime and revocation: refuse it (throw
 * Unauthorized) or narrow its scopes. The platform's says how the app the token was issued to stands now.
 */
export type TokenAdmission = (principal: Principal) => Promise<Principal>;

export class TokenService {
  /**
   * Verified tokens, so a repeated token costs no signature check; expiry and revocation are still checked
   * on each use. ttlResolution 0: no cached clock, whose default (1 ms) arms a timer each millisecond the
   * cache is read.
   */
  private readonly verified = new LRUCache<string, Principal>({ max: 20_000, ttl: 5 * 60_000, ttlResolution: 0 });
  private admission?: TokenAdmission;

  constructor(
    private readonly keyring: Keyring,
    private readonly revocations: RevocationList,
    private readonly config: Config,
    private readonly clock: Clock,
  ) {}

  issue(request: IssueRequest): Promise<IssuedToken> {
    const iat = epochSeconds(this.clock);
    const exp = iat + request.ttlSeconds;
    const jti = request.jti ?? randomUUID();
    const claims: AccessTokenClaims = {
      iss: this.config.issuer,
      sub: request.subject,
      aud: this.config.audience,
      client_id: request.clientId,
      scope: request.scopes.join(' '),
      jti,
      iat,
      exp,
      ...(request.tenantId ? { tenant_id: request.tenantId } : {}),
      ...(request.sandbox ? { sandbox: true } : {}),
    };
    // One promise for the whole issue (the signature's), not one per layer: this is the token endpoint's path.
    return this.keyring.sign(claims, ACCESS_TOKEN_TYP).then((token) => ({ token, jti, expiresAt: new Date(exp * 1000), expiresIn: request.ttlSeconds }));
  }

  /** Set once, by the runtime, from the feature that declares it (src/module.ts `tokenAdmission`). */
  admitWith(admission: TokenAdmission): void {
    if (this.admission) throw new Error('a token admission is already set: only one feature may declare one');
    this.admission = admission;
  }

  async verify(token: string): Promise<Principal> {
    const principal = this.verified.get(token) ?? (await this.verifySignature(token));
    this.checkLifetime(principal);
    if (this.revocations.isRevoked(principal.jti)) throw new Unauthorized('token has been revoked', 'invalid_token');
    return this.admission ? this.admission(principal) : principal;
  }

  private checkLifetime(principal: Principal): void {
    const now = this.clock.now() / 1000;
    const tolerance = this.config.tokens.clockTolerance;
    if (now > principal.expiresAt + tolerance) throw new Unauthorized('token has expired', 'invalid_token');
    if (principal.notBefore && now < principal.notBefore - tolerance) throw new Unauthorized('token is not yet valid', 'invalid_token');
  }

  private async verifySignature(token: string): Promise<Principal> {
    let payload: AccessTokenClaims;
    try {
      ({ payload } = await jwtVerify<AccessTokenClaims>(
        token,
        async (header) => {
          const key = await this.keyring.verificationKey(header.kid);
          if (!key) throw new Unauthorized('token is signed with an unknown key', 'invalid_token');
          if (key.alg !== header.alg) throw new Unauthorized('token algorithm does not match its key', 'invalid_token');
          return key.verifyKey;
        },
        {
          algorithms: ALLOWED_ALGORITHMS,
          typ: ACCESS_TOKEN_TYP,
          issuer: this.config.issuer,
          audience: this.config.audience,
          clockTolerance: this.config.tokens.clockTolerance,
          currentDate: new Date(this.clock.now()),
          requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
        },
      ));
    } catch (error) {
      throw toUnauthorized(error);
    }
    const principal: Principal = {
      subject: payload.sub,
      clientId: payload.client_id,
      tenantId: typeof payload.tenant_id === 'string' ? payload.tenant_id : null,
      sandbox: payload.sandbox === true,
      scopes: new Set(typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : []),
      jti: payload.jti,
      expiresAt: payload.exp,
      issuedAt: payload.iat,
      notBefore: payload.nbf,
    };
    this.verified.set(token, principal);
    return principal;
  }
}

/** jose's errors become `invalid_token` at this boundary (DESIGN "Conventions" 3); messages name the cause. */
function toUnauthorized(error: unknown): Unauthorized {
  if (error instanceof Unauthorized) return error;
  if (error instanceof joseErrors.JWTExpired) return new Unauthorized('token has expired', 'invalid_token');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return new Unauthorized(`token claim ${error.claim} is not valid (${error.reason})`, 'invalid_token');
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new Unauthorized('token algorithm is not allowed', 'invalid_token');
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new Unauthorized('token signature does not verify', 'invalid_token');
  }
  return new Unauthorized('token is malformed', 'invalid_token');
}
