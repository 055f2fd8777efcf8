// A runtime for the length of one command: with the embedded database, it joins the running server's cluster or
// starts one of its own (db/embedded.ts, mode `share`), and stops what it started when the command ends.
import type { Config } from '../config.js';
import { startRuntime, type Runtime } from '../runtime.js';

export async function withRuntime<T>(config: Config, work: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await startRuntime(config, { embeddedMode: 'share', background: false });
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}
