// Bundles from frontend workflows: `operations import <bundle> --from <path>` writes operations/<bundle>/ for review
// from a frontend's sources (test/fixtures/frontend), an Apollo persisted-query manifest or graphql-codegen's
// persisted-documents.json, says what it wrote and what it skipped and why, and what it writes passes
// `operations check` and is published under the ids the clients send; `operations export-schema` prints the SDL.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buildSchema, printSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundles } from '../src/bundles/files.js';
import { USAGE } from '../src/cli/run.js';
import { schema as getSchema } from '../src/modules.js';
import { sha256 } from '../src/ids.js';
import { ROOT } from './helpers/cli.js';
import { startHarness, type Harness } from './helpers/harness.js';

const FIXTURES = join(ROOT, 'test', 'fixtures');
const APOLLO_MANIFEST = join(FIXTURES, 'apollo', 'persisted-query-manifest.json');
const CODEGEN_DOCUMENTS = join(FIXTURES, 'codegen', 'persisted-documents.json');

let h: Harness;
const tempDirs: string[] = [];

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  await h?.close();
});

/** An empty folder to run the CLI in: `operations/` is written under it. */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-import-'));
  tempDirs.push(dir);
  return dir;
}

/** Every file under `dir`, by path relative to it, with its text. */
function filesIn(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (folder: string) => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else files[relative(dir, path)] = readFileSync(path, 'utf8');
    }
  };
  walk(dir);
  return files;
}

const row = (operation: string | null, status: string, file: string | null, source: string | null, reason: string | null = null) => ({ operation, status, file, source, reason });
const skipped = (operation: string | null, source: string, reason: string) => row(operation, 'skipped', null, source, reason);

