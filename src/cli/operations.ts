// operations check / publish / manifest / assign / unassign: the operator's bundles in operations/.
import { join } from 'node:path';
import { assertBundleName, loadBundles, type CheckedBundle } from '../bundles/files.js';
import { schema } from '../modules.js';
import type { Runtime } from '../runtime.js';
import { CheckFailed, UsageError, type Command } from './command.js';
import { withRuntime } from './runtime.js';

const OPERATIONS_DIR = 'operations';

/** Loads operations/ and fails naming every broken operation and why. */
function checkedBundles(cwd: string): CheckedBundle[] {
  const { bundles, problems } = loadBundles(schema(), join(cwd, OPERATIONS_DIR));
  if (problems.length) throw new CheckFailed(problems.map((p) => `${p.bundle}/${p.file}: ${p.message}`));
  return bundles;
}

async function appRecord(runtime: Runtime, clientId: string) {
  const record = await runtime.services.clients.find(clientId);
  if (!record) throw new UsageError(`no app with client_id ${clientId}`);
  return record.app;
}

export const operationCommands: Record<string, Command> = {
  'operations check': {
    options: {},
    run: async (_values, { cwd }) => checkedBundles(cwd).map((b) => ({ bundle: b.name, version: b.version, operations: b.operations.length, status: 'ok' })),
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
    run: (_values, { config }, [bundle, clientId]) =>
      withRuntime(config, async (runtime) => {
        const app = await appRecord(runtime, clientId!);
        const { assigned } = await runtime.services.bundles.assign(app, assertBundleName(bundle), 'operator');
        return { client_id: app.id, bundle: bundle!, status: assigned ? 'assigned' : 'already assigned' };
      }),
  },
  'operations unassign': {
    options: {},
    args: ['bundle', 'client_id'],
    run: (_values, { config }, [bundle, clientId]) =>
      withRuntime(config, async (runtime) => {
        const app = await appRecord(runtime, clientId!);
        await runtime.services.bundles.unassign(app, assertBundleName(bundle), 'operator');
        return { client_id: app.id, bundle: bundle!, status: 'unassigned' };
      }),
  },
};
