// runCli(argv, io): the operator CLI as a function, so that tests run it in process; src/cli/index.ts runs it
// as the `tessera` bin and for `npm run cli -- <command>`. Same configuration as the server (read from io.env).
import { parseArgs } from 'node:util';
import { ConfigError, parseConfig } from '../config.js';
import { TesseraError } from '../errors.js';
import { SCOPE_ADMIN, SCOPE_OPERATOR } from '../http/auth.js';
import { CheckFailed, UsageError, type Command } from './command.js';
import { importCommands } from './import.js';
import { keyCommands } from './keys.js';
import { operationCommands } from './operations.js';
import { requestCommands } from './requests.js';
import { sandboxCommands } from './sandboxes.js';
import { tenantCommands } from './tenants.js';

export interface CliIo {
  env: Record<string, string | undefined>;
  /** Where `operations/` is read from. */
  cwd: string;
  stdout(text: string): void;
  stderr(text: string): void;
}

export const USAGE = `Usage: tessera <command> [options] [--json]
       (in a checkout: npm run cli -- <command> [options] [--json])

Commands:
  bootstrap --tenant <slug> --name <name> --admin-email <email> [--admin-password <pw>]
      Create a tenant and its first admin user; prints an admin access token.
  admin-token --tenant <slug> --email <email> [--ttl <seconds>]
      Mint a tenant-admin access token (scope ${SCOPE_ADMIN}).
  operator-user --email <email> [--password <pw>] [--slug <slug>]
      Make an operator account (in the operators' tenant, made the first time) who signs in to the console.
  operator-token [--ttl <seconds>]
      Mint an operator access token (scope ${SCOPE_OPERATOR}, all tenants).
  tenant-scopes --tenant <slug> [--set <scope,...> | --all]
      Show the published scopes a tenant may use; --set narrows them, --all gives back every published scope.
  sandbox create --name <name> [--slug <slug>] --admin-email <email> [--ttl-days <n>]
      Create a sandbox tenant with sample incidents and its first admin; prints the password (once) and a token.
  sandbox list
      Show the sandbox tenants, their term and whether they have expired.
  requests list [--status pending|approved|denied] [--tenant <slug>]
      Show integration requests, newest first.
  requests approve <id> [--note <text>]
  requests deny <id> --note <text>
      Decide an integration request: approving does what it asks (bundle, scopes, sandbox); denying says why.
  keys list
      Show signing keys and their state (next, active, retired, expired).
  keys rotate
      Promote the next key to signing; the old key stays published until its tokens expire.
  operations check [--schema <file.graphql>] [--files-only]
      Validate every operation in operations/ against the current schema (or the proposed SDL of --schema), and,
      with a database (DATABASE_URL, or an embedded one in DATA_DIR), every published version still assigned or
      used within BUNDLE_RETIRE_WINDOW_DAYS, naming the apps and tenants a breaking change would hit.
  operations publish
      Store new bundle versions; a published version never changes.
  operations manifest <bundle> [--version <v>]
      Print what a client needs: an Apollo persisted-query manifest and a documentId map.
  operations assign <bundle>[@<version>] <client_id>
  operations unassign <bundle>[@<version>] <client_id>
      Let an app run a bundle's operations, or stop it; effective at once on every server. A bare bundle is its
      channel (the newest version not retired); @<version> pins one. An app may hold several.
  operations deprecate <bundle>@<version>
      Flag a version: apps holding it get a Deprecation header and see it in their operation list.
  operations retire <bundle>@<version> [--force]
      Retire a version (its operations answer as unknown); refused, naming them, while apps used it recently.
  operations usage <bundle>@<version>
      Who holds a version and who used it within the retirement window.
  operations import <bundle> --from <path> [--description <text>]
      Write operations/<bundle>/ for review from an Apollo persisted-query manifest, graphql-codegen's
      persisted-documents.json or a frontend's sources (.graphql files, gql/graphql templates); says what it
      wrote and what it skipped, and why.
  operations export-schema
      Print the GraphQL schema (SDL) that bundle operations are written against; never served over HTTP.
`;

const commands: Record<string, Command> = { ...tenantCommands, ...keyCommands, ...operationCommands, ...importCommands, ...requestCommands, ...sandboxCommands };

/** The commands of two words (`keys rotate`, `operations check`, `requests list`, `sandbox create`); every other is one. */
const GROUPS = new Set(['keys', 'operations', 'requests', 'sandbox']);

function commandName(argv: string[]): string | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  return words[0] !== undefined && GROUPS.has(words[0]) ? `${words[0]} ${words[1] ?? ''}`.trim() : words[0];
}

/** A command's answer as printed: JSON with --json; text as it is (a schema, say); rows and fields as `key=value`. */
function format(result: Record<string, unknown> | Record<string, unknown>[] | string, json: boolean): string {
  if (json) return `${JSON.stringify(result, null, 2)}\n`;
  if (typeof result === 'string') return result.endsWith('\n') ? result : `${result}\n`;
  if (Array.isArray(result)) return result.map((row) => `${Object.entries(row).map(([k, v]) => `${k}=${v ?? '-'}`).join('  ')}\n`).join('');
  return Object.entries(result)
    .map(([key, value]) => `${key}: ${typeof value === 'object' && value !== null ? JSON.stringify(value, null, 2) : value}\n`)
    .join('');
}

/** Runs one command; answers its exit code: 0 done, 1 failed, 2 bad arguments (nothing done). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const name = commandName(argv);
  if (name === 'help' || argv.includes('--help')) {
    io.stdout(USAGE);
    return 0;
  }
  if (!name) {
    io.stdout(USAGE);
    return 2;
  }
  try {
    const command = commands[name];
    if (!command) throw new UsageError(`unknown command: ${name}`);
    const { values, positionals } = parseArgs({ args: argv, options: { ...command.options, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
    const expected = command.args ?? [];
    const args = positionals.slice(name.split(' ').length);
    if (args.length < expected.length) throw new UsageError(`${name} needs ${expected.map((a) => `<${a}>`).join(' ')}`);
    if (args.length > expected.length) throw new UsageError(`unexpected argument: ${args.slice(expected.length).join(' ')}`);
    const context = { config: parseConfig(io.env), cwd: io.cwd };
    command.check?.(values, context, args);
    io.stdout(format(await command.run(values, context, args), values.json === true));
    return 0;
  } catch (error) {
    return reportError(error, io);
  }
}

function reportError(error: unknown, io: CliIo): number {
  if (error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
    io.stderr(`error: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (error instanceof CheckFailed) {
    io.stderr(`operations check failed:\n${error.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  if (error instanceof ConfigError) {
    io.stderr(`${error.message}\n`);
    return 2;
  }
  if (error instanceof TesseraError) {
    io.stderr(`error: ${error.description}\n`);
    // A duplicate slug or an unknown tenant is the caller's mistake, like any other bad argument.
    return error.status < 500 ? 2 : 1;
  }
  io.stderr(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
}
