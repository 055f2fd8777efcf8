// The schema, built once from every feature's Pothos types.
import type { GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import '../incidents/graphql.js';
import '../webhooks/graphql.js';

let schema: GraphQLSchema | undefined;

export function getSchema(): GraphQLSchema {
  schema ??= builder.toSchema({ sortSchema: true });
  return schema;
}
