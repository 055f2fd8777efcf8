// A real Prometheus (Debian's `prometheus` package; .ci/run installs it) scraping a Tessera on 127.0.0.1 every
// second, the way the README's scrape config says, and answering PromQL through its HTTP API: the parser of
// /metrics is Prometheus's own, and a sample it could not read shows as a failed scrape.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './listening.js';
import { until } from './poll.js';

export interface ScrapeTarget {
  /** host:port */
  address: string;
  /** Sent as `Authorization: Bearer <token>` (METRICS_TOKEN). */
  bearerToken?: string;
}

interface Target {
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
}

export class Prometheus {
  private child?: ChildProcess;
  private dir = '';
  private url = '';
  private readonly output: string[] = [];

  async start(target: ScrapeTarget): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), 'tessera-prometheus-'));
    const authorization = target.bearerToken ? `\n    authorization:\n      type: Bearer\n      credentials: ${JSON.stringify(target.bearerToken)}` : '';
    await writeFile(
      join(this.dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: tessera\n    metrics_path: /metrics${authorization}\n    static_configs:\n      - targets: [${JSON.stringify(target.address)}]\n`,
    );
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    this.child = spawn('prometheus', [`--config.file=${join(this.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(this.dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk) => this.output.push(String(chunk)));
    this.child.stderr!.on('data', (chunk) => this.output.push(String(chunk)));
    const ready = await until(() => fetch(`${this.url}/-/ready`).then((r) => r.ok, () => false), Boolean, { timeoutMs: 20_000, intervalMs: 100 });
    if (!ready) throw new Error(`Prometheus did not start:\n${this.output.join('')}`);
    return this;
  }

  private async target(): Promise<Target | undefined> {
    const body = (await (await fetch(`${this.url}/api/v1/targets`)).json()) as { data: { activeTargets: Target[] } };
    return body.data.activeTargets[0];
  }

  /** Waits for a scrape that began after now, and answers how it went. */
  async nextScrape(): Promise<Target> {
    const after = Date.now();
    const target = await until(() => this.target(), (t) => t !== undefined && Date.parse(t.lastScrape) > after, { timeoutMs: 10_000, intervalMs: 100 });
    if (!target || Date.parse(target.lastScrape) <= after) throw new Error('Prometheus did not scrape within 10 s');
    return target;
  }

  /** The samples of an instant PromQL query, by their labels (without __name__, job and instance). */
  async query(promql: string): Promise<Array<{ labels: Record<string, string>; value: number }>> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    if (body.status !== 'success') throw new Error(`PromQL ${promql}: ${body.error}`);
    return body.data.result.map(({ metric: { __name__: _name, job: _job, instance: _instance, ...labels }, value }) => ({ labels, value: Number(value[1]) }));
  }

  /** The one value of a query that names a single series (0 when it has none yet). */
  async value(promql: string): Promise<number> {
    const samples = await this.query(promql);
    if (samples.length > 1) throw new Error(`PromQL ${promql} has ${samples.length} series`);
    return samples[0]?.value ?? 0;
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child!.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
