// Every page of the console, by role; each file registers the pages of one area.
import type { FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { ConsoleContext } from '../context.js';

export interface PagesDeps {
  context: ConsoleContext;
  schema: GraphQLSchema;
}

export function registerConsolePages(_app: FastifyInstance, _deps: PagesDeps): void {
  // The areas register here (admin, operator, partner).
}