async function importJson(cwd: string, args: string[]) {
  const result = await h.cli(['operations', 'import', ...args, '--json'], cwd);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

/** `operations check` in `cwd`: exit 0, and each bundle's line. */
async function checkPasses(cwd: string) {
  const result = await h.cli(['operations', 'check', '--json'], cwd);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as { bundle: string; version: string; operations: number; status: string }[];
}

const INCIDENT_FIELDS = `fragment IncidentFields on Incident {
  id
  number
  title
  status
  severity
  updatedAt
}
`;
const NOTE_FIELDS = `fragment NoteFields on IncidentNote {
  id
  author
  body
  createdAt
}
`;
const USER_ERRORS = `    userErrors {
      field
      code
      message
    }`;

/** What importing test/fixtures/frontend writes into operations/web-app/. */
const WEB_APP_FILES: Record<string, string> = {
  'web-app/AddNote.graphql': `mutation AddNote($incidentId: ID!, $body: String!) {
  addIncidentNote(incidentId: $incidentId, body: $body) {
    note {
      ...NoteFields
    }
${USER_ERRORS}
  }
}

${NOTE_FIELDS}`,
  'web-app/IncidentDetail.graphql': `query IncidentDetail($id: ID!) {
  incident(id: $id) {
    ...IncidentFields
    summary
    labels
    notes(first: 20) {
      edges {
        node {
          ...NoteFields
        }
      }
    }
  }
}

${INCIDENT_FIELDS}
${NOTE_FIELDS}`,
  'web-app/ListOpenIncidents.graphql': `query ListOpenIncidents($first: Int, $after: String) {
  incidents(filter: {status: OPEN}, first: $first, after: $after) {
    edges {
      cursor
      node {
        ...IncidentFields
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}

${INCIDENT_FIELDS}`,
  'web-app/PauseWebhook.graphql': `mutation PauseWebhook($id: ID!) {
  updateWebhook(id: $id, input: {enabled: false}) {
    webhook {
      id
      enabled
    }
${USER_ERRORS}
  }
}
`,
  'web-app/ResolveIncident.graphql': `mutation ResolveIncident($id: ID!) {
  updateIncident(id: $id, input: {status: RESOLVED}) {
    incident {
      ...IncidentFields
    }
${USER_ERRORS}
  }
}

${INCIDENT_FIELDS}`,
  'web-app/WebhookHealth.graphql': `query WebhookHealth {
  webhooks {
    id
    url
    enabled
    disabledReason
  }
}
`,
  'web-app/bundle.json': `{
  "name": "web-app",
  "description": "Imported from frontend (frontend sources): say what this bundle lets an app do",
  "version": "1.0.0"
}
`,
};

/** What the fixture holds that never reaches a bundle, and why, in the order of its files. */
const WEB_APP_SKIPPED = [
  skipped('IncidentTimeline', 'src/components/IncidentTimeline.tsx:5', 'Cannot query field "timeline" on type "Incident". Did you mean "title"?'),
  skipped('OnIncidentChanged', 'src/components/LiveIncidents.tsx:5', 'subscriptions are not served'),
  skipped('WebhookUrls', 'src/legacy/webhooks.js:5', 'defined with different text at src/webhooks/WebhookList.jsx:5 too'),
  skipped('WebhookUrls', 'src/webhooks/WebhookList.jsx:5', 'defined with different text at src/legacy/webhooks.js:5 too'),
  skipped(null, 'src/webhooks/count.ts:5', 'the operation must be named'),
];

const webAppRows = (status: (name: string) => string, bundleJson: ReturnType<typeof row>) => [
  bundleJson,
  row('AddNote', status('AddNote'), 'operations/web-app/AddNote.graphql', 'src/components/IncidentDetail.tsx:24'),
  row('IncidentDetail', status('IncidentDetail'), 'operations/web-app/IncidentDetail.graphql', 'src/components/IncidentDetail.tsx:5'),
  row('ListOpenIncidents', status('ListOpenIncidents'), 'operations/web-app/ListOpenIncidents.graphql', 'src/components/IncidentList.tsx:5'),
  // Defined in src/legacy/webhooks.js and src/webhooks/webhooks.graphql, written differently: the same operation.
  row('PauseWebhook', status('PauseWebhook'), 'operations/web-app/PauseWebhook.graphql', 'src/legacy/webhooks.js:14'),
  row('ResolveIncident', status('ResolveIncident'), 'operations/web-app/ResolveIncident.graphql', 'src/components/ResolveButton.tsx:5'),
  row('WebhookHealth', status('WebhookHealth'), 'operations/web-app/WebhookHealth.graphql', 'src/webhooks/webhooks.graphql:2'),
  ...WEB_APP_SKIPPED,
];
const KEPT = row(null, 'kept', 'operations/web-app/bundle.json', null, 'the bundle exists: its bundle.json stays as it is');

describe('operations import from a frontend source tree', () => {
  it('writes one self-contained file per operation and a new bundle.json, skips node_modules, and says what it skipped and why', async () => {
    const cwd = scratch();
    // The fixture with a dependency of its own beside it: node_modules is never read.
    cpSync(join(FIXTURES, 'frontend'), join(cwd, 'frontend'), { recursive: true });
    mkdirSync(join(cwd, 'frontend', 'node_modules', 'ui-kit'), { recursive: true });
    writeFileSync(join(cwd, 'frontend', 'node_modules', 'ui-kit', 'index.js'), "import { gql } from '@apollo/client';\nexport const Q = gql`query FromADependency { webhooks { id } }`;\n");

    expect(await importJson(cwd, ['web-app', '--from', 'frontend'])).toEqual(webAppRows(() => 'added', row(null, 'created', 'operations/web-app/bundle.json', null)));
    expect(filesIn(join(cwd, 'operations'))).toEqual(WEB_APP_FILES);
    expect(await checkPasses(cwd)).toEqual([expect.objectContaining({ bundle: 'web-app', version: '1.0.0', operations: 6, status: 'ok' })]);
  });

  it('is idempotent, replaces what changed, keeps bundle.json and the bundle’s other files as the operator left them', async () => {
    const cwd = scratch();
    const from = join(FIXTURES, 'frontend');
    await importJson(cwd, ['web-app', '--from', from]);
    const before = filesIn(join(cwd, 'operations'));

    expect(await importJson(cwd, ['web-app', '--from', from])).toEqual(webAppRows(() => 'unchanged', KEPT));
    expect(filesIn(join(cwd, 'operations'))).toEqual(before);

    // The operator has described the bundle and trimmed an operation by hand; the import puts the operation back.
    const bundleJson = '{"name": "web-app", "description": "The web app of the incident console", "version": "1.0.0"}\n';
    writeFileSync(join(cwd, 'operations', 'web-app', 'bundle.json'), bundleJson);
    writeFileSync(join(cwd, 'operations', 'web-app', 'WebhookHealth.graphql'), 'query WebhookHealth { webhooks { id } }\n');
    expect(await importJson(cwd, ['web-app', '--from', from, '--description', 'ignored: the bundle exists'])).toEqual(
      webAppRows((name) => (name === 'WebhookHealth' ? 'replaced' : 'unchanged'), KEPT),
    );
    expect(filesIn(join(cwd, 'operations'))).toEqual({ ...before, 'web-app/bundle.json': bundleJson });

    // An operation the bundle holds in a file of another name is left there: two files with one name fail the check.
    rmSync(join(cwd, 'operations', 'web-app', 'WebhookHealth.graphql'));
    writeFileSync(join(cwd, 'operations', 'web-app', 'health.graphql'), 'query WebhookHealth { webhooks { id url } }\n');
    const rows = webAppRows(() => 'unchanged', KEPT).filter((r) => r.operation !== 'WebhookHealth');
    rows.push(skipped('WebhookHealth', 'src/webhooks/webhooks.graphql:2', 'operations/web-app/health.graphql already holds WebhookHealth'));
    expect(await importJson(cwd, ['web-app', '--from', from])).toEqual(rows);
    expect(existsSync(join(cwd, 'operations', 'web-app', 'WebhookHealth.graphql'))).toBe(false);
    expect(await checkPasses(cwd)).toEqual([expect.objectContaining({ bundle: 'web-app', operations: 6, status: 'ok' })]);
  });

  it('imports one source file, and says so in rows without --json', async () => {
    const cwd = scratch();
    const result = await h.cli(['operations', 'import', 'webhook-admin', '--from', join(FIXTURES, 'frontend', 'src', 'webhooks', 'webhooks.graphql'), '--description', 'Webhook settings'], cwd);
    expect(result).toEqual({
      code: 0,
      stderr: '',
      stdout:
        'operation=-  status=created  file=operations/webhook-admin/bundle.json  source=-  reason=-\n' +
        'operation=PauseWebhook  status=added  file=operations/webhook-admin/PauseWebhook.graphql  source=webhooks.graphql:11  reason=-\n' +
        'operation=WebhookHealth  status=added  file=operations/webhook-admin/WebhookHealth.graphql  source=webhooks.graphql:2  reason=-\n',
    });
    expect(filesIn(join(cwd, 'operations'))).toEqual({
      'webhook-admin/PauseWebhook.graphql': WEB_APP_FILES['web-app/PauseWebhook.graphql'],
      'webhook-admin/WebhookHealth.graphql': WEB_APP_FILES['web-app/WebhookHealth.graphql'],
      'webhook-admin/bundle.json': '{\n  "name": "webhook-admin",\n  "description": "Webhook settings",\n  "version": "1.0.0"\n}\n',
    });
  });

  it('resolves fragments from the same source, its own text first, and skips what cannot be resolved or read', async () => {
    const cwd = scratch();
    const files: Record<string, string> = {
      'a.graphql': 'type Extra {\n  x: Int\n}\n\nquery UsesMissing {\n  incident(id: "1") {\n    ...Missing\n  }\n}\n',
      'b.ts': "import gql from 'graphql-tag';\nexport const A = gql`fragment Shared on Incident { id title }`;\n",
      'c.ts': "import gql from 'graphql-tag';\nexport const B = gql`fragment Shared on Incident { id status }`;\n",
      'd.ts': 'import gql from \'graphql-tag\';\nexport const C = gql`query UsesShared { incident(id: "1") { ...Shared } }`;\n',
      'e.ts': 'import gql from \'graphql-tag\';\nexport const D = gql`\n  query LocalWins { incident(id: "1") { ...Shared } }\n  fragment Shared on Incident { id number }\n`;\n',
      'f.tsx': "import gql from 'graphql-tag';\nexport const = gql`query Broken { webhooks { id } }`;\n",
    };
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(join(cwd, 'src'), { recursive: true });
      writeFileSync(join(cwd, 'src', file), text);
    }
    expect(await importJson(cwd, ['fragments', '--from', 'src'])).toEqual([
      row(null, 'created', 'operations/fragments/bundle.json', null),
      row('LocalWins', 'added', 'operations/fragments/LocalWins.graphql', 'e.ts:2'),
      skipped(null, 'a.graphql:1', 'schema definitions are not operations'),
      skipped('UsesMissing', 'a.graphql:5', 'uses fragment Missing, which is defined nowhere in the source'),
      skipped('UsesShared', 'd.ts:2', 'uses fragment Shared, which is defined with different text at b.ts:2 and c.ts:2 and e.ts:2'),
      skipped(null, 'f.tsx', 'could not be read as code: Unexpected token (2:13)'),
    ]);
    expect(readFileSync(join(cwd, 'operations', 'fragments', 'LocalWins.graphql'), 'utf8')).toBe(
      'query LocalWins {\n  incident(id: "1") {\n    ...Shared\n  }\n}\n\nfragment Shared on Incident {\n  id\n  number\n}\n',
    );
    await checkPasses(cwd);
  });

  it('exits 1 and writes nothing when nothing can be imported', async () => {
    const cwd = scratch();
    mkdirSync(join(cwd, 'only-bad'));
    writeFileSync(join(cwd, 'only-bad', 'live.graphql'), 'subscription OnTick { tick }\n\nquery Secret { incident(id: "1") { secret } }\n');
    mkdirSync(join(cwd, 'empty'));
    writeFileSync(join(cwd, 'empty', 'util.ts'), 'export const add = (a: number, b: number) => a + b;\n');

    expect(await h.cli(['operations', 'import', 'web-app', '--from', 'only-bad'], cwd)).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: nothing imported from only-bad: every operation was skipped\n' +
        '  - OnTick (live.graphql:1): subscriptions are not served\n' +
        '  - Secret (live.graphql:3): Cannot query field "secret" on type "Incident".\n',
    });
    expect(await h.cli(['operations', 'import', 'web-app', '--from', 'empty', '--json'], cwd)).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: nothing imported from empty: it holds no operations\n',
    });
    expect(existsSync(join(cwd, 'operations'))).toBe(false);
  });
});

