// operations import / export-schema: bundles from frontend workflows. `import` writes a bundle's files from what a
// frontend build has (src/bundles/import.ts says how), for the operator to review and commit like any bundle;
// `export-schema` prints the schema those frontends are written against, which the server never serves (schema
// discovery is off for partners), so the operator hands it to frontend developers from here.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { printSchema } from 'graphql';
import { assertBundleName } from '../bundles/files.js';
import { FORMAT_LABELS, checkImports, extractOperations, planImport, readImportSource, type BundleFolder } from '../bundles/import.js';
import { InvalidRequest } from '../errors.js';
import { schema } from '../modules.js';
import { UsageError, required, type Command } from './command.js';

const OPERATIONS_DIR = 'operations';

/** What operations/<bundle>/ holds now; a folder that is not there yet holds nothing. */
function bundleFolder(folder: string, label: string): BundleFolder {
  if (!existsSync(folder)) return { hasBundleJson: false, graphqlFiles: [] };
  if (!statSync(folder).isDirectory()) throw new InvalidRequest(`${label} exists and is not a folder`);
  return {
    hasBundleJson: existsSync(join(folder, 'bundle.json')),
    graphqlFiles: readdirSync(folder)
      .filter((file) => file.endsWith('.graphql'))
      .sort()
      .map((file) => ({ file, text: readFileSync(join(folder, file), 'utf8') })),
  };
}

export const importCommands: Record<string, Command> = {
  'operations import': {
    options: { from: { type: 'string' }, description: { type: 'string' } },
    args: ['bundle'],
    run: async (values, { cwd }, [name]) => {
      const from = required(values, 'from');
      const description = typeof values.description === 'string' ? values.description.trim() : undefined;
      if (description === '') throw new UsageError('--description must not be empty');
      const bundle = assertBundleName(name);
      const source = readImportSource(resolve(cwd, from), `--from ${from}`);
      const folder = join(cwd, OPERATIONS_DIR, bundle);
      const plan = planImport({
        bundle,
        description: description ?? `Imported from ${basename(resolve(cwd, from))} (${FORMAT_LABELS[source.format]}): say what this bundle lets an app do`,
        found: checkImports(schema(), extractOperations(source)),
        folder: bundleFolder(folder, `${OPERATIONS_DIR}/${bundle}`),
      });
      if (!plan.imported) {
        // Exit code 1, and nothing written: not even a bundle.json for a bundle without operations.
        const why = plan.rows.map((row) => `\n  - ${row.operation ?? '(no operation)'} (${row.source}): ${row.reason}`).join('');
        throw new Error(`nothing imported from ${from}: ${plan.rows.length ? `every operation was skipped${why}` : `it holds no operations`}`);
      }
      mkdirSync(folder, { recursive: true });
      for (const write of plan.writes) writeFileSync(join(folder, write.file), write.text);
      return plan.rows.map((row) => ({ ...row }));
    },
  },
  'operations export-schema': {
    options: {},
    run: async (values) => {
      const sdl = printSchema(schema());
      // Text, printed as it is: `tessera operations export-schema > schema.graphql`.
      return values.json === true ? { sdl } : sdl;
    },
  },
};
