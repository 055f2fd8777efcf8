// The operator CLI: `npm run cli -- <command> [options]` (run.ts says what each command does). Same configuration
// as the server; with the embedded database it joins the running server's cluster, or starts one for the length
// of the command.
import { runCli } from './run.js';

const io = {
  env: process.env,
  cwd: process.cwd(),
  stdout: (text: string) => void process.stdout.write(text),
  stderr: (text: string) => void process.stderr.write(text),
};

runCli(process.argv.slice(2), io).then((code) => process.exit(code));
