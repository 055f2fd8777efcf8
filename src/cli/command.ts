// What a CLI command is, and the errors that end one: bad arguments (exit code 2, nothing done) and broken
// operations in operations/ (exit code 1, each one named).
import type { ParseArgsConfig } from 'node:util';
import type { Config } from '../config.js';

export type Values = Record<string, string | boolean | undefined>;

export interface CommandContext {
  config: Config;
  /** The folder the command runs in: `operations/` is read from it. */
  cwd: string;
}

export interface Command {
  options: ParseArgsConfig['options'];
  /** Positional arguments after the command words, by name. */
  args?: string[];
  /** Checks that need no database, so bad arguments never start one. */
  check?(values: Values, context: CommandContext, args: string[]): void;
  /** The answer: fields, rows, or text printed as it is (JSON objects for --json either way). */
  run(values: Values, context: CommandContext, args: string[]): Promise<Record<string, unknown> | Record<string, unknown>[] | string>;
}

/** Bad arguments: exit code 2, nothing done. */
export class UsageError extends Error {}

/** Broken operations in operations/: exit code 1, each one named. */
export class CheckFailed extends Error {
  constructor(readonly problems: string[]) {
    super('operations check failed');
  }
}

export function required(values: Values, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value;
}
