// The operator CLI's answers to bad arguments, run in process: exit code 2, the message that names what is wrong
// (followed by the usage where the arguments themselves are wrong), no stack trace, and nothing created.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USAGE } from '../src/cli/run.js';
import { runCliInProcess } from './helpers/cli.js';
import { bearer, startHarness, type Harness, type TenantFixture } from './helpers/harness.js';
import { createUser } from './helpers/oauth.js';

let h: Harness;
let acme: TenantFixture;

beforeAll(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  await createUser(h, acme, 'member@acme.test');
});
afterAll(() => h?.close());

/** The answer to arguments that are themselves wrong: the reason, then how to call the CLI. */
const usageError = (message: string) => `error: ${message}\n\n${USAGE}`;

describe('bad arguments', () => {
  it.each([
    [['bootstrap', '--tenant', 'Bad Slug', '--name', 'X', '--admin-email', 'a@b.test'], usageError('--tenant must be 2-63 lowercase letters, digits or dashes, starting with a letter or digit')],
    [['bootstrap', '--tenant', 'ok-slug', '--name', 'X'], usageError('--admin-email is required')],
    [['bootstrap', '--tenant', 'ok-slug', '--name', 'X', '--admin-email', 'a@b.test', '--admin-password', 'short'], usageError('--admin-password must be at least 12 characters')],
    [['bootstrap', '--tenant', 'ok-slug', '--name', ' ', '--admin-email', 'not-an-email'], usageError('--name is required')],
    [['bootstrap', '--tenant', 'ok-slug', '--name', 'X', '--admin-email', 'not-an-email'], usageError('--admin-email must be an email address')],
    [['bootstrap', '--tenant', 'ok-slug', '--colour', 'blue'], usageError("Unknown option '--colour'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--colour\"")],
    [['admin-token', '--tenant', 'acme'], usageError('--email is required')],
    [['operator-token', '--ttl', 'forever'], usageError('--ttl must be a whole number of seconds from 60 to 604800')],
    [['operator-token', '--ttl', '30'], usageError('--ttl must be a whole number of seconds from 60 to 604800')],
    [['frobnicate'], usageError('unknown command: frobnicate')],
    [['keys', 'shred'], usageError('unknown command: keys shred')],
    [['operations', 'manifest'], usageError('operations manifest needs <bundle>')],
    [['operations', 'assign', 'incident-read'], usageError('operations assign needs <bundle> <client_id>')],
    [['keys', 'list', 'extra'], usageError('unexpected argument: extra')],
  ])('%j: exit 2 and the reason, then the usage', async (args, message) => {
    const result = await h.cli(args);
    expect(result).toEqual({ code: 2, stdout: '', stderr: message });
  });

  it.each([
    [['bootstrap', '--tenant', 'acme', '--name', 'Again', '--admin-email', 'other@acme.test'], 'error: a tenant with slug acme already exists\n'],
    [['admin-token', '--tenant', 'nope', '--email', 'admin@acme.test'], 'error: no tenant with slug nope\n'],
    [['admin-token', '--tenant', 'acme', '--email', 'nobody@acme.test'], 'error: no user nobody@acme.test in tenant acme\n'],
    [['admin-token', '--tenant', 'acme', '--email', 'member@acme.test'], usageError('member@acme.test is not an admin of acme')],
    [['operations', 'assign', 'incident-read', 'app_doesnotexist'], usageError('no app with client_id app_doesnotexist')],
    [['operations', 'manifest', 'Not A Bundle'], 'error: bundle name must be lowercase letters, digits and dashes\n'],
    [['operations', 'manifest', 'never-published'], 'error: no published bundle never-published\n'],
  ])('%j: exit 2 and what does not exist or clashes', async (args, message) => {
    const result = await h.cli(args);
    expect(result).toEqual({ code: 2, stdout: '', stderr: message });
  });

  it('refuses an invalid configuration with every problem named, exit 2', async () => {
    const bad = await runCliInProcess(['operator-token'], { ...h.env, PORT: 'eighty', KEY_ALGORITHM: 'HS256' });
    expect(bad).toEqual({
      code: 2,
      stdout: '',
      stderr: "Invalid configuration:\n  - PORT Expected number, received nan\n  - KEY_ALGORITHM Invalid enum value. Expected 'RS256' | 'ES256', received 'HS256'\n",
    });
  });

  it('creates nothing when refused', async () => {
    const audit = await h.request({ method: 'GET', url: '/v1/platform/audit-events?action=tenant.bootstrapped', headers: bearer(acme.adminToken) });
    expect(audit.json().events).toHaveLength(1);
    expect(await h.cli(['admin-token', '--tenant', 'ok-slug', '--email', 'a@b.test'])).toEqual({ code: 2, stdout: '', stderr: 'error: no tenant with slug ok-slug\n' });
  });
});

describe('help', () => {
  it('prints the usage: exit 0 when asked for, 2 without a command', async () => {
    expect(await h.cli(['--help'])).toEqual({ code: 0, stdout: USAGE, stderr: '' });
    expect(await h.cli(['help'])).toEqual({ code: 0, stdout: USAGE, stderr: '' });
    expect(await h.cli([])).toEqual({ code: 2, stdout: USAGE, stderr: '' });
  });
});
