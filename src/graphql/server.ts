// POST/GET /graphql. The ordinary calls of persisted operations are run by the precompiled path (precompiled.ts:
// validated and compiled once, since Yoga's per-request pipeline costs more than the request itself); every
// other request goes to Yoga (yoga.ts). What both decide alike is transport.ts's.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import { PrecompiledOperations } from './precompiled.js';
import { createTransport, type TransportDeps } from './transport.js';
import { createTesseraYoga, type TesseraYoga } from './yoga.js';

export interface GraphQLDeps extends TransportDeps {
  schema: GraphQLSchema;
}

const routeSchema = {
  tags: ['GraphQL'],
  summary: 'The shared GraphQL transport (persisted operations only)',
  description:
    'Send `Authorization: Bearer <token>` and `X-Tenant-ID: <tenant-id>`, and an approved persisted operation: `{"documentId": "sha256:<hex>", "variables": {...}}` (or Apollo `extensions.persistedQuery`). Raw query text is refused (400 PERSISTED_QUERY_ONLY); an operation outside your bundles is 404 PERSISTED_QUERY_NOT_IN_LIST. Errors carry `extensions.code`.',
  security: [{ bearerAuth: [] }],
};

export function registerGraphQL(
  app: FastifyInstance,
  deps: GraphQLDeps,
  /** precompiled: false serves everything through Yoga (the tests compare both paths). */
  options: { precompiled?: boolean } = {},
): void {
  const transport = createTransport(deps, app.log);
  const yoga = createTesseraYoga(deps.schema, transport, app.log);
  const precompiled = options.precompiled === false ? null : new PrecompiledOperations(yoga as never, transport);
  if (precompiled) {
    // Compiled when the operations are loaded (at start, and on every publish or assignment), not on first use.
    const stopPreparing = deps.operations.onLoad((operations) => precompiled.prepare(operations));
    app.addHook('onClose', async () => stopPreparing());
  }
  // GraphQL over HTTP takes JSON bodies: in the route's own context no other parser (text, forms) is registered, so
  // any other media type is 415. Its input is checked by the transport itself (yoga.ts), in GraphQL's words.
  app.register(async (scope) => {
    scope.removeContentTypeParser('text/plain');
    scope.route({ url: '/graphql', method: ['GET', 'POST'], schema: routeSchema, config: { checksItsOwnInput: true }, handler: graphqlEndpoint(yoga, precompiled) });
  });
}

function graphqlEndpoint(yoga: TesseraYoga, precompiled: PrecompiledOperations<unknown> | null) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (await precompiled?.serve(req, reply)) return reply;
    const response = await yoga.handleNodeRequestAndResponse(req, reply, { req, reply });
    response.headers.forEach((value, key) => void reply.header(key, value));
    reply.status(response.status);
    reply.send(response.body);
    return reply;
  };
}
