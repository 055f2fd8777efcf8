// JWKS (RFC 7517) at the well-known path and under the versioned auth namespace: the same document.
import type { FastifyInstance } from 'fastify';
import type { Keyring } from './keyring.js';

const jwksSchema = {
  tags: ['JWKS'],
  summary: 'Public signing keys (JWKS)',
  description: 'Public keys that verify Tessera-issued JWTs. Select the key by the `kid` in the JWT header; refresh once on an unknown `kid`.',
  response: {
    200: {
      type: 'object',
      properties: {
        keys: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              kty: { type: 'string' },
              kid: { type: 'string' },
              use: { type: 'string' },
              alg: { type: 'string' },
              n: { type: 'string' },
              e: { type: 'string' },
              crv: { type: 'string' },
              x: { type: 'string' },
              y: { type: 'string' },
            },
          },
        },
      },
    },
  },
};

export function registerJwksRoutes(app: FastifyInstance, keyring: Keyring, maxAge: number): void {
  const serve = async (_request: unknown, reply: import('fastify').FastifyReply) =>
    reply
      .header('cache-control', `public, max-age=${maxAge}`)
      .type('application/json')
      // The document is built once per key change; sending the string skips serialising it per request.
      .serializer((body: string) => body)
      .send(keyring.jwks());
  app.get('/.well-known/jwks.json', { schema: jwksSchema }, serve);
  app.get('/v1/auth/jwks.json', { schema: jwksSchema }, serve);
}
