// operations check / publish / manifest / assign / unassign / deprecate / retire / usage: the operator's bundles in
// operations/ and their releases.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSchema, type GraphQLSchema } from 'graphql';
import { describeBreakage } from '../bundles/impact.js';
import type { Config } from '../config.js';
import { assertBundleName, loadBundles, type CheckedBundle } from '../bundles/files.js';
import { parseBundleSpec, parseVersionSpec } from '../bundles/versions.js';
import { InvalidRequest } from '../errors.js';
import { schema } from '../modules.js';
import type { Runtime } from '../runtime.js';
import { CheckFailed, UsageError, type Command } from './command.js';
import { withRuntime } from './runtime.js';

const OPERATIONS_DIR = 'operations';

/** Loads operations/ and fails naming every broken operation and why. */
function checkedBundles(cwd: string, against: GraphQLSchema = schema()): CheckedBundle[] {
  const { bundles, problems } = loadBundles(against, join(cwd, OPERATIONS_DIR));
  if (problems.length) throw new CheckFailed(problems.map((p) => `${p.bundle}/${p.file}: ${p.message}`));
  return bundles;
}

/** A proposed schema, as SDL in a file (relative to the command's folder). */
function proposedSchema(file: string, cwd: string): GraphQLSchema {
  let sdl: string;
  try {
    sdl = readFileSync(resolve(cwd, file), 'utf8');
  } catch (error) {
    throw new UsageError(`--schema ${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return buildSchema(sdl);
  } catch (error) {
    throw new UsageError(`--schema ${file} is not a valid GraphQL schema: ${(error as Error).message}`);
  }
}

/** Whether published versions can be checked: a database is named, or an embedded one has been set up in DATA_DIR. */
function hasDatabase(config: Config): boolean {
  return Boolean(config.databaseUrl) || existsSync(join(config.dataDir, 'pg', 'PG_VERSION'));
}

/** A bundle spec the caller got wrong is a bad argument (exit code 2), said before any database starts. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof InvalidRequest) throw new UsageError(error.description);
    throw error;
  }
}

async function appRecord(runtime: Runtime, clientId: string) {
  const record = await runtime.services.clients.find(clientId);
  if (!record) throw new UsageError(`no app with client_id ${clientId}`);
  return record.app;
}

export const operationCommands: Record<string, Command> = {
  'operations check': {
    options: { schema: { type: 'string' }, 'files-only': { type: 'boolean' } },
    run: async (values, { config, cwd }) => {
      const against = typeof values.schema === 'string' ? proposedSchema(values.schema, cwd) : schema();
      // Both checks run, and a failure names every problem of both: the files in operations/ and the live versions.
      const { bundles, problems } = loadBundles(against, join(cwd, OPERATIONS_DIR));
      const files = bundles.map((b) => ({ bundle: b.name, version: b.version, source: 'operations/', operations: b.operations.length, status: 'ok' }));
      const failures = problems.map((p) => `${p.bundle}/${p.file}: ${p.message}`);
      let live: Array<Record<string, unknown>> = [];
      if (!values['files-only'] && hasDatabase(config)) {
        const impact = await withRuntime(config, (runtime) => runtime.services.bundles.impact(against));
        failures.push(...impact.breakages.map(describeBreakage));
        live = impact.checked.map((spec) => ({ bundle: spec.split('@')[0], version: spec.split('@')[1], source: 'published, live', status: 'ok' }));
      }
      if (failures.length) throw new CheckFailed(failures);
      return [...files, ...live];
    },
  },
  'operations publish': {
    options: {},
    run: async (_values, { config, cwd }) => {
      const bundles = checkedBundles(cwd);
      return withRuntime(config, async (runtime) => runtime.services.bundles.publish(bundles, 'operator'));
    },
  },
  'operations manifest': {
    options: { version: { type: 'string' } },
    args: ['bundle'],
    run: (values, { config }, [bundle]) =>
      withRuntime(config, async (runtime) => runtime.services.bundles.manifest(assertBundleName(bundle), values.version as string | undefined)),
  },
  'operations assign': {
    options: {},
    args: ['bundle', 'client_id'],
    check: (_values, _context, [spec]) => void usage(() => parseBundleSpec(spec)),
    run: (_values, { config }, [spec, clientId]) =>
      withRuntime(config, async (runtime) => {
        const { bundle, track } = parseBundleSpec(spec);
        const app = await appRecord(runtime, clientId!);
        const { assigned } = await runtime.services.bundles.assign(app, bundle, 'operator', track);
        return { client_id: app.id, bundle, track, status: assigned ? 'assigned' : 'already assigned' };
      }),
  },
  'operations unassign': {
    options: {},
    args: ['bundle', 'client_id'],
    check: (_values, _context, [spec]) => void usage(() => parseBundleSpec(spec)),
    run: (_values, { config }, [spec, clientId]) =>
      withRuntime(config, async (runtime) => {
        const { bundle, track } = parseBundleSpec(spec);
        const app = await appRecord(runtime, clientId!);
        await runtime.services.bundles.unassign(app, bundle, 'operator', track);
        return { client_id: app.id, bundle, track, status: 'unassigned' };
      }),
  },
  'operations deprecate': {
    options: {},
    args: ['bundle@version'],
    check: (_values, _context, [spec]) => void usage(() => parseVersionSpec(spec)),
    run: (_values, { config }, [spec]) =>
      withRuntime(config, async (runtime) => {
        const { bundle, version } = parseVersionSpec(spec);
        const row = await runtime.services.bundles.deprecate(bundle, version, 'operator');
        return { bundle, version, status: row.status, deprecated_at: row.deprecatedAt?.toISOString() ?? null };
      }),
  },
  'operations retire': {
    options: { force: { type: 'boolean' } },
    args: ['bundle@version'],
    check: (_values, _context, [spec]) => void usage(() => parseVersionSpec(spec)),
    run: (values, { config }, [spec]) =>
      withRuntime(config, async (runtime) => {
        const { bundle, version } = parseVersionSpec(spec);
        const row = await runtime.services.bundles.retire(bundle, version, 'operator', { force: values.force === true });
        return { bundle, version, status: row.status, retired_at: row.retiredAt?.toISOString() ?? null };
      }),
  },
  'operations usage': {
    options: {},
    args: ['bundle@version'],
    check: (_values, _context, [spec]) => void usage(() => parseVersionSpec(spec)),
    run: (_values, { config }, [spec]) =>
      withRuntime(config, async (runtime) => {
        const { bundle, version } = parseVersionSpec(spec);
        return runtime.services.bundles.usage(bundle, version);
      }),
  },
};
