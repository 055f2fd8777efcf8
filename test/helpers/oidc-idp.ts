// An upstream OpenID provider for the federation tests: node-oidc-provider (a certified implementation, not ours) on
// 127.0.0.1, with its development sign-in pages (any login, any password: the login becomes the account id), one
// confidential client (Tessera) and the accounts' claims the test gives. ID tokens carry the scopes' claims
// (conformIdTokenClaims: false), as many enterprise IdPs send them.
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import Provider from 'oidc-provider';
import { freePort } from './listening.js';

export interface OidcIdp {
  issuer: string;
  close(): Promise<void>;
}

export async function startOidcIdp(options: { clientId: string; clientSecret: string; redirectUri: string; accounts: Record<string, Record<string, unknown>> }): Promise<OidcIdp> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: [options.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...jwk, kid: 'test-idp-key', use: 'sig', alg: 'RS256' }] as never },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
    conformIdTokenClaims: false,
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, ...(options.accounts[id] ?? {}) }) }),
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: ['federation-test-cookie-key'] },
  });
  // Its development pages warn on every start; the tests know.
  provider.on('server_error', () => undefined);
  const server: Server = createServer(provider.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    issuer,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