describe('operations import from manifests', () => {
  const apollo = JSON.parse(readFileSync(APOLLO_MANIFEST, 'utf8')) as { operations: { id: string; name: string; type: string; body: string }[] };
  const codegen = JSON.parse(readFileSync(CODEGEN_DOCUMENTS, 'utf8')) as Record<string, string>;
  const [incidentSummary, openIncident] = apollo.operations;
  const codegenKeys = Object.keys(codegen);

  it('the fixtures are what Apollo and graphql-codegen write: ids are the SHA-256 of the bodies, but for the entries that must be skipped', () => {
    expect(apollo.operations.map((o) => o.id === sha256(o.body))).toEqual([true, true, false, true, true]);
    expect(codegenKeys.map((key) => key.replace(/^sha256:/, '') === sha256(codegen[key]!))).toEqual([true, true, false, true]);
    expect(codegenKeys[1]).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('imports an Apollo persisted-query manifest, whose ids are then the ones Tessera publishes and lists', async () => {
    const cwd = scratch();
    const result = await h.cli(['operations', 'import', 'from-apollo', '--from', APOLLO_MANIFEST], cwd);
    expect(result).toEqual({
      code: 0,
      stderr: '',
      stdout:
        'operation=-  status=created  file=operations/from-apollo/bundle.json  source=-  reason=-\n' +
        'operation=IncidentSummary  status=added  file=operations/from-apollo/IncidentSummary.graphql  source=operations[0]  reason=-\n' +
        'operation=OpenIncidentFromAlert  status=added  file=operations/from-apollo/OpenIncidentFromAlert.graphql  source=operations[1]  reason=-\n' +
        `operation=DisabledWebhooks  status=skipped  file=-  source=operations[2]  reason=id does not match its body, whose SHA-256 is ${sha256(apollo.operations[2]!.body)}\n` +
        'operation=IncidentAssignee  status=skipped  file=-  source=operations[3]  reason=Cannot query field "assignee" on type "Incident".\n' +
        'operation=OnDelivery  status=skipped  file=-  source=operations[4]  reason=subscriptions are not served\n',
    });
    expect(filesIn(join(cwd, 'operations'))).toEqual({
      'from-apollo/IncidentSummary.graphql': `${incidentSummary!.body}\n`,
      'from-apollo/OpenIncidentFromAlert.graphql': `${openIncident!.body}\n`,
      'from-apollo/bundle.json': `{
  "name": "from-apollo",
  "description": "Imported from persisted-query-manifest.json (an Apollo persisted-query manifest): say what this bundle lets an app do",
  "version": "1.0.0"
}
`,
    });
    expect(await checkPasses(cwd)).toEqual([expect.objectContaining({ bundle: 'from-apollo', operations: 2, status: 'ok' })]);
    const { bundles } = loadBundles(getSchema(), join(cwd, 'operations'));
    expect(bundles[0]!.operations.map((o) => [o.name, o.id])).toEqual([
      ['IncidentSummary', incidentSummary!.id],
      ['OpenIncidentFromAlert', openIncident!.id],
    ]);

    // Published, the bundle's manifest for clients lists the imported entries as they were.
    expect((await h.cli(['operations', 'publish'], cwd)).code).toBe(0);
    const manifest = await h.cli(['operations', 'manifest', 'from-apollo', '--json'], cwd);
    expect(manifest.code).toBe(0);
    const listed = JSON.parse(manifest.stdout).apollo.operations as { name: string }[];
    expect([...listed].sort((a, b) => a.name.localeCompare(b.name))).toEqual([incidentSummary, openIncident]);

    // Again: nothing changes.
    expect(await importJson(cwd, ['from-apollo', '--from', APOLLO_MANIFEST])).toEqual(
      expect.arrayContaining([
        row(null, 'kept', 'operations/from-apollo/bundle.json', null, 'the bundle exists: its bundle.json stays as it is'),
        row('IncidentSummary', 'unchanged', 'operations/from-apollo/IncidentSummary.graphql', 'operations[0]'),
        row('OpenIncidentFromAlert', 'unchanged', 'operations/from-apollo/OpenIncidentFromAlert.graphql', 'operations[1]'),
      ]),
    );
  });

  it('skips Apollo entries that Tessera would serve under another id than the one clients send, or that name another operation', async () => {
    const cwd = scratch();
    const entry = (name: string, body: string) => ({ id: sha256(body), name, type: 'query', body });
    const compact = 'query Compact { webhooks { id } }';
    const two = 'query One {\n  webhooks {\n    id\n  }\n}\n\nquery Two {\n  webhooks {\n    url\n  }\n}';
    const good = 'query Good {\n  webhooks {\n    id\n  }\n}';
    const manifest = { format: 'apollo-persisted-query-manifest', version: 1, operations: [entry('Compact', compact), entry('Renamed', good), entry('One', two), entry('Good', good)] };
    writeFileSync(join(cwd, 'manifest.json'), JSON.stringify(manifest));
    expect(await importJson(cwd, ['apollo-edges', '--from', 'manifest.json'])).toEqual([
      row(null, 'created', 'operations/apollo-edges/bundle.json', null),
      row('Good', 'added', 'operations/apollo-edges/Good.graphql', 'operations[3]'),
      skipped('Compact', 'operations[0]', `its body is not graphql-js's print of it, so Tessera's id for it would be ${sha256('query Compact {\n  webhooks {\n    id\n  }\n}')}`),
      skipped('Renamed', 'operations[1]', 'the manifest names it Renamed, but its body defines Good'),
      skipped('One', 'operations[2]', 'must hold exactly one operation (found 2)'),
    ]);
    await checkPasses(cwd);
  });

  it("imports graphql-codegen's persisted documents (bare and sha256: keys), whose keys Tessera then takes as aliases", async () => {
    const cwd = scratch();
    expect(await importJson(cwd, ['from-codegen', '--from', CODEGEN_DOCUMENTS])).toEqual([
      row(null, 'created', 'operations/from-codegen/bundle.json', null),
      row('CloseFromTool', 'added', 'operations/from-codegen/CloseFromTool.graphql', codegenKeys[1]!),
      row('IncidentsBySeverity', 'added', 'operations/from-codegen/IncidentsBySeverity.graphql', codegenKeys[0]!),
      skipped('WebhookDeliveryLog', codegenKeys[2]!, `key does not match its document, whose graphql-codegen id is ${sha256(codegen[codegenKeys[2]!]!)}`),
      skipped(null, codegenKeys[3]!, 'the operation must be named'),
    ]);
    expect(filesIn(join(cwd, 'operations'))).toEqual({
      'from-codegen/CloseFromTool.graphql': `mutation CloseFromTool($id: ID!) {
  closeIncident(id: $id) {
    incident {
      closedAt
      id
      status
    }
    userErrors {
      code
      field
      message
    }
  }
}
`,
      'from-codegen/IncidentsBySeverity.graphql': `query IncidentsBySeverity($first: Int, $severity: IncidentSeverity!) {
  incidents(filter: {severity: $severity}, first: $first) {
    edges {
      node {
        id
        severity
        status
        title
      }
    }
    pageInfo {
      endCursor
      hasNextPage
    }
  }
}
`,
      'from-codegen/bundle.json': `{
  "name": "from-codegen",
  "description": "Imported from persisted-documents.json (graphql-codegen's persisted documents): say what this bundle lets an app do",
  "version": "1.0.0"
}
`,
    });
    await checkPasses(cwd);
    expect((await h.cli(['operations', 'publish'], cwd)).code).toBe(0);
    const manifest = await h.cli(['operations', 'manifest', 'from-codegen', '--json'], cwd);
    expect(JSON.parse(manifest.stdout).codegenDocumentIds).toEqual({ CloseFromTool: codegenKeys[1], IncidentsBySeverity: `sha256:${codegenKeys[0]}` });
  });
});

describe('operations import: bad arguments', () => {
  const usageError = (message: string) => `error: ${message}\n\n${USAGE}`;
  const cwd = scratch();
  writeFileSync(join(cwd, 'notes.txt'), 'Nothing GraphQL here.\n');
  writeFileSync(join(cwd, 'package.json'), '{"name": "web", "private": true}\n');
  writeFileSync(join(cwd, 'broken.json'), '{"format": "apollo-persisted-query-manifest", ');
  writeFileSync(join(cwd, 'apollo-v2.json'), '{"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}\n');
  writeFileSync(join(cwd, 'apollo-no-body.json'), '{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "x", "name": "X", "type": "query"}]}\n');
  const unknown = (path: string) => `error: --from ${path}: not a folder or file of frontend sources, an Apollo persisted-query manifest or graphql-codegen's persisted documents\n`;

  it.each([
    [['operations', 'import'], usageError('operations import needs <bundle>')],
    [['operations', 'import', 'web-app'], usageError('--from is required')],
    [['operations', 'import', 'web-app', '--from', 'notes.txt', '--description', ' '], usageError('--description must not be empty')],
    [['operations', 'import', 'web-app', '--from', 'notes.txt', 'extra'], usageError('unexpected argument: extra')],
    [['operations', 'import', 'Web App', '--from', 'notes.txt'], 'error: bundle name must be lowercase letters, digits and dashes\n'],
    [['operations', 'import', 'web-app', '--from', 'no/such/path'], 'error: --from no/such/path: no such file or folder\n'],
    [['operations', 'import', 'web-app', '--from', 'notes.txt'], unknown('notes.txt')],
    [['operations', 'import', 'web-app', '--from', 'package.json'], unknown('package.json')],
    [['operations', 'import', 'web-app', '--from', 'broken.json'], unknown('broken.json')],
    [['operations', 'import', 'web-app', '--from', 'apollo-v2.json'], 'error: --from apollo-v2.json: an Apollo persisted-query manifest of version 2; only version 1 is known\n'],
    [['operations', 'import', 'web-app', '--from', 'apollo-no-body.json'], 'error: --from apollo-no-body.json: operations[0] of the Apollo persisted-query manifest needs a string id, name and body\n'],
  ])('%j: exit 2, the reason, and nothing written', async (args, message) => {
    expect(await h.cli(args, cwd)).toEqual({ code: 2, stdout: '', stderr: message });
    expect(existsSync(join(cwd, 'operations'))).toBe(false);
  });
});

describe('operations export-schema', () => {
  it('prints the SDL of the schema, a file as it is', async () => {
    const result = await h.cli(['operations', 'export-schema']);
    const sdl = printSchema(getSchema());
    expect(result).toEqual({ code: 0, stderr: '', stdout: `${sdl}\n` });
    expect(result.stdout).toContain('type Query {');
    expect(printSchema(buildSchema(result.stdout))).toBe(sdl);
  });

  it('prints {sdl} with --json', async () => {
    const result = await h.cli(['operations', 'export-schema', '--json']);
    expect(result.code).toBe(0);
    const { sdl } = JSON.parse(result.stdout);
    expect(sdl).toBe(printSchema(getSchema()));
    expect(buildSchema(sdl).getMutationType()?.name).toBe('Mutation');
  });
});
