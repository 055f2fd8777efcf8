// Every page of the console, by role; each file registers the pages of one area.
import type { FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { ConsoleContext } from '../context.js';
import { registerIntegrationPages } from './activity-pages.js';
import { registerAdminPages } from './admin-pages.js';
import { registerOperatorPages } from './operator-pages.js';

export interface PagesDeps {
  context: ConsoleContext;
  schema: GraphQLSchema;
}

export function registerConsolePages(app: FastifyInstance, deps: PagesDeps): void {
  // The areas register here (admin, operator, partner).
  registerAdminPages(app, deps);
  registerOperatorPages(app, deps);
  registerIntegrationPages(app, deps);
}
