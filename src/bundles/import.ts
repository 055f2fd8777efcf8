// Bundles from frontend workflows (`operations import`): turns what a frontend build already has (an Apollo
// persisted-query manifest, graphql-codegen's persisted-documents.json, or the frontend's own sources) into the
// files of a bundle, one self-contained `.graphql` file per operation, for an operator to review like code. Only
// readImportSource touches the disk; the steps after it are pure, so the CLI plans everything before it writes.
// Each step hands on one list in the source's order, in which what was skipped stays where it was found.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, relative, sep } from 'node:path';
import { gqlPluckFromCodeStringSync } from '@graphql-tools/graphql-tag-pluck';
import {
  Kind,
  parse,
  print,
  visit,
  type ASTNode,
  type DefinitionNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLError,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { InvalidRequest } from '../errors.js';
import { sha256 } from '../ids.js';
import { checkOperation, codegenId } from './files.js';

export type ImportFormat = 'source-tree' | 'apollo-manifest' | 'codegen-documents';

export const FORMAT_LABELS: Record<ImportFormat, string> = {
  'source-tree': 'frontend sources',
  'apollo-manifest': 'an Apollo persisted-query manifest',
  'codegen-documents': "graphql-codegen's persisted documents",
};

/** A text that may hold operations: a GraphQL file, a tagged template in code, or a manifest's entry. */
export interface FoundText {
  /** Where it was found, for the operator: `src/List.tsx:12`, `operations[2]`, a persisted-documents key. */
  source: string;
  text: string;
  /** A whole GraphQL file: its definitions are told apart by their line (`path:line`). */
  byLine?: boolean;
  /** A manifest entry: the id clients send for it, which must be the one Tessera will give it. */
  listed?: { format: 'apollo'; id: string; name: string } | { format: 'codegen'; key: string };
}

/** Something that will not be in the bundle, and why. */
export interface Skipped {
  operation: string | null;
  source: string;
  reason: string;
}

export interface ImportSource {
  format: ImportFormat;
  /** The texts in the source's order, with the files that could not be read as code where they are. */
  items: (FoundText | Skipped)[];
}

/** An operation ready to be checked: one named query or mutation and every fragment it uses. */
export interface Candidate {
  name: string;
  source: string;
  document: DocumentNode;
  listed?: FoundText['listed'];
}

export interface ImportedOperation {
  name: string;
  source: string;
  /** The printed, self-contained document: what the bundle's file holds, and what its id is the SHA-256 of. */
  document: string;
  id: string;
}

/** What a bundle folder holds now: its `.graphql` files, and whether it has a bundle.json. */
export interface BundleFolder {
  hasBundleJson: boolean;
  graphqlFiles: { file: string; text: string }[];
}

export interface ImportRow {
  operation: string | null;
  status: 'created' | 'kept' | 'added' | 'replaced' | 'unchanged' | 'skipped';
  file: string | null;
  source: string | null;
  reason: string | null;
}

export interface ImportPlan {
  /** Files to write, relative to the bundle's folder; none when no operation can be imported. */
  writes: { file: string; text: string }[];
  /** bundle.json, then the operations by name, then what was skipped in the source's order. */
  rows: ImportRow[];
  /** Operations of this source the bundle holds afterwards (added, replaced or already there). */
  imported: number;
}

export const isSkipped = (item: object): item is Skipped => 'reason' in item;

/** Where a frontend keeps operations: GraphQL files, and code that graphql-tag-pluck reads templates from. */
const GRAPHQL_EXTENSIONS = new Set(['.graphql', '.gql']);
const CODE_EXTENSIONS = new Set(['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs']);
/** Folders that hold no operations of the frontend's own: dependencies, and tool folders such as .git or .next. */
const isSkippedFolder = (name: string) => name === 'node_modules' || name.startsWith('.');
const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function isSourceFile(name: string): boolean {
  const extension = extname(name).toLowerCase();
  return GRAPHQL_EXTENSIONS.has(extension) || CODE_EXTENSIONS.has(extension);
}

/**
 * Reads what `path` is: a folder (or one file) of frontend sources, or a manifest, told apart by its content.
 * `label` names the path in refusals (the CLI passes `--from <path>`); a refusal is an InvalidRequest.
 */
export function readImportSource(path: string, label: string): ImportSource {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw new InvalidRequest(`${label}: no such file or folder`);
  }
  try {
    if (stats.isDirectory()) return sourceTree(sourceFiles(path, path));
    if (isSourceFile(path)) return sourceTree([{ path: basename(path), text: readFileSync(path, 'utf8') }]);
    return parseManifest(readFileSync(path, 'utf8'), label);
  } catch (error) {
    if (error instanceof InvalidRequest) throw error;
    throw new InvalidRequest(`${label}: cannot be read (${(error as Error).message})`);
  }
}

