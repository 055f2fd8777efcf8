import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** published -> deprecated (still served, flagged to the apps that hold it) -> retired (answers as unknown). */
export type VersionStatus = 'published' | 'deprecated' | 'retired';

/** A published version of an operation bundle; its operations never change once published, only its status. */
export const BundleVersion = defineEntity({
  name: 'BundleVersion',
  tableName: 'bundle_versions',
  properties: {
    id: p.string().primary(),
    bundle: p.string(),
    version: p.string(),
    description: p.text(),
    /** SHA-256 over the sorted operation ids: the same version may be published again only unchanged. */
    contentHash: p.string(),
    publishedAt: p.datetime(),
    publishedBy: p.string(),
    status: p.string().$type<VersionStatus>().default('published'),
    deprecatedAt: p.datetime().nullable(),
    retiredAt: p.datetime().nullable(),
  },
});
export type BundleVersion = InferEntity<typeof BundleVersion>;

export const BundleOperation = defineEntity({
  name: 'BundleOperation',
  tableName: 'bundle_operations',
  properties: {
    versionId: p.string().primary(),
    /** SHA-256 (hex) of the document text: the persisted operation id. */
    operationId: p.string().primary(),
    /** The id graphql-codegen's client preset gives the same document (SHA-256 of its normalised print). */
    aliasId: p.string().nullable(),
    document: p.text(),
    operationName: p.string(),
    operationType: p.string(),
    /** Scopes the operation needs, computed from the schema's field scopes at publish time. */
    requiredScopes: p.json<string[]>(),
  },
});
export type BundleOperation = InferEntity<typeof BundleOperation>;

/** An app's hold on a bundle: the channel (`latest`, the newest version not retired) or a pinned version. */
export const LATEST = 'latest';

export const AppBundle = defineEntity({
  name: 'AppBundle',
  tableName: 'app_bundles',
  properties: {
    appId: p.string().primary(),
    bundle: p.string().primary(),
    /** `latest`, or a version (`1.2.0`) the app stays on whatever is published after it. */
    track: p.string().primary(),
    tenantId: p.string(),
    assignedAt: p.datetime(),
    assignedBy: p.string(),
  },
});
export type AppBundle = InferEntity<typeof AppBundle>;

export const OperationStat = defineEntity({
  name: 'OperationStat',
  tableName: 'operation_stats',
  properties: {
    appId: p.string().primary(),
    operationId: p.string().primary(),
    tenantId: p.string(),
    operationName: p.string(),
    calls: p.bigint('number'),
    errors: p.bigint('number'),
    totalMs: p.double(),
    lastCalledAt: p.datetime(),
  },
});
export type OperationStat = InferEntity<typeof OperationStat>;

/**
 * An app's calls of one operation in one hour (UTC): what the console's activity pictures draw, kept
 * STATS_HOURLY_RETENTION_DAYS (stats.ts). Added to by the same flush as OperationStat.
 */
export const OperationStatHour = defineEntity({
  name: 'OperationStatHour',
  tableName: 'operation_stats_hourly',
  properties: {
    appId: p.string().primary(),
    operationId: p.string().primary(),
    hour: p.datetime().primary(),
    tenantId: p.string(),
    operationName: p.string(),
    calls: p.bigint('number'),
    errors: p.bigint('number'),
    totalMs: p.double(),
  },
});
export type OperationStatHour = InferEntity<typeof OperationStatHour>;

/** When an app last ran an operation it holds through a version, and how often: what a retirement is checked against. */
export const BundleVersionUsage = defineEntity({
  name: 'BundleVersionUsage',
  tableName: 'bundle_version_usage',
  properties: {
    appId: p.string().primary(),
    versionId: p.string().primary(),
    tenantId: p.string(),
    calls: p.bigint('number'),
    lastUsedAt: p.datetime(),
  },
});
export type BundleVersionUsage = InferEntity<typeof BundleVersionUsage>;
