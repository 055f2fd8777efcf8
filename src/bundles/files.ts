// The operator's bundle files: operations/<bundle>/*.graphql and bundle.json, reviewed like code. Read and
// checked against the schema (the CLI's `operations check`, which CI runs, and `operations publish`); the
// registry checks stored documents again with the same function.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  TypeInfo,
  parse,
  print,
  specifiedRules,
  validate,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { printExecutableGraphQLDocument } from '@graphql-tools/documents';
import { InvalidRequest } from '../errors.js';
import { MAX_TOKENS } from '../graphql/persisted.js';
import { sha256 } from '../ids.js';

const BUNDLE_NAME = /^[a-z][a-z0-9-]{1,62}$/;
const VERSION = /^\d+\.\d+\.\d+$/;

export interface CheckedOperation {
  file: string;
  id: string;
  /** The id graphql-codegen's client preset computes for the same document: an alias of `id`. */
  aliasId: string;
  document: string;
  name: string;
  type: 'query' | 'mutation';
  requiredScopes: string[];
}

export interface CheckedBundle {
  name: string;
  description: string;
  version: string;
  operations: CheckedOperation[];
}

export interface Problem {
  bundle: string;
  file: string;
  message: string;
}

/** The scopes an operation needs: every field it selects that carries a Pothos `authScopes: { scope }`. */
export function requiredScopes(schema: GraphQLSchema, document: DocumentNode): string[] {
  const typeInfo = new TypeInfo(schema);
  const scopes = new Set<string>();
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field() {
        const field = typeInfo.getFieldDef();
        const authScopes = (field?.extensions?.pothosOptions as { authScopes?: { scope?: string } } | undefined)?.authScopes;
        if (authScopes && typeof authScopes === 'object' && typeof authScopes.scope === 'string') scopes.add(authScopes.scope);
      },
    }),
  );
  return [...scopes].sort();
}

/** Reads operations/ and checks every document against the schema; problems name the file and why. */
export function loadBundles(schema: GraphQLSchema, dir: string): { bundles: CheckedBundle[]; problems: Problem[] } {
  const bundles: CheckedBundle[] = [];
  const problems: Problem[] = [];
  if (!existsSync(dir)) return { bundles, problems: [{ bundle: '-', file: basename(dir), message: 'the operations folder does not exist' }] };
  for (const entry of readdirSync(dir).sort()) {
    const folder = join(dir, entry);
    if (!statSync(folder).isDirectory()) continue;
    const problem = (file: string, message: string) => problems.push({ bundle: entry, file, message });
    const metaFile = join(folder, 'bundle.json');
    let meta: { name?: unknown; description?: unknown; version?: unknown };
    try {
      meta = JSON.parse(readFileSync(metaFile, 'utf8'));
    } catch (error) {
      problem('bundle.json', existsSync(metaFile) ? `is not valid JSON: ${(error as Error).message}` : 'is missing');
      continue;
    }
    if (meta.name !== entry) problem('bundle.json', `name must be "${entry}", the folder's name`);
    if (typeof meta.name !== 'string' || !BUNDLE_NAME.test(meta.name)) problem('bundle.json', 'name must be lowercase letters, digits and dashes');
    if (typeof meta.description !== 'string' || !meta.description.trim()) problem('bundle.json', 'description is required');
    if (typeof meta.version !== 'string' || !VERSION.test(meta.version)) problem('bundle.json', 'version must look like 1.2.3');
    const operations: CheckedOperation[] = [];
    const files = readdirSync(folder).filter((f) => f.endsWith('.graphql')).sort();
    if (!files.length) problem('-', 'the bundle has no .graphql operations');
    for (const file of files) {
      const checked = checkOperation(schema, readFileSync(join(folder, file), 'utf8'), (message) => problem(file, message));
      if (checked) {
        const { ast: _parsed, ...operation } = checked;
        operations.push({ file, ...operation });
      }
    }
    const names = operations.map((o) => o.name);
    for (const name of new Set(names)) if (names.filter((n) => n === name).length > 1) problem('-', `operation name ${name} is used twice`);
    if (!problems.some((p) => p.bundle === entry)) {
      bundles.push({ name: entry, description: String(meta.description), version: String(meta.version), operations });
    }
  }
  return { bundles, problems };
}

export function checkOperation(schema: GraphQLSchema, text: string, problem: (message: string) => void): (Omit<CheckedOperation, 'file'> & { ast: DocumentNode }) | null {
  let document: DocumentNode;
  try {
    // The same token limit as requests: persisted documents are handed to Yoga already parsed.
    document = parse(text, { maxTokens: MAX_TOKENS });
  } catch (error) {
    problem(`does not parse: ${(error as GraphQLError).message}`);
    return null;
  }
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1) {
    problem(`must hold exactly one operation (found ${operations.length})`);
    return null;
  }
  const operation = operations[0]!;
  if (!operation.name) problem('the operation must be named');
  if (operation.operation === 'subscription') problem('subscriptions are not served');
  // Introspection is never part of a bundle (DESIGN: schema discovery is off for partners).
  const errors = validate(schema, document, [...specifiedRules, NoSchemaIntrospectionCustomRule]);
  for (const error of errors) problem(error.message);
  if (errors.length || !operation.name || operation.operation === 'subscription') return null;
  // The id is the SHA-256 of the canonical (printed) text: what Apollo's persisted-query link hashes too.
  const normalized = print(document);
  return {
    id: sha256(normalized),
    aliasId: codegenId(document),
    document: normalized,
    name: operation.name.value,
    type: operation.operation as 'query' | 'mutation',
    requiredScopes: requiredScopes(schema, document),
    ast: document,
  };
}

/**
 * The id graphql-codegen's client preset (`persistedDocuments`, sha256) computes for a document: SHA-256 of
 * @graphql-tools/documents' stable print (selections, arguments and variables sorted, no comments or spaces).
 */
export function codegenId(document: DocumentNode): string {
  return sha256(printExecutableGraphQLDocument(document));
}

/** SHA-256 over the sorted operation ids and the description: the same version may be published again only unchanged. */
export function contentHash(bundle: CheckedBundle): string {
  return sha256(bundle.operations.map((o) => o.id).sort().join('\n') + `\n${bundle.description}`);
}

export function assertBundleName(name: string | undefined): string {
  if (!name || !BUNDLE_NAME.test(name)) throw new InvalidRequest('bundle name must be lowercase letters, digits and dashes');
  return name;
}

