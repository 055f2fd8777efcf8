// Reading OAuth parameters: each is single-valued (RFC 6749 section 3.1: "Parameters MUST NOT be included more
// than once"), and an empty one is treated as omitted.
import { InvalidRequest } from '../errors.js';

/** A parsed query string or form: repeated names come as arrays. */
export type Params = Record<string, string | string[] | undefined>;

export function param(params: Params, name: string): string | undefined {
  const value = params[name];
  if (Array.isArray(value)) throw new InvalidRequest(`${name} must not be repeated`);
  return value === '' ? undefined : value;
}

/** RFC 6749 section 3.3: a space-delimited list, without duplicates; null when the parameter is absent. */
export function parseScope(raw: string | undefined): string[] | null {
  if (raw === undefined) return null;
  return [...new Set(raw.split(' ').filter(Boolean))];
}
