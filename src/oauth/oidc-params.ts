// The OpenID Connect parameters of an authorization request (OIDC Core section 3.1.2.1): `nonce`, `prompt` and
// `max_age` (and `response_mode`, which may only be `query`), checked once the client is verified, so that their
// errors go back to its redirect URI. Request objects (OIDC Core section 6) are not supported, and say so with their
// own error codes. `login_hint`, `id_token_hint`, `acr_values`, `display`, `ui_locales` and `claims` are optional
// hints a provider may ignore, and are ignored.
import { InvalidRequest, RequestNotSupported, RequestUriNotSupported } from '../errors.js';
import { param, type Params } from './params.js';

/** What `prompt` may say (OpenID Connect Discovery 1.0 `prompt_values_supported`). */
export const PROMPT_VALUES_SUPPORTED = ['none', 'login', 'consent', 'select_account'];

/** Long enough for any nonce a client makes (a hash, a UUID, 32 random bytes), short enough to keep in a row. */
const MAX_NONCE_LENGTH = 512;

export interface OidcRequestParams {
  nonce: string | null;
  /** `login` and/or `consent`, or `none` alone; empty when not sent. */
  prompt: string[];
  /** Seconds; null when not sent. */
  maxAge: number | null;
}

export function oidcParams(query: Params): OidcRequestParams {
  if (param(query, 'request') !== undefined) throw new RequestNotSupported('the request parameter (a request object) is not supported: send each parameter in the query');
  if (param(query, 'request_uri') !== undefined) throw new RequestUriNotSupported('request_uri is not supported: send each parameter in the query');
  // OAuth 2.0 Multiple Response Type Encoding Practices section 2.1: the answer goes back in the query, the only mode
  // here (`response_modes_supported`); a client waiting for a form post or a fragment would never see it.
  const responseMode = param(query, 'response_mode');
  if (responseMode !== undefined && responseMode !== 'query') throw new InvalidRequest('response_mode must be query, the only response mode supported');
  const nonce = param(query, 'nonce') ?? null;
  if (nonce !== null && nonce.length > MAX_NONCE_LENGTH) throw new InvalidRequest(`nonce must be at most ${MAX_NONCE_LENGTH} characters`);
  return { nonce, prompt: promptOf(param(query, 'prompt')), maxAge: maxAgeOf(param(query, 'max_age')) };
}

/**
 * A space-delimited list of `none`, `login`, `consent`, `select_account`. `none` stands alone (OIDC Core section
 * 3.1.2.1: "If this parameter contains none with any other value, an error is returned"). `select_account` is the
 * sign-in page, the one place where a user chooses which account to go on with, so it is kept as `login`.
 */
function promptOf(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const values = [...new Set(raw.split(' ').filter(Boolean))];
  const unknown = values.filter((v) => !PROMPT_VALUES_SUPPORTED.includes(v));
  if (unknown.length) throw new InvalidRequest(`prompt value ${unknown.join(' ')} is not supported: use ${PROMPT_VALUES_SUPPORTED.join(', ')}`);
  if (values.includes('none') && values.length > 1) throw new InvalidRequest('prompt=none must not be combined with other prompt values');
  return [...new Set(values.map((v) => (v === 'select_account' ? 'login' : v)))];
}

/** Whole seconds, 0 or more (0 asks for a sign-in now, like prompt=login). */
function maxAgeOf(raw: string | undefined): number | null {
  if (raw === undefined) return null;
  if (!/^\d{1,9}$/.test(raw)) throw new InvalidRequest('max_age must be a whole number of seconds, 0 or more');
  return Number(raw);
}
