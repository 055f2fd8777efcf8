// Bundle versions as operators write them: `1.2.0` (major.minor.patch, compared as numbers), and the `bundle@1.2.0`
// form the CLI takes (a bare `bundle` is its channel, `latest`).
import { InvalidRequest } from '../errors.js';
import { LATEST } from './entities.js';
import { assertBundleName } from './files.js';

export const VERSION = /^\d+\.\d+\.\d+$/;

/** Negative when `a` is older than `b`: 1.10.0 is newer than 1.9.0. */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** The versions, newest first. */
export function newestFirst<T extends { version: string }>(versions: T[]): T[] {
  return [...versions].sort((a, b) => compareVersions(b.version, a.version));
}

export function assertVersion(version: string, field = 'version'): string {
  if (!VERSION.test(version)) throw InvalidRequest.field(field, 'must look like 1.2.0');
  return version;
}

/** `bundle` (its channel) or `bundle@1.2.0` (that version). */
export function parseBundleSpec(spec: string | undefined): { bundle: string; track: string } {
  const [name, version, extra] = (spec ?? '').split('@');
  if (extra !== undefined) throw new InvalidRequest('name a bundle as <bundle> or <bundle>@<version>');
  return { bundle: assertBundleName(name), track: version === undefined ? LATEST : assertVersion(version) };
}

/** `bundle@1.2.0`, the version required. */
export function parseVersionSpec(spec: string | undefined): { bundle: string; version: string } {
  const { bundle, track } = parseBundleSpec(spec);
  if (track === LATEST) throw new InvalidRequest('name a version: <bundle>@<version>, e.g. incident-read@1.2.0');
  return { bundle, version: track };
}
