// The baseline of the compared scenarios: what a bare Fastify + jose service does for the same requests,
// with none of Tessera's machinery. It runs in a process of its own, as Tessera does, so that both servers are
// measured the same way, apart from the load generator (it used to share the load generator's process).
// Started by bench/run.ts with its configuration in BENCH_BASELINE.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import { createLocalJWKSet, decodeJwt, generateKeyPair, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import pg from 'pg';

export interface BaselineConfig {
  tesseraUrl: string;
  /** A Tessera access token: its issuer and audience are the ones the baseline verifies. */
  token: string;
  client: { id: string; secret: string };
  host: string;
  port: number;
  /** The running server's embedded PostgreSQL (read only: the baseline never writes). */
  database: pg.PoolConfig;
}

/** Printed once the baseline listens. */
export const BASELINE_READY = 'baseline listening';

// The four published scopes of the seed migration, so both bodies are the same size.
const BASELINE_SCOPES = [
  { name: 'incidents:read', description: 'Read incidents and their notes' },
  { name: 'incidents:write', description: 'Create, update and close incidents and add notes' },
  { name: 'webhooks:read', description: 'List webhook subscriptions and their delivery history' },
  { name: 'webhooks:write', description: 'Create and update outbound webhook subscriptions' },
];

interface IncidentRow {
  id: string;
  number: number;
  title: string;
  status: string;
  severity: string;
  labels: string[];
  created_at: Date;
  updated_at: Date;
  closed_at: Date | null;
}

async function startBaseline({ tesseraUrl, token, client, host, port, database }: BaselineConfig): Promise<FastifyInstance> {
  const jwksResponse = await fetch(new URL('/.well-known/jwks.json', tesseraUrl));
  if (!jwksResponse.ok) throw new Error(`JWKS answered ${jwksResponse.status}`);
  const keys = createLocalJWKSet((await jwksResponse.json()) as JSONWebKeySet);
  const claims = decodeJwt(token);
  if (typeof claims.iss !== 'string' || claims.aud === undefined) throw new Error('the admin token has no iss or aud');
  const verifyOptions = { issuer: claims.iss, audience: claims.aud, typ: 'at+jwt', algorithms: ['RS256'] };

  const app = Fastify({ logger: false });
  app.get(
    '/v1/platform/scopes',
    {
      // Serialised by a response schema, as Tessera's route is.
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              scopes: {
                type: 'array',
                items: { type: 'object', properties: { name: { type: 'string' }, description: { type: 'string' } } },
              },
            },
          },
          401: { type: 'object', properties: { error: { type: 'string' }, error_description: { type: 'string' } } },
        },
      },
    },
    async (request, reply) => {
      const match = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '');
      if (!match) return reply.code(401).send({ error: 'unauthorized', error_description: 'bearer token required' });
      try {
        await jwtVerify(match[1]!, keys, verifyOptions);
      } catch {
        return reply.code(401).send({ error: 'invalid_token', error_description: 'token does not verify' });
      }
      return { scopes: BASELINE_SCOPES };
    },
  );
  // The minimum work a token endpoint must do: read the form and the Basic credentials, check the
  // secret's SHA-256 in constant time, sign one RS256 JWT with a key of the same size as Tessera's.
  await app.register(formbody);
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
  const secretDigest = createHash('sha256').update(client.secret).digest();
  app.post('/token', async (request, reply) => {
    const form = request.body as Record<string, string>;
    const decoded = Buffer.from((request.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
    const [id, secret] = decoded.split(':').map(decodeURIComponent);
    const digest = createHash('sha256').update(secret ?? '').digest();
    if (form.grant_type !== 'client_credentials' || id !== client.id || !timingSafeEqual(digest, secretDigest)) {
      return reply.code(401).send({ error: 'invalid_client' });
    }
    const now = Math.floor(Date.now() / 1000);
    const accessToken = await new SignJWT({ client_id: id, scope: 'incidents:read', jti: randomUUID() })
      .setProtectedHeader({ alg: 'RS256', kid: 'baseline', typ: 'at+jwt' })
      .setIssuer(String(claims.iss))
      .setSubject(id)
      .setAudience(claims.aud as string)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
    return reply.header('cache-control', 'no-store').send({ access_token: accessToken, token_type: 'Bearer', expires_in: 3600, scope: 'incidents:read' });
  });

  // The incidents list: the same token check as /v1/platform/scopes above (no verified-token cache), the
  // tenant header against the token, the scope, then one SELECT through a pool as large as Tessera's (10).
  const pool = new pg.Pool({ ...database, max: 10 });
  app.addHook('onClose', async () => pool.end());
  app.post('/incidents', async (request, reply) => {
    const match = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '');
    if (!match) return reply.code(401).send({ errors: [{ message: 'bearer token required', extensions: { code: 'UNAUTHENTICATED' } }] });
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(match[1]!, keys, verifyOptions));
    } catch {
      return reply.code(401).send({ errors: [{ message: 'token does not verify', extensions: { code: 'UNAUTHENTICATED' } }] });
    }
    const tenantId = request.headers['x-tenant-id'];
    if (typeof payload.tenant_id !== 'string' || tenantId !== payload.tenant_id) {
      return reply.code(403).send({ errors: [{ message: 'wrong tenant', extensions: { code: 'FORBIDDEN' } }] });
    }
    if (typeof payload.scope !== 'string' || !payload.scope.split(' ').includes('incidents:read')) {
      return reply.code(403).send({ errors: [{ message: 'incidents:read required', extensions: { code: 'FORBIDDEN' } }] });
    }
    const first = Number((request.body as { variables?: { first?: unknown } } | undefined)?.variables?.first ?? 20);
    if (!Number.isInteger(first) || first < 1 || first > 100) {
      return reply.code(400).send({ errors: [{ message: 'first must be between 1 and 100', extensions: { code: 'BAD_USER_INPUT' } }] });
    }
    const { rows } = await pool.query<IncidentRow>(
      `select id, number, title, status, severity, labels, created_at, updated_at, closed_at
         from incidents where tenant_id = $1 order by number desc limit $2`,
      [tenantId, first + 1],
    );
    const edges = rows.slice(0, first).map((row) => ({
      cursor: Buffer.from(`incident:${row.number}`).toString('base64url'),
      node: {
        id: row.id,
        number: row.number,
        title: row.title,
        status: row.status,
        severity: row.severity,
        labels: row.labels,
        createdAt: row.created_at.toISOString(),
        updatedAt: row.updated_at.toISOString(),
        closedAt: row.closed_at?.toISOString() ?? null,
        __typename: 'Incident',
      },
      __typename: 'IncidentEdge',
    }));
    return {
      data: {
        incidents: {
          edges,
          pageInfo: { hasNextPage: rows.length > first, endCursor: edges[edges.length - 1]?.cursor ?? null, __typename: 'PageInfo' },
          __typename: 'IncidentConnection',
        },
      },
    };
  });

  await app.listen({ port, host });
  return app;
}


const raw = process.env.BENCH_BASELINE;
if (raw) {
  const app = await startBaseline(JSON.parse(raw) as BaselineConfig);
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
  console.log(BASELINE_READY);
}
