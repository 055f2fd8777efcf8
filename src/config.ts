// The one place that reads the environment (DESIGN "Conventions" 4): parsed once, every problem
// reported together, no fallbacks for secrets in production.
import ipaddr from 'ipaddr.js';
import { z } from 'zod';

function isCidr(value: string): boolean {
  try {
    ipaddr.parseCIDR(value.trim());
    return true;
  } catch {
    return false;
  }
}

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const DAY = 86_400;

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    ROLE: z.enum(['all', 'api', 'worker']).default('all'),
    PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
    HOST: z.string().min(1).default('127.0.0.1'),
    ISSUER: z.string().url().optional(),
    TOKEN_AUDIENCE: z.string().min(1).optional(),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    DATA_DIR: z.string().min(1).default('./.data'),
    DATABASE_STATEMENT_TIMEOUT: z.coerce.number().int().min(100).max(600_000).default(5000),
    DATABASE_ACQUIRE_TIMEOUT: z.coerce.number().int().min(100).max(600_000).default(3000),
    EMBEDDED_PG_PORT: z.coerce.number().int().min(0).max(65_535).default(0),
    SECRETS_KEY: z
      .string()
      .refine((v) => decodeKey(v) !== null, 'must be 32 bytes, base64 or hex encoded')
      .optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters (a random secret the scraper sends as a bearer token)').optional(),
    METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
    METRICS_HOST: z.string().min(1).optional(),
    // The OpenTelemetry SDK's own variables (opentelemetry.io/docs/specs/otel/protocol/exporter): the exporter reads
    // the endpoints and headers itself; they are read here to decide whether tracing runs, and how.
    OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().url().optional(),
    OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.enum(['http/protobuf', 'http/json']).optional(),
    OTEL_SERVICE_NAME: z.string().min(1).default('tessera'),
    OTEL_SDK_DISABLED: z.enum(['true', 'false']).default('false'),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),
    ACCESS_TOKEN_TTL: seconds(3600),
    ACCESS_TOKEN_MAX_TTL: seconds(DAY),
    SERVICE_TOKEN_TTL: seconds(30 * DAY),
    SERVICE_TOKEN_MAX_TTL: seconds(365 * DAY),
    ADMIN_TOKEN_MAX_TTL: seconds(7 * DAY),
    SECRET_ROTATION_GRACE: z.coerce.number().int().min(0).default(DAY),
    KEY_ROTATION_INTERVAL: seconds(30 * DAY),
    KEY_ALGORITHM: z.enum(['RS256', 'ES256']).default('RS256'),
    JWKS_MAX_AGE: z.coerce.number().int().min(0).default(300),
    CLOCK_TOLERANCE: z.coerce.number().int().min(0).max(300).default(5),
    REFRESH_TOKEN_TTL: seconds(30 * DAY),
    ID_TOKEN_TTL: seconds(3600),
    LOGIN_SESSION_TTL: seconds(8 * 3600),
    LOGIN_MAX_FAILURES: seconds(5),
    LOGIN_LOCKOUT: seconds(900),
    RATE_LIMIT_TOKEN_PER_CLIENT: seconds(600),
    RATE_LIMIT_TOKEN_PER_IP: seconds(1200),
    RATE_LIMIT_LOGIN_PER_IP: seconds(30),
    SANDBOX_RATE_LIMIT_TOKEN_PER_CLIENT: seconds(60),
    SANDBOX_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(30),
    SANDBOX_REMOVE_AFTER_DAYS: z.coerce.number().int().min(0).max(365).default(7),
    SANDBOX_SWEEP_INTERVAL: z.coerce.number().int().min(1).max(86_400).default(300),
    WEBHOOK_TIMEOUT: seconds(15),
    WEBHOOK_RETRY_SCHEDULE: z
      .string()
      .regex(/^\d+(,\d+)*$/, 'must be comma-separated seconds, e.g. 5,300,1800')
      .default('5,300,1800,7200,18000,36000,36000'),
    WEBHOOK_DISABLE_AFTER: seconds(5 * DAY),
    WEBHOOK_ALLOWED_NETWORKS: z
      .string()
      .default('')
      .refine((v) => v.split(',').filter(Boolean).every(isCidr), 'must be comma-separated CIDR ranges, e.g. 127.0.0.0/8,::1/128'),
    WEBHOOK_HTTP_HOSTS: z.string().default(''),
    WORKER_CONCURRENCY: seconds(16),
    WORKER_HEARTBEAT_TIMEOUT: seconds(30),
    WORKER_POLL_INTERVAL: z.coerce.number().int().min(50).max(60_000).default(2000),
    BUNDLE_RETIRE_WINDOW_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && !env.SECRETS_KEY) {
      ctx.addIssue({ code: 'custom', path: ['SECRETS_KEY'], message: 'is required in production' });
    }
    if (env.ACCESS_TOKEN_TTL > env.ACCESS_TOKEN_MAX_TTL) {
      ctx.addIssue({ code: 'custom', path: ['ACCESS_TOKEN_TTL'], message: 'exceeds ACCESS_TOKEN_MAX_TTL' });
    }
    if (env.SERVICE_TOKEN_TTL > env.SERVICE_TOKEN_MAX_TTL) {
      ctx.addIssue({ code: 'custom', path: ['SERVICE_TOKEN_TTL'], message: 'exceeds SERVICE_TOKEN_MAX_TTL' });
    }
  });

