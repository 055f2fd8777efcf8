// Access tokens as JWTs per RFC 9068, and the one verifier every protected route uses; OpenID Connect ID tokens,
// signed with the same keys, and the check of one handed back as a logout's id_token_hint.
import { compactVerify, errors as joseErrors, jwtVerify, type JWSHeaderParameters, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { createHash, randomUUID } from 'node:crypto';
import { epochSeconds, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import { InvalidRequest, Unauthorized } from '../errors.js';
import type { Keyring } from './keyring.js';
import type { RevocationList } from './revocations.js';

/** RFC 9068 section 2.1: the media type of a JWT access token, in the `typ` header. */
const ACCESS_TOKEN_TYP = 'at+jwt';
/** An ID token says `typ: JWT` (RFC 7519 section 5.1), so neither kind of token passes for the other. */
const ID_TOKEN_TYP = 'JWT';
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

/** An ID token (OIDC Core section 2) for a user who signed in to a client. */
export interface IdTokenRequest {
  /** The user's id. */
  subject: string;
  /** The client it is for: its `aud`. */
  clientId: string;
  ttlSeconds: number;
  /** When the user signed in (ms since the epoch); null for a grant older than OpenID Connect here. */
  authTime: number | null;
  /** The authorization request's nonce; absent from refreshed ID tokens (OIDC Core section 12.2). */
  nonce?: string | null;
  /** The access token issued beside it, whose hash is `at_hash` (OIDC Core section 3.1.3.6). */
  accessToken: string;
  acr: string;
  amr: string[];
  /** The login session (`sid`, OpenID Connect Front-Channel Logout 1.0 section 3), for logout. */
  sid?: string | null;
  /** The user's claims the granted scopes allow (OIDC Core section 5.4). */
  claims: Record<string, unknown>;
}

/** What an id_token_hint (OpenID Connect RP-Initiated Logout 1.0 section 2) says, once checked. */
export interface IdTokenHint {
  subject: string;
  audience: string[];
  sid?: string;
}

/**
 * OIDC Core section 3.1.3.6: the left half of the hash of the access token's ASCII octets, base64url, with the hash of
 * the ID token's `alg`. Both algorithms Tessera signs with (RS256, ES256) hash with SHA-256.
 */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest().subarray(0, 16).toString('base64url');
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

  /** An OpenID Connect ID token, signed by the key that signs access tokens now (OIDC Core sections 2 and 3.1.3.6). */
  issueIdToken(request: IdTokenRequest): Promise<string> {
    const iat = epochSeconds(this.clock);
    const claims = {
      // The user's claims first: none of them may stand in for one of the token's own.
      ...request.claims,
      iss: this.config.issuer,
      sub: request.subject,
      aud: request.clientId,
      exp: iat + request.ttlSeconds,
      iat,
      ...(request.authTime !== null ? { auth_time: Math.floor(request.authTime / 1000) } : {}),
      ...(request.nonce ? { nonce: request.nonce } : {}),
      at_hash: accessTokenHash(request.accessToken),
      acr: request.acr,
      amr: request.amr,
      ...(request.sid ? { sid: request.sid } : {}),
    };
    return this.keyring.sign(claims, ID_TOKEN_TYP);
  }

  /**
   * An ID token handed back as an id_token_hint: signed by one of our published keys and issued by us (RP-Initiated
   * Logout 1.0 section 2: "The OP SHOULD accept ID Tokens ... even when the exp time has passed", so its lifetime is
   * not checked). Anything else is an invalid_request naming the parameter.
   */
  async verifyIdTokenHint(token: string): Promise<IdTokenHint> {
    const refused = (why: string) => new InvalidRequest(`id_token_hint ${why}`, { path: 'id_token_hint', problem: why });
    let header: JWSHeaderParameters;
    let claims: Record<string, unknown>;
    try {
      const verified = await compactVerify(token, (protectedHeader) => this.keyFor(protectedHeader), { algorithms: ALLOWED_ALGORITHMS });
      header = verified.protectedHeader;
      claims = JSON.parse(new TextDecoder().decode(verified.payload)) as Record<string, unknown>;
    } catch {
      throw refused('is not an ID token signed by this server');
    }
    if (header.typ !== ID_TOKEN_TYP || !claims || typeof claims !== 'object') throw refused('is not an ID token');
    if (claims.iss !== this.config.issuer) throw refused('was issued by another server');
    const audience = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud.filter((a): a is string => typeof a === 'string') : [];
    if (typeof claims.sub !== 'string' || !audience.length) throw refused('is not an ID token');
    return { subject: claims.sub, audience, ...(typeof claims.sid === 'string' ? { sid: claims.sid } : {}) };
  }

  /** The published key a token names by `kid`, of the algorithm it says. */
  private async keyFor(header: JWSHeaderParameters) {
    const key = await this.keyring.verificationKey(header.kid);
    if (!key) throw new Unauthorized('token is signed with an unknown key', 'invalid_token');
    if (key.alg !== header.alg) throw new Unauthorized('token algorithm does not match its key', 'invalid_token');
    return key.verifyKey;
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
        (header) => this.keyFor(header),
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
