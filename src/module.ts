// What a feature module declares to the rest of Tessera (DESIGN "The shape"): its tables, which of them belong to
// one tenant, its GraphQL types, and, once built, its services, routes, jobs and notification channels.
// src/modules.ts lists the modules; src/runtime.ts and src/app.ts iterate that list. This file names no feature.
import type { EntitySchema, MikroORM } from '@mikro-orm/postgresql';
import type { FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { LookupAddress } from 'node:dns';
import type pg from 'pg';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Tasks } from './db/jobs.js';
import type { GraphQLServices } from './graphql/builder.js';
import type { Keyring } from './keys/keyring.js';
import type { RevocationList } from './keys/revocations.js';
import type { TokenAdmission, TokenService } from './keys/tokens.js';
import type { Logger } from './observability/log.js';
import type { Registry } from './observability/metrics.js';
import type { SecretBox } from './secret-box.js';

/**
 * The services the features offer one another, by name. Each feature adds its own in its module.ts
 * (declaration merging), and reaches another feature only through these, never through its tables.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by declaration merging
export interface Services {}

/** What every module is built on: the parts of Tessera below the features. */
export interface Core {
  config: Config;
  clock: Clock;
  orm: MikroORM;
  databaseUrl: string;
  box: SecretBox;
  keyring: Keyring;
  tokens: TokenService;
  revocations: RevocationList;
  /** Plain pg beside the ORM, for job bookkeeping and the hot paths written in SQL. */
  pool: pg.Pool;
  /** Whether this process runs jobs (roles `all` and `worker`). */
  runsJobs: boolean;
  /** The GraphQL schema every module's types make. */
  schema: GraphQLSchema;
  /** DNS for outbound connections; tests inject one to exercise the SSRF checks. */
  resolver?: (hostname: string) => Promise<LookupAddress[]>;
  /** The process's log (observability/log.ts). */
  logger: Logger;
  /** The process's metrics: a module defines its own on it, next to what they measure (observability/metrics.ts). */
  metrics: Registry;
}

export interface FeatureModule {
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- entities of any shape
  entities: Array<EntitySchema<any>>;
  /**
   * The entities whose rows belong to one tenant: queries on them see only the request's tenant (db/tenant.ts), and
   * their tables have tenant_id in every key, so that they can be distributed by tenant (README "Scaling past one
   * PostgreSQL"; test/sharding.test.ts reads the catalog).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  tenantOwned: Array<EntitySchema<any>>;
  /** The entities that belong to no tenant: one copy serves every tenant (under Citus, reference tables). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  platformWide: Array<EntitySchema<any>>;
  /** Adds the module's types to the GraphQL schema (once, before it is built). */
  graphql?: () => void;
  /** Builds the module's parts from the core and the services of the modules listed before it. */
  create(core: Core, services: Services): Feature | Promise<Feature>;
}

/** A module once built. */
export interface Feature {
  services?: Partial<Services>;
  /** What the module's GraphQL resolvers reach through their context. */
  graphql?: Partial<GraphQLServices>;
  /** Registers the module's HTTP routes. */
  routes?(app: FastifyInstance): void | Promise<void>;
  /**
   * What the module adds to the OpenAPI document beyond its routes' schemas: `webhooks` (OpenAPI 3.1), the requests
   * Tessera sends out, by name, each an OpenAPI Path Item. app.ts merges every module's.
   */
  openapi?: { webhooks?: Record<string, unknown> };
  /** Checked on every use of every verified token (keys/tokens.ts); at most one module declares it. */
  tokenAdmission?: TokenAdmission;
  /** graphile-worker tasks, run where the process runs jobs. */
  jobs?: Tasks;
  /** LISTEN channel -> what to do with a NOTIFY on it: how a change made by any process reaches this one. */
  channels?: Record<string, (payload: string) => void>;
  /** The notification connection came back: what was notified meanwhile is lost, so reload. */
  reconnected?(): void;
  /** Loads what the module keeps in memory, before the process serves; `background`: keep it fresh on a timer. */
  start?(options: { background: boolean }): Promise<void>;
  stop?(): Promise<void> | void;
}