export interface Config {
  env: 'development' | 'production' | 'test';
  role: 'all' | 'api' | 'worker';
  port: number;
  host: string;
  issuer: string;
  audience: string;
  databaseUrl?: string;
  /** ms: the longest one statement may run, and a request may wait for a connection (pool or new). */
  database: { statementTimeout: number; acquireTimeout: number };
  dataDir: string;
  embeddedPgPort: number;
  /** 32-byte key; undefined only in development before the dev key is generated into DATA_DIR. */
  secretsKey?: Buffer;
  logLevel: string;
  /**
   * /metrics (observability/metrics.ts): on the main port when `token` is set, behind it; on its own `port` (any
   * role) when that is set. Neither: no /metrics.
   */
  metrics: { token?: string; port?: number; host: string };
  /** OpenTelemetry traces over OTLP/HTTP (observability/tracing.ts); null: no exporter, no instrumentation. */
  tracing: { protocol: 'http/protobuf' | 'http/json'; serviceName: string } | null;
  /** `auto`: pino-pretty's human lines when stdout is a terminal, JSON lines otherwise. */
  logFormat: 'auto' | 'json' | 'pretty';
  redisUrl?: string;
  tokens: {
    accessTtl: number;
    accessMaxTtl: number;
    serviceTtl: number;
    serviceMaxTtl: number;
    adminMaxTtl: number;
    clockTolerance: number;
  };
  secretRotationGrace: number;
  oauth: {
    refreshTtl: number;
    /** Seconds an OpenID Connect ID token is valid for (its `exp`); it asserts a sign-in, it grants nothing. */
    idTokenTtl: number;
    sessionTtl: number;
    loginMaxFailures: number;
    loginLockout: number;
  };
  /** Requests per minute; `sandboxTokenPerClient` is the token endpoint's limit for a client of a sandbox tenant. */
  rateLimits: { tokenPerClient: number; tokenPerIp: number; loginPerIp: number; sandboxTokenPerClient: number };
  /**
   * Sandbox tenants: how long one lives unless asked otherwise (days), how long an expired one is kept, disabled,
   * before it is removed (days), and how often a process that runs jobs sweeps them (seconds).
   */
  sandboxes: { ttlDays: number; removeAfterDays: number; sweepInterval: number };
  webhooks: {
    timeoutMs: number;
    /** Seconds to wait before each retry; its length is the number of retries. */
    retrySchedule: number[];
    disableAfter: number;
    /** CIDR ranges exempt from the SSRF block (e.g. loopback in development). */
    allowedNetworks: string[];
    /** Hosts that may be reached over plain http. */
    httpHosts: string[];
  };
  /** Jobs at once per process; seconds before a silent worker's jobs run again; ms between looks for jobs due later. */
  worker: { concurrency: number; heartbeatTimeout: number; pollInterval: number };
  keys: { rotationInterval: number; algorithm: 'RS256' | 'ES256'; jwksMaxAge: number };
  /** Days within which an app's use of a bundle version refuses its retirement (and keeps it in the impact check). */
  bundles: { retireWindowDays: number };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function decodeKey(value: string): Buffer | null {
  const hex = /^[0-9a-f]{64}$/i.test(value) ? Buffer.from(value, 'hex') : null;
  const key = hex ?? Buffer.from(value, 'base64');
  return key.length === 32 ? key : null;
}

export function parseConfig(source: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "unset", as in most twelve-factor tooling.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || 'environment'} ${i.message}`));
  }
  const env = result.data;
  const issuer = (env.ISSUER ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
  return {
    env: env.NODE_ENV,
    role: env.ROLE,
    port: env.PORT,
    host: env.HOST,
    issuer,
    audience: env.TOKEN_AUDIENCE ?? issuer,
    databaseUrl: env.DATABASE_URL,
    database: { statementTimeout: env.DATABASE_STATEMENT_TIMEOUT, acquireTimeout: env.DATABASE_ACQUIRE_TIMEOUT },
    dataDir: env.DATA_DIR,
    embeddedPgPort: env.EMBEDDED_PG_PORT,
    secretsKey: env.SECRETS_KEY ? decodeKey(env.SECRETS_KEY)! : undefined,
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    metrics: { token: env.METRICS_TOKEN, port: env.METRICS_PORT, host: env.METRICS_HOST ?? env.HOST },
    tracing:
      (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) && env.OTEL_SDK_DISABLED === 'false'
        ? { protocol: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL, serviceName: env.OTEL_SERVICE_NAME }
        : null,
    redisUrl: env.REDIS_URL,
    tokens: {
      accessTtl: env.ACCESS_TOKEN_TTL,
      accessMaxTtl: env.ACCESS_TOKEN_MAX_TTL,
      serviceTtl: env.SERVICE_TOKEN_TTL,
      serviceMaxTtl: env.SERVICE_TOKEN_MAX_TTL,
      adminMaxTtl: env.ADMIN_TOKEN_MAX_TTL,
      clockTolerance: env.CLOCK_TOLERANCE,
    },
    secretRotationGrace: env.SECRET_ROTATION_GRACE,
    oauth: {
      refreshTtl: env.REFRESH_TOKEN_TTL,
      idTokenTtl: env.ID_TOKEN_TTL,
      sessionTtl: env.LOGIN_SESSION_TTL,
      loginMaxFailures: env.LOGIN_MAX_FAILURES,
      loginLockout: env.LOGIN_LOCKOUT,
    },
    rateLimits: {
      tokenPerClient: env.RATE_LIMIT_TOKEN_PER_CLIENT,
      tokenPerIp: env.RATE_LIMIT_TOKEN_PER_IP,
      loginPerIp: env.RATE_LIMIT_LOGIN_PER_IP,
      sandboxTokenPerClient: env.SANDBOX_RATE_LIMIT_TOKEN_PER_CLIENT,
    },
    sandboxes: { ttlDays: env.SANDBOX_TTL_DAYS, removeAfterDays: env.SANDBOX_REMOVE_AFTER_DAYS, sweepInterval: env.SANDBOX_SWEEP_INTERVAL },
    webhooks: {
      timeoutMs: env.WEBHOOK_TIMEOUT * 1000,
      retrySchedule: env.WEBHOOK_RETRY_SCHEDULE.split(',').map(Number),
      disableAfter: env.WEBHOOK_DISABLE_AFTER,
      allowedNetworks: env.WEBHOOK_ALLOWED_NETWORKS.split(',').filter(Boolean),
      httpHosts: env.WEBHOOK_HTTP_HOSTS.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
    },
    worker: { concurrency: env.WORKER_CONCURRENCY, heartbeatTimeout: env.WORKER_HEARTBEAT_TIMEOUT, pollInterval: env.WORKER_POLL_INTERVAL },
    keys: { rotationInterval: env.KEY_ROTATION_INTERVAL, algorithm: env.KEY_ALGORITHM, jwksMaxAge: env.JWKS_MAX_AGE },
    bundles: { retireWindowDays: env.BUNDLE_RETIRE_WINDOW_DAYS },
  };
}
