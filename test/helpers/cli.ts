// The operator CLI run in this process, as `npm run cli -- <args>` would run it, with its output captured.
import { runCli } from '../../src/cli/run.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');

/** `cwd`: where `operations/` is read from (the checkout by default). */
export async function runCliInProcess(args: string[], env: Record<string, string | undefined>, cwd = ROOT): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { env, cwd, stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text) });
  return { code, stdout, stderr };
}
