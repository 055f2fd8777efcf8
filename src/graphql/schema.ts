// The schema, built once from the types the modules add to the builder (src/modules.ts lists them).
import type { GraphQLSchema } from 'graphql';
import { builder } from './builder.js';

let schema: GraphQLSchema | undefined;

/**
 * Adds each module's types and builds the schema, the first time; later calls answer the same schema (the
 * builder is one per process, and a type can be added to it only once).
 */
export function buildSchema(addTypes: Array<() => void>): GraphQLSchema {
  if (!schema) {
    for (const add of addTypes) add();
    schema = builder.toSchema({ sortSchema: true });
  }
  return schema;
}
