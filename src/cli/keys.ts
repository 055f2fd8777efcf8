// keys list, keys rotate: the signing keys and their rotation.
import type { Command } from './command.js';
import { withRuntime } from './runtime.js';

export const keyCommands: Record<string, Command> = {
  'keys list': {
    options: {},
    run: (_values, { config }) => withRuntime(config, async (runtime) => (await runtime.keyring.summaries()) as unknown as Record<string, unknown>[]),
  },
  'keys rotate': {
    options: {},
    run: (_values, { config }) => withRuntime(config, async (runtime) => ({ ...(await runtime.keyring.rotate('operator'))! })),
  },
};
