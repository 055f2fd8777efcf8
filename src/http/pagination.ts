// Keyset pagination with an opaque cursor (`limit`, `cursor` in; `next_cursor` out), stable under inserts.
import { InvalidRequest } from '../errors.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

interface CursorPosition {
  at: Date;
  id: string;
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.at.toISOString(), position.id])).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): CursorPosition | null {
  if (!cursor) return null;
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const date = new Date(at);
    if (typeof id !== 'string' || Number.isNaN(date.getTime())) throw new Error('bad cursor');
    return { at: date, id };
  } catch {
    throw InvalidRequest.field('query.cursor', 'is not a cursor this API returned');
  }
}

/** MikroORM condition for rows after the cursor in (createdAt, id) order; `direction` follows the sort. */
export function afterCursor(position: CursorPosition | null, direction: 'asc' | 'desc' = 'asc'): object {
  if (!position) return {};
  const op = direction === 'asc' ? '$gt' : '$lt';
  return { $or: [{ createdAt: { [op]: position.at } }, { createdAt: position.at, id: { [op]: position.id } }] };
}

/** Takes `limit + 1` rows and turns the extra one into the next cursor. */
export function toPage<T extends { createdAt: Date; id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor({ at: last.createdAt, id: last.id }) : null };
}

/** ISO 8601 UTC to the second, as the contract writes timestamps (`2026-03-24T10:00:00Z`). */
export function isoSeconds(date: Date): string;
export function isoSeconds(date: Date | null | undefined): string | null;
export function isoSeconds(date: Date | null | undefined): string | null {
  return date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : null;
}
