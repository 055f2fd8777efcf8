// Migrate once into a template database; every test file then gets `CREATE DATABASE ... TEMPLATE` of it
// (DESIGN "Conventions" 9). With DATABASE_URL unset, an embedded PostgreSQL is started for the run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/orm.js';
import { withDatabase } from './databases.js';

declare module 'vitest' {
  export interface ProvidedContext {
    serverUrl: string;
    templateDatabase: string;
  }
}

export default async function setup(project: TestProject) {
  let stopEmbedded = async () => undefined as void;
  let dataDir: string | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-test-pg-'));
    const embedded = await startEmbeddedPostgres({ dataDir, port: 0, mode: 'own', log: () => undefined });
    serverUrl = embedded.url;
    stopEmbedded = embedded.stop;
  }
  const template = `tessera_tpl_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await admin.connect();
  await admin.query(`create database ${template}`);
  await migrate(withDatabase(serverUrl, template));

  project.provide('serverUrl', serverUrl);
  project.provide('templateDatabase', template);

  return async () => {
    await admin.query(`drop database if exists ${template} with (force)`);
    await admin.end();
    await stopEmbedded();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}