/** Every source file under `dir`, by path relative to `root` (with `/`), in a stable order. */
function sourceFiles(root: string, dir: string): { path: string; text: string }[] {
  const files: { path: string; text: string }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => byCodeUnits(a.name, b.name))) {
    const full = join(dir, entry.name);
    // Symbolic links are not followed: a link back up the tree would never end.
    if (entry.isDirectory() && !isSkippedFolder(entry.name)) files.push(...sourceFiles(root, full));
    else if (entry.isFile() && isSourceFile(entry.name)) files.push({ path: relative(root, full).split(sep).join('/'), text: readFileSync(full, 'utf8') });
  }
  return files;
}

/** The texts of a source tree: each GraphQL file whole, and each `gql`/`graphql` template in code. */
export function sourceTree(files: { path: string; text: string }[]): ImportSource {
  const items: ImportSource['items'] = [];
  for (const file of files) {
    if (GRAPHQL_EXTENSIONS.has(extname(file.path).toLowerCase())) {
      items.push({ source: file.path, text: file.text, byLine: true });
      continue;
    }
    // Parsing code is the slow part: a file that never says gql or graphql (nor the /* GraphQL */ magic
    // comment) holds no template to pluck.
    if (!/gql|graphql/i.test(file.text)) continue;
    try {
      for (const plucked of gqlPluckFromCodeStringSync(file.path, file.text)) {
        items.push({ source: `${file.path}:${plucked.locationOffset.line}`, text: plucked.body });
      }
    } catch (error) {
      items.push({ operation: null, source: file.path, reason: `could not be read as code: ${(error as Error).message}` });
    }
  }
  return { format: 'source-tree', items };
}

/**
 * A manifest, told apart by its content: Apollo's is `{format: "apollo-persisted-query-manifest", version: 1,
 * operations: [{id, name, type, body}]}`; graphql-codegen's client preset writes `{"<hash>": "<document>"}`.
 */
export function parseManifest(text: string, label: string): ImportSource {
  const unknown = () =>
    new InvalidRequest(`${label}: not a folder or file of frontend sources, an Apollo persisted-query manifest or graphql-codegen's persisted documents`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw unknown();
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw unknown();
  const object = json as Record<string, unknown>;
  if (object.format === 'apollo-persisted-query-manifest') {
    if (object.version !== 1) throw new InvalidRequest(`${label}: an Apollo persisted-query manifest of version ${JSON.stringify(object.version)}; only version 1 is known`);
    if (!Array.isArray(object.operations)) throw new InvalidRequest(`${label}: the Apollo persisted-query manifest has no operations list`);
    const items = object.operations.map((entry: unknown, index): FoundText => {
      const { id, name, body } = (entry ?? {}) as Record<string, unknown>;
      if (typeof id !== 'string' || typeof name !== 'string' || typeof body !== 'string') {
        throw new InvalidRequest(`${label}: operations[${index}] of the Apollo persisted-query manifest needs a string id, name and body`);
      }
      return { source: `operations[${index}]`, text: body, listed: { format: 'apollo', id, name } };
    });
    return { format: 'apollo-manifest', items };
  }
  const entries = Object.entries(object);
  if (entries.every(([, value]) => typeof value === 'string')) {
    return { format: 'codegen-documents', items: entries.map(([key, value]) => ({ source: key, text: value as string, listed: { format: 'codegen', key } })) };
  }
  throw unknown();
}

/**
 * The operations of a source, each made self-contained. A frontend defines a fragment once and interpolates it
 * into the templates that spread it (graphql-tag-pluck drops the `${...}`), or keeps it in another file: a
 * source tree's fragments are one pool, looked up by name, the operation's own text first. A manifest's entry is
 * taken as it is, since its id is the hash of exactly that text.
 */
export function extractOperations(source: ImportSource): (Candidate | Skipped)[] {
  const parsed: (Skipped | { found: FoundText; document: DocumentNode })[] = source.items.map((item) => {
    if (isSkipped(item)) return item;
    try {
      // No token limit here: a frontend's schema.graphql is large, and is reported as schema definitions. Each
      // operation is held to the requests' limit by checkOperation, with the fragments it uses.
      return { found: item, document: parse(item.text) };
    } catch (error) {
      const name = item.listed?.format === 'apollo' ? item.listed.name : null;
      return { operation: name, source: item.source, reason: `does not parse: ${(error as GraphQLError).message}` };
    }
  });
  const pool = new Map<string, { definition: FragmentDefinitionNode; source: string }[]>();
  for (const item of parsed) {
    if (isSkipped(item) || item.found.listed) continue;
    for (const definition of item.document.definitions) {
      if (definition.kind !== Kind.FRAGMENT_DEFINITION) continue;
      const same = pool.get(definition.name.value) ?? [];
      if (!same.some((f) => print(f.definition) === print(definition))) same.push({ definition, source: definitionSource(item.found, definition) });
      pool.set(definition.name.value, same);
    }
  }
  const found: (Candidate | Skipped)[] = [];
  for (const item of parsed) {
    if (isSkipped(item)) found.push(item);
    else if (item.found.listed) found.push(manifestCandidate(item.found, item.document));
    else found.push(...sourceCandidates(item.found, item.document, pool));
  }
  return found;
}

/** A source text's operations, in order; a text of schema definitions (a schema.graphql) is said once. */
function sourceCandidates(found: FoundText, document: DocumentNode, pool: Map<string, { definition: FragmentDefinitionNode; source: string }[]>): (Candidate | Skipped)[] {
  const result: (Candidate | Skipped)[] = [];
  const local = document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION);
  const schemaDefinition = document.definitions.find((d) => d.kind !== Kind.OPERATION_DEFINITION && d.kind !== Kind.FRAGMENT_DEFINITION);
  for (const definition of document.definitions) {
    if (definition === schemaDefinition) result.push({ operation: null, source: definitionSource(found, definition), reason: 'schema definitions are not operations' });
    if (!isOperation(definition)) continue;
    const where = definitionSource(found, definition);
    const name = definition.name?.value ?? null;
    const refused = refusal(definition);
    const resolved = refused ?? withFragments(definition, local, pool);
    if (typeof resolved === 'string') result.push({ operation: name, source: where, reason: resolved });
    else result.push({ name: name!, source: where, document: resolved });
  }
  return result;
}

