#!/usr/bin/env node
// The operator CLI (run.ts says what each command does). Built, it is the package's `tessera` bin
// (dist/cli/index.js; the Docker image puts it on PATH); in a checkout, `npm run cli -- <command>` runs this file
// through tsx. Same configuration as the server; with the embedded database it joins the running server's
// cluster, or starts one for the length of the command. operations/ is read from the current folder (the
// image's WORKDIR, /app, holds the shipped bundles).
import { runCli } from './run.js';

const io = {
  env: process.env,
  cwd: process.cwd(),
  stdout: (text: string) => void process.stdout.write(text),
  stderr: (text: string) => void process.stderr.write(text),
};

runCli(process.argv.slice(2), io).then((code) => process.exit(code));
