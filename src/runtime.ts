// Everything a Tessera process needs besides HTTP: the database (embedded or DATABASE_URL), migrations,
// the secrets key, signing keys, revocations and the services built on them. Shared by the server,
// the CLI and the tests, so all three run the same code.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { decodeKey, type Config } from './config.js';
import { startEmbeddedPostgres, type EmbeddedMode } from './db/embedded.js';
import { Notifications } from './db/notifications.js';
import { migrate, openOrm } from './db/orm.js';
import { Keyring } from './keys/keyring.js';
import { RevocationList } from './keys/revocations.js';
import { TokenService } from './keys/tokens.js';
import { BundleRegistry } from './bundles/service.js';
import { getSchema } from './graphql/schema.js';
import { OAuthService } from './oauth/service.js';
import { PlatformService } from './platform/service.js';
import { SecretBox } from './secret-box.js';
import { WebhookHttpClient, type Resolver } from './webhooks/http.js';
import { WebhookService } from './webhooks/service.js';
import { DeliveryWorker } from './webhooks/worker.js';

export interface Runtime {
  config: Config;
  databaseUrl: string;
  orm: MikroORM;
  keyring: Keyring;
  revocations: RevocationList;
  tokens: TokenService;
  platform: PlatformService;
  oauth: OAuthService;
  bundles: BundleRegistry;
  webhooks: WebhookService;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** `own` for the server, `share` for the CLI (see db/embedded.ts). */
  embeddedMode: EmbeddedMode;
  /** Long-running processes listen for changes and rotate keys on schedule; one-shot CLI commands do not. */
  background: boolean;
  log: (message: string, error?: unknown) => void;
  /** Run webhook deliveries in this process (roles all and worker). */
  worker?: boolean;
  /** DNS for outbound webhooks; tests inject one to exercise the SSRF checks. */
  resolver?: Resolver;
}

/** Development only (production requires SECRETS_KEY): a key generated once into DATA_DIR. */
async function developmentSecretsKey(dataDir: string): Promise<Buffer> {
  const file = join(dataDir, 'secrets.key');
  if (existsSync(file)) {
    const key = decodeKey((await readFile(file, 'utf8')).trim());
    if (!key) throw new Error(`${file} does not hold a 32-byte key`);
    return key;
  }
  await mkdir(dataDir, { recursive: true });
  const key = randomBytes(32);
  await writeFile(file, key.toString('base64'), { mode: 0o600 });
  return key;
}

export async function startRuntime(config: Config, options: RuntimeOptions): Promise<Runtime> {
  const database = config.databaseUrl
    ? { url: config.databaseUrl, stop: async () => undefined }
    : await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, mode: options.embeddedMode, log: (m) => options.log(m) });
  const cleanups: Array<() => Promise<void> | void> = [() => database.stop()];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const orm = await openOrm(database.url);
    cleanups.push(() => orm.close(true));
    await migrate(database.url, orm);
    const box = new SecretBox(config.secretsKey ?? (await developmentSecretsKey(config.dataDir)));

    const notifications = options.background ? new Notifications(database.url, options.log) : undefined;
    if (notifications) {
      await notifications.start();
      cleanups.push(() => notifications.close());
    }
    const keyring = new Keyring(orm, box, config, options.log);
    await keyring.start(notifications, { background: options.background });
    cleanups.push(() => keyring.stop());
    const revocations = new RevocationList(orm, options.log);
    await revocations.start(notifications);
    cleanups.push(() => revocations.stop());

    const tokens = new TokenService(keyring, revocations, config);
    const platform = new PlatformService(orm, tokens, revocations, config);
    platform.start(notifications);
    const oauth = new OAuthService(orm, platform, tokens, revocations, config);
    const bundles = new BundleRegistry(orm, getSchema(), options.log);
    await bundles.start(notifications);
    cleanups.push(() => bundles.stop());

    const http = new WebhookHttpClient({ allowedNetworks: config.webhooks.allowedNetworks, timeoutMs: config.webhooks.timeoutMs, resolver: options.resolver });
    cleanups.push(() => http.close());
    // Plain pg for job bookkeeping and the delivery hot path: one connection per concurrent delivery.
    const deliveryPool = new pg.Pool({ connectionString: database.url, max: options.worker ? config.worker.concurrency + 4 : 2 });
    // An idle connection dropped by the server must not crash the process; the pool reconnects.
    deliveryPool.on('error', (error) => options.log('delivery database connection lost', error));
    deliveryPool.on('connect', (client) => client.on('error', (error) => options.log('delivery database connection lost', error)));
    cleanups.push(() => deliveryPool.end());
    const webhooks = new WebhookService(orm, box, http, config, deliveryPool);
    if (options.worker) {
      const worker = new DeliveryWorker(config, deliveryPool, webhooks, options.log);
      await worker.start();
      cleanups.push(() => worker.stop());
    }
    return { config, databaseUrl: database.url, orm, keyring, revocations, tokens, platform, oauth, bundles, webhooks, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