const isOperation = (definition: DefinitionNode): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION;

/** Why an operation can never be in a bundle, before it is checked against the schema (as checkOperation says it). */
function refusal(operation: OperationDefinitionNode): string | null {
  if (!operation.name) return 'the operation must be named';
  if (operation.operation === 'subscription') return 'subscriptions are not served';
  return null;
}

/** A GraphQL file's definitions are told apart by line; a template is named by the line it starts on in the code. */
function definitionSource(found: FoundText, definition: ASTNode): string {
  return found.byLine ? `${found.source}:${definition.loc?.startToken.line ?? 1}` : found.source;
}

/**
 * A manifest entry, whose id must be the one Tessera will serve it under, since that is what clients built from
 * the manifest send: Apollo's id is the SHA-256 of the body as given (graphql-js's print of the document);
 * codegen's key (bare hex, or `sha256:<hex>`) is the SHA-256 of its normalised print, which Tessera takes as an alias.
 */
function manifestCandidate(found: FoundText, document: DocumentNode): Candidate | Skipped {
  const operations = document.definitions.filter(isOperation);
  const listed = found.listed!;
  const name = listed.format === 'apollo' ? listed.name : (operations[0]?.name?.value ?? null);
  const skip = (reason: string): Skipped => ({ operation: name, source: found.source, reason });
  if (operations.length !== 1) return skip(`must hold exactly one operation (found ${operations.length})`);
  const operation = operations[0]!;
  const refused = refusal(operation);
  if (refused) return skip(refused);
  if (listed.format === 'apollo') {
    if (listed.name !== operation.name!.value) return skip(`the manifest names it ${listed.name}, but its body defines ${operation.name!.value}`);
    const bodyHash = sha256(found.text);
    if (listed.id !== bodyHash) return skip(`id does not match its body, whose SHA-256 is ${bodyHash}`);
  } else {
    const expected = codegenId(document);
    if (listed.key.replace(/^sha256:/, '') !== expected) return skip(`key does not match its document, whose graphql-codegen id is ${expected}`);
  }
  return { name: operation.name!.value, source: found.source, document, listed };
}

/**
 * The operation with every fragment it spreads, directly or through another fragment, appended in the order they
 * are first used: what Apollo Client and graphql-tag send, and what makes the stored document self-contained.
 * Answers why not when a fragment is defined nowhere, or twice with different text.
 */
function withFragments(
  operation: OperationDefinitionNode,
  local: FragmentDefinitionNode[],
  pool: Map<string, { definition: FragmentDefinitionNode; source: string }[]>,
): DocumentNode | string {
  const included: FragmentDefinitionNode[] = [];
  const queue = spreads(operation);
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    if (included.some((f) => f.name.value === name)) continue;
    let definition = local.find((f) => f.name.value === name);
    if (!definition) {
      const defined = pool.get(name) ?? [];
      if (!defined.length) return `uses fragment ${name}, which is defined nowhere in the source`;
      if (defined.length > 1) return `uses fragment ${name}, which is defined with different text at ${defined.map((f) => f.source).join(' and ')}`;
      definition = defined[0]!.definition;
    }
    included.push(definition);
    queue.push(...spreads(definition));
  }
  return { kind: Kind.DOCUMENT, definitions: [operation, ...included] };
}

