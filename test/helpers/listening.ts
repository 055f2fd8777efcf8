// A second runtime and app on the harness's database, listening on 127.0.0.1 with ISSUER equal to its
// own address: what a real client sees. Tokens, discovery and the authorization response name the
// issuer, and the client checks them against the URL it uses (RFC 8414 section 3.3, RFC 9207).
import type { FastifyInstance } from 'fastify';
import { createServer } from 'node:net';
import { buildApp } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { parseConfig, type Config } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import type { Harness } from './harness.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ListeningTessera {
  /** http://127.0.0.1:<port>, also the issuer. */
  url: string;
  config: Config;
  runtime: Runtime;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** `options.clock`: the harness's, for a test that moves time on both (the real clock by default). */
export async function startListeningTessera(h: Harness, options: { clock?: Clock } = {}): Promise<ListeningTessera> {
  // The port is picked first: the issuer is fixed at parse time and must be the listening address.
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = parseConfig({ ...h.env, ISSUER: url });
  const runtime = await startRuntime(config, { embeddedMode: 'own', background: false, ...options });
  let app: FastifyInstance | undefined;
  try {
    app = await buildApp(config, runtime);
    await app.listen({ port, host: '127.0.0.1' });
  } catch (error) {
    await app?.close();
    await runtime.close();
    throw error;
  }
  const listening = app;
  return {
    url,
    config,
    runtime,
    app: listening,
    async close() {
      await listening.close();
      await runtime.close();
    },
  };
}

/**
 * A cookie jar over fetch for the hosted pages: redirects are not followed (the test looks at each
 * one), and Set-Cookie values are sent back as a Cookie header. Tessera cookies are not `Secure` on
 * a loopback http issuer and all live under /v1/oauth, where every request of this jar goes.
 */
export class FetchBrowser {
  readonly cookies = new Map<string, string>();
  /** Raw Set-Cookie headers seen, for asserting their attributes. */
  readonly setCookies: string[] = [];

  constructor(private readonly base: string) {}

  private remember(res: Response): Response {
    for (const header of res.headers.getSetCookie()) {
      this.setCookies.push(header);
      const [pair = ''] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/;\s*max-age=0\s*(;|$)/i.test(header) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return cookie ? { ...extra, cookie } : extra;
  }

  async get(pathOrUrl: string): Promise<Response> {
    return this.remember(await fetch(new URL(pathOrUrl, this.base), { redirect: 'manual', headers: this.headers() }));
  }

  async post(pathOrUrl: string, fields: Record<string, string>): Promise<Response> {
    return this.remember(
      await fetch(new URL(pathOrUrl, this.base), {
        method: 'POST',
        redirect: 'manual',
        headers: this.headers({ 'content-type': 'application/x-www-form-urlencoded' }),
        body: new URLSearchParams(fields).toString(),
      }),
    );
  }
}
