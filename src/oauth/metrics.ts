// The token endpoint's metrics: tokens issued by grant type, and refusals by their OAuth error code (RFC 6749
// section 5.2, plus rate_limited and temporarily_unavailable): a rise in invalid_client is a leaked or rotated
// secret, in invalid_grant a replayed code or refresh token.
import { Counter, type Registry } from 'prom-client';
import { asTesseraError } from '../errors.js';

export interface TokenMetrics {
  issued(grantType: string): void;
  refused(error: unknown): void;
}

/** The grant types a label may name; anything else a client sends counts as `other`. */
const GRANT_TYPES = new Set(['authorization_code', 'client_credentials', 'refresh_token']);

export function tokenMetrics(registry: Registry): TokenMetrics {
  const issued = new Counter({ name: 'tessera_oauth_tokens_issued_total', help: 'Tokens issued by the token endpoint, by grant type', labelNames: ['grant_type'], registers: [registry] });
  const refused = new Counter({ name: 'tessera_oauth_token_refusals_total', help: 'Token requests refused, by OAuth error code', labelNames: ['error'], registers: [registry] });
  return {
    issued: (grantType) => issued.inc({ grant_type: GRANT_TYPES.has(grantType) ? grantType : 'other' }),
    // The codes are a closed list (errors.ts), so the label stays bounded.
    refused: (error) => refused.inc({ error: asTesseraError(error).code }),
  };
}