function spreads(node: ASTNode): string[] {
  const names: string[] = [];
  visit(node, {
    FragmentSpread(spread) {
      names.push(spread.name.value);
    },
  });
  return names;
}

/**
 * Checks each operation against the schema with checkOperation (what `operations check` runs on the files), once
 * per name: the same operation found twice with the same text is one, with different text it is neither (which
 * one the frontend sends is for the operator to say).
 */
export function checkImports(schema: GraphQLSchema, found: (Candidate | Skipped)[]): (ImportedOperation | Skipped)[] {
  const candidates = found.filter((item): item is Candidate => !isSkipped(item));
  const byName = new Map<string, Candidate[]>();
  for (const candidate of candidates) byName.set(candidate.name, [...(byName.get(candidate.name) ?? []), candidate]);
  const result: (ImportedOperation | Skipped)[] = [];
  for (const item of found) {
    if (isSkipped(item)) {
      result.push(item);
      continue;
    }
    const skip = (reason: string) => result.push({ operation: item.name, source: item.source, reason });
    const same = byName.get(item.name)!;
    if (new Set(same.map((c) => print(c.document))).size > 1) {
      skip(`defined with different text at ${same.filter((c) => c !== item).map((c) => c.source).join(' and ')} too`);
      continue;
    }
    if (same[0] !== item) continue;
    const problems: string[] = [];
    const checked = checkOperation(schema, print(item.document), (message) => problems.push(message));
    if (!checked) skip(problems.join('; '));
    // A body that is not graphql-js's print of itself would get another id here than the one its clients send.
    else if (item.listed?.format === 'apollo' && checked.id !== item.listed.id) skip(`its body is not graphql-js's print of it, so Tessera's id for it would be ${checked.id}`);
    else result.push({ name: checked.name, source: item.source, document: checked.document, id: checked.id });
  }
  return result;
}

/**
 * What importing into operations/<bundle>/ changes: each operation into `<Name>.graphql` (added, replaced or
 * unchanged), a bundle.json (version 1.0.0) only where there is none; an existing bundle's bundle.json is the
 * operator's and stays as it is, and so do its other files. An operation that another file of the bundle already
 * holds is skipped, since two files with one operation name fail `operations check`.
 */
export function planImport(input: { bundle: string; description: string; found: (ImportedOperation | Skipped)[]; folder: BundleFolder }): ImportPlan {
  const path = (file: string) => `operations/${input.bundle}/${file}`;
  const holders = new Map<string, string>();
  for (const { file, text } of input.folder.graphqlFiles) for (const name of operationNames(text)) holders.set(name, file);
  const writes: ImportPlan['writes'] = [];
  const written: ImportRow[] = [];
  const skipped: ImportRow[] = [];
  for (const item of input.found) {
    if (isSkipped(item)) {
      skipped.push({ operation: item.operation, status: 'skipped', file: null, source: item.source, reason: item.reason });
      continue;
    }
    const file = `${item.name}.graphql`;
    const text = `${item.document}\n`;
    const holder = holders.get(item.name);
    if (holder !== undefined && holder !== file) {
      skipped.push({ operation: item.name, status: 'skipped', file: null, source: item.source, reason: `${path(holder)} already holds ${item.name}` });
      continue;
    }
    const existing = input.folder.graphqlFiles.find((f) => f.file === file);
    const status = !existing ? 'added' : existing.text === text ? 'unchanged' : 'replaced';
    if (status !== 'unchanged') writes.push({ file, text });
    written.push({ operation: item.name, status, file: path(file), source: item.source, reason: null });
  }
  written.sort((a, b) => byCodeUnits(a.operation!, b.operation!));
  const imported = written.length;
  if (input.folder.hasBundleJson) {
    written.unshift({ operation: null, status: 'kept', file: path('bundle.json'), source: null, reason: 'the bundle exists: its bundle.json stays as it is' });
  } else if (imported) {
    const meta = { name: input.bundle, description: input.description, version: '1.0.0' };
    writes.unshift({ file: 'bundle.json', text: `${JSON.stringify(meta, null, 2)}\n` });
    written.unshift({ operation: null, status: 'created', file: path('bundle.json'), source: null, reason: null });
  }
  return { writes: imported ? writes : [], rows: [...written, ...skipped], imported };
}

/** The operation names a bundle file holds; a file that does not parse holds none (`operations check` says why). */
function operationNames(text: string): string[] {
  try {
    return parse(text).definitions.flatMap((d) => (isOperation(d) && d.name ? [d.name.value] : []));
  } catch {
    return [];
  }
}
