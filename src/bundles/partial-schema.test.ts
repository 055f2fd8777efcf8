// The partial schema a partner app downloads (issue 15): from the real schema and the real bundles in operations/,
// only what their operations reach, with descriptions, valid for every one of their documents, and good enough for
// graphql-codegen to type them (the generated text is type-checked with TypeScript here); then the rules one by one
// (arguments, input types, unions, interfaces, fragments, placeholders, directives, deprecations) on a small schema.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, parse, printSchema, specifiedRules, validate, type DocumentNode } from 'graphql';
import { codegen } from '@graphql-codegen/core';
import * as typescriptPlugin from '@graphql-codegen/typescript';
import * as typescriptOperationsPlugin from '@graphql-codegen/typescript-operations';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { schema } from '../modules.js';
import { PLACEHOLDER_FIELD, partialSchema, partialSdl } from './partial-schema.js';

const OPERATIONS = join(import.meta.dirname, '../../operations');

/** A bundle's .graphql files, as the operator wrote them. */
function bundle(name: string): Array<{ location: string; document: DocumentNode }> {
  const folder = join(OPERATIONS, name);
  return readdirSync(folder)
    .filter((file) => file.endsWith('.graphql'))
    .sort()
    .map((file) => ({ location: file, document: parse(readFileSync(join(folder, file), 'utf8')) }));
}
const documents = (name: string) => bundle(name).map((d) => d.document);
const bundles = readdirSync(OPERATIONS, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/** The body of one type in printed SDL (`type Incident {` up to its closing brace), or undefined. */
function block(sdl: string, header: string): string | undefined {
  const start = sdl.indexOf(`${header} {\n`);
  return start < 0 ? undefined : sdl.slice(start, sdl.indexOf('\n}', start) + 2);
}

describe('the partial schema of the real bundles', () => {
  const full = schema();

  it('has the fields, arguments and types incident-read selects, and nothing it does not', () => {
    const sdl = partialSdl(full, documents('incident-read'));
    const query = block(sdl, 'type Query')!;
    expect(query).toContain('incident(id: ID!): Incident');
    // Only the arguments ListIncidents passes: not `before` or `last`.
    expect(query).toContain('incidents(after: String, filter: IncidentFilter, first: Int): IncidentConnection!');
    expect(query).not.toMatch(/\bwebhooks?\b/);
    expect(block(sdl, 'type Incident')).toContain('notes(after: String, first: Int): IncidentNoteConnection!');
    for (const field of ['closedAt: DateTime', 'summary: String!', 'labels: [String!]!']) expect(block(sdl, 'type Incident')).toContain(field);
    // PageInfo has four fields; incident-read selects two.
    expect(block(sdl, 'type PageInfo')).toBe('type PageInfo {\n  endCursor: String\n  hasNextPage: Boolean!\n}');
    // The filter's input type whole, and the enums it reaches with all their values.
    expect(block(sdl, 'input IncidentFilter')).toBe('input IncidentFilter {\n  severity: IncidentSeverity\n  status: IncidentStatus\n  updatedSince: DateTime\n}');
    expect(block(sdl, 'enum IncidentStatus')).toBe('enum IncidentStatus {\n  CLOSED\n  INVESTIGATING\n  MITIGATED\n  OPEN\n  RESOLVED\n}');
    expect(sdl).toContain('scalar DateTime');
    // incident-read reads only: no Mutation, and none of the types only other operations reach.
    for (const absent of ['type Mutation', 'type Webhook', 'WebhookDelivery', 'UserError', 'CreateIncidentInput', 'IncidentPayload', 'hasPreviousPage', 'startCursor'])
      expect(sdl).not.toContain(absent);
    expect(printSchema(full)).toContain('type Webhook {'); // (it is in the full schema)
  });

  it('has only the Mutation fields of incident-sync, and a placeholder query root, as it reads nothing', () => {
    const sdl = partialSdl(full, documents('incident-sync'));
    const mutation = block(sdl, 'type Mutation')!;
    for (const field of ['addIncidentNote(body: String!, incidentId: ID!)', 'closeIncident(id: ID!)', 'createIncident(input: CreateIncidentInput!)', 'updateIncident(id: ID!, input: UpdateIncidentInput!)'])
      expect(mutation).toContain(field);
    for (const absent of ['createWebhook', 'deleteWebhook', 'recoverWebhook', 'sendTestWebhook', 'updateWebhook']) expect(sdl).not.toContain(absent);
    expect(block(sdl, 'type Query')).toMatch(new RegExp(`^type Query \\{\\n  """\\n.*\\n  """\\n  ${PLACEHOLDER_FIELD}: Boolean\\n\\}$`));
    expect(sdl).not.toContain('type Webhook');
    expect(sdl).not.toContain('incidents(');
  });

  it.each(bundles)('validates every document of %s, and those of all the bundles together', (name) => {
    const partial = partialSchema(full, documents(name));
    for (const document of documents(name)) expect(validate(partial, document, specifiedRules)).toEqual([]);
    const everything = bundles.flatMap(documents);
    const all = partialSchema(full, everything);
    for (const document of everything) expect(validate(all, document, specifiedRules)).toEqual([]);
  });

  it('keeps descriptions of the types, fields and arguments kept', () => {
    const read = partialSdl(full, documents('incident-read'));
    expect(read).toContain('"""ISO 8601 UTC timestamp"""\nscalar DateTime');
    expect(read).toContain('  """Sequence number within the tenant"""\n  number: Int!');
    expect(read).toContain('  """Oldest first, 20 a page unless `first` (at most 100) says otherwise"""\n  notes(');
    expect(read).toContain('  """The user id, or the client id of a machine, that wrote the note"""\n  author: String!');
    const webhooks = partialSdl(full, documents('incident-webhooks'));
    expect(webhooks).toContain('Sends again, once each, the deliveries that failed or are still retrying');
    expect(webhooks).toContain('  """Deliveries per second at most (1 to 1000)"""\n  rateLimit: Int');
    // rateLimit of the Webhook type is never selected: its description goes with it.
    expect(webhooks).not.toContain('Deliveries per second at most; null: no limit');
  });

  it('is the same text whatever the order of the documents (a stable ETag)', () => {
    const all = bundles.flatMap(documents);
    expect(partialSdl(full, [...all].reverse())).toBe(partialSdl(full, all));
    expect(partialSdl(full, all)).toBe(partialSdl(full, all));
  });

  it('refuses a document the schema does not validate, naming it', () => {
    expect(() => partialSdl(full, [parse('query Sneaky { incidents { secrets } }')])).toThrow(/Sneaky does not validate/);
  });

  it('is enough for graphql-codegen: operation types that TypeScript accepts, with no any', async () => {
    const files = bundle('incident-read');
    const sdl = partialSdl(full, files.map((f) => f.document));
    const config = { scalars: { DateTime: 'string' }, strictScalars: true };
    const generate = (plugin: 'typescript' | 'typescriptOperations', filename: string) =>
      codegen({
        schema: parse(sdl),
        documents: files,
        filename,
        plugins: [{ [plugin]: {} }],
        pluginMap: { typescript: typescriptPlugin, typescriptOperations: typescriptOperationsPlugin },
        config,
      });
    // typescript-operations 6 writes the input and enum types it needs itself: generated together with the
    // typescript plugin into one file, the two declare IncidentFilter and the enums twice, so each has its file.
    const schemaTypes = await generate('typescript', 'schema-types.ts');
    const operations = await generate('typescriptOperations', 'operations.ts');
    for (const name of ['GetIncidentQuery', 'GetIncidentQueryVariables', 'ListIncidentsQuery', 'ListIncidentsQueryVariables', 'IncidentFilter'])
      expect(operations).toContain(`export type ${name} =`);
    expect(schemaTypes).toContain('export type Incident = {');
    expect(schemaTypes).toContain('/** Sequence number within the tenant */');
    expect(schemaTypes).not.toContain('Webhook');
    for (const text of [operations, schemaTypes]) expect(text).not.toMatch(/\bany\b/);

    // The generated types are precise: what ListIncidents selects is there, typed; what it does not, is not.
    const use = `
      import type { GetIncidentQuery, GetIncidentQueryVariables, ListIncidentsQuery, ListIncidentsQueryVariables } from './operations';
      import type { Incident, PageInfo, QueryIncidentsArgs } from './schema-types';
      declare const list: ListIncidentsQuery;
      export const closedAt: string | null = list.incidents.edges[0].node.closedAt;
      export const status: 'OPEN' | 'CLOSED' | 'INVESTIGATING' | 'MITIGATED' | 'RESOLVED' = list.incidents.edges[0].node.status;
      // @ts-expect-error ListIncidents does not select summary
      export const summary = list.incidents.edges[0].node.summary;
      declare const one: GetIncidentQuery;
      export const body: string | undefined = one.incident?.notes.edges[0]?.node.body;
      export const variables: GetIncidentQueryVariables = { id: 'inc_1', notesFirst: 10 };
      // @ts-expect-error the id is required
      export const noId: GetIncidentQueryVariables = {};
      export const filtered: ListIncidentsQueryVariables = { filter: { status: 'OPEN', updatedSince: '2026-03-24T10:00:00Z' } };
      export const args: QueryIncidentsArgs = { first: 10 };
      // @ts-expect-error the partial schema has no \`last\` argument: incident-read never passes it
      export const last: QueryIncidentsArgs = { last: 10 };
      // @ts-expect-error nor PageInfo.hasPreviousPage
      export const previous = ({} as PageInfo).hasPreviousPage;
      export const number: number = ({} as Incident).number;
    `;
    expect(typeErrors({ '/generated/operations.ts': operations, '/generated/schema-types.ts': schemaTypes, '/generated/use.ts': use })).toEqual([]);
    // (and the check does see a wrong use)
    expect(typeErrors({ '/generated/operations.ts': operations, '/generated/use.ts': "import type { ListIncidentsQuery } from './operations';\nexport const n: number = ({} as ListIncidentsQuery).incidents.edges[0].cursor;" })).toHaveLength(1);
  });
});

/** TypeScript's errors for a set of in-memory files (strict, no emit). */
function typeErrors(files: Record<string, string>): string[] {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts'],
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile, directoryExists } = host;
  host.getSourceFile = (name, language, ...rest) =>
    name in files ? ts.createSourceFile(name, files[name]!, language) : getSourceFile.call(host, name, language, ...rest);
  host.fileExists = (name) => name in files || fileExists.call(host, name);
  host.readFile = (name) => files[name] ?? readFile.call(host, name);
  host.directoryExists = (name) => Object.keys(files).some((file) => file.startsWith(`${name}/`)) || (directoryExists?.call(host, name) ?? false);
  const program = ts.createProgram(Object.keys(files), options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('the partial schema, rule by rule', () => {
  const full = buildSchema(`
    """Anything with an id"""
    interface Node { id: ID! }
    interface Named { name: String! }
    """Cache the field's value"""
    directive @cached(ttl: Int, scope: String) on FIELD
    """ISO 8601 UTC timestamp"""
    scalar DateTime
    type User implements Node & Named {
      id: ID!
      name: String!
      email: String @deprecated(reason: "Use contact")
      contact: String
      joinedAt: DateTime
      friends(first: Int, after: String, order: String! = "name"): [User!]!
    }
    type Team implements Node & Named { id: ID! name: String! size: Int }
    type Bot implements Node { id: ID! model: String }
    union SearchResult = Bot | Team | User
    enum Role { ADMIN MEMBER GUEST @deprecated(reason: "Invite members instead") }
    input Country { code: String! }
    input Address { street: String! country: Country }
    """Who to invite"""
    input InviteInput { email: String! role: Role = MEMBER address: Address }
    type Query {
      node(id: ID!): Node
      search(term: String!, limit: Int! = 10, offset: Int): [SearchResult!]!
      me: User
      secret: String
    }
    type Mutation { invite(input: InviteInput!): User purge: Boolean }
  `);
  const sdl = (...texts: string[]) => {
    const docs = texts.map((t) => parse(t));
    const printed = partialSdl(full, docs);
    // Whatever the rules keep, the documents stay valid against it.
    const partial = buildSchema(printed);
    for (const doc of docs) expect(validate(partial, doc)).toEqual([]);
    return printed;
  };

  it('keeps of a union only the members spread on, and of a field the arguments passed and the non-null ones', () => {
    const printed = sdl('query Search($term: String!) { search(term: $term) { __typename ... on User { name } } }');
    expect(printed).toContain('union SearchResult = User');
    expect(block(printed, 'type User')).toBe('type User {\n  name: String!\n}');
    expect(printed).toContain('search(limit: Int! = 10, term: String!): [SearchResult!]!');
    for (const absent of ['offset', 'Team', 'Bot', 'secret', 'Mutation', 'Node', 'Named', 'cached']) expect(printed).not.toContain(absent);
  });

  it('keeps an interface with the fields selected on it, and on each type spread on that implements it', () => {
    const printed = sdl('fragment NodeId on Node { id } query N($id: ID!) { node(id: $id) { ...NodeId ... on Bot { model } } }');
    expect(block(printed, '"""Anything with an id"""\ninterface Node')).toBe('"""Anything with an id"""\ninterface Node {\n  id: ID!\n}');
    expect(block(printed, 'type Bot implements Node')).toBe('type Bot implements Node {\n  id: ID!\n  model: String\n}');
    for (const absent of ['User', 'Team', 'Named', 'SearchResult']) expect(printed).not.toContain(absent);
  });

  it('keeps one type both interfaces share when an interface is spread inside another', () => {
    // `... on Named` inside a Node is valid only if some type is both: the first by name, Team, when no other is kept.
    const alone = sdl('query N($id: ID!) { node(id: $id) { id ... on Named { name } } }');
    expect(block(alone, 'type Team implements Named & Node')).toBe('type Team implements Named & Node {\n  id: ID!\n  name: String!\n}');
    expect(alone).not.toContain('User');
    // A type kept anyway that is both needs no other.
    const withUser = sdl('query N($id: ID!) { node(id: $id) { id ... on Named { name } ... on User { contact } } }');
    expect(withUser).toContain('type User implements Named & Node');
    expect(withUser).not.toContain('Team');
  });

  it('gives a type reached for __typename alone, and a query root no operation uses, a placeholder field', () => {
    const me = sdl('query Me { me { __typename } }');
    expect(block(me, 'type User')).toMatch(new RegExp(`^type User \\{\\n  """\\n.*\\n  """\\n  ${PLACEHOLDER_FIELD}: Boolean\\n\\}$`));
    const invite = sdl('mutation Invite($input: InviteInput!) { invite(input: $input) { id } }');
    expect(block(invite, 'type Query')).toContain(`${PLACEHOLDER_FIELD}: Boolean`);
    for (const absent of ['node', 'search', 'me:', 'secret', 'purge']) expect(invite).not.toContain(absent);
  });

  it('keeps input types whole and recursively, enums with every value, defaults and deprecation reasons', () => {
    const printed = sdl('mutation Invite($input: InviteInput!) { invite(input: $input) { id email joinedAt } }');
    expect(printed).toContain('"""Who to invite"""\ninput InviteInput {\n  address: Address\n  email: String!\n  role: Role = MEMBER\n}');
    expect(printed).toContain('input Address {\n  country: Country\n  street: String!\n}');
    expect(printed).toContain('input Country {\n  code: String!\n}');
    expect(printed).toContain('GUEST @deprecated(reason: "Invite members instead")');
    expect(printed).toContain('email: String @deprecated(reason: "Use contact")');
    expect(printed).toContain('"""ISO 8601 UTC timestamp"""\nscalar DateTime');
    expect(printed).not.toContain('contact:');
  });

  it('keeps the custom directives used, with the arguments passed, and the non-null arguments of nested fields', () => {
    const printed = sdl('query Me { me @cached(ttl: 5) { friends(first: 2) { id } } }');
    expect(printed).toContain('"""Cache the field\'s value"""\ndirective @cached(ttl: Int) on FIELD');
    expect(printed).toContain('friends(first: Int, order: String! = "name"): [User!]!');
    expect(printed).not.toContain('after');
  });

  it('answers a schema that shares no type object with the full schema but the built-in scalars', () => {
    const partial = partialSchema(full, [parse('query Me { me { id name } }')]);
    expect(partial.getType('User')).not.toBe(full.getType('User'));
    expect(partial.getType('String')).toBe(full.getType('String'));
  });
});
