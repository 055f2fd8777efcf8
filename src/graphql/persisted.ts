// Persisted operations as the transport sees them: what an operation is, where the operations a caller may run
// come from (the bundles module serves them, src/app.ts hands them in), and how a request names one.
import type { DocumentNode } from 'graphql';

/** The token limit of a document, at parse time: the same for requests (graphql-armor) and for bundles. */
export const MAX_TOKENS = 2000;

export interface PersistedOperation {
  /** SHA-256 (hex) of the document's printed text. */
  id: string;
  name: string;
  type: 'query' | 'mutation';
  document: DocumentNode;
  /** Scopes the token must carry for the operation to run at all. */
  requiredScopes: string[];
}

export interface PersistedOperationSource {
  /** The operation if the app may run it; otherwise null, whether or not it exists elsewhere. */
  lookup(appId: string, operationId: string): PersistedOperation | null;
  /** When the version the app holds the operation through was deprecated, or null (not deprecated, not held). */
  deprecatedAt(appId: string, operationId: string): Date | null;
  /** Counts one executed call (calls, errors, latency per app and operation). */
  recordCall(appId: string, tenantId: string, operation: PersistedOperation, ms: number, failed: boolean): void;
  /** Calls `listener` with every served operation now and after each change; returns the unsubscribe function. */
  onLoad(listener: (operations: PersistedOperation[]) => void): () => void;
}

/** GraphQL over HTTP `documentId: "sha256:<hex>"`, or Apollo's `extensions.persistedQuery` (both paths read it so). */
export function persistedOperationId(params: { documentId?: unknown; extensions?: unknown }): string | null {
  if (typeof params.documentId === 'string' && params.documentId) return /^sha256:([0-9a-f]{64})$/.exec(params.documentId)?.[1] ?? params.documentId;
  const persisted = (params.extensions as { persistedQuery?: { version?: unknown; sha256Hash?: unknown } } | undefined)?.persistedQuery;
  if (persisted?.version === 1 && typeof persisted.sha256Hash === 'string') return persisted.sha256Hash;
  return null;
}
