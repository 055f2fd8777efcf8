// JSON schemas every REST route shares: the error body, pagination, timestamps. They validate requests and
// feed the OpenAPI document (DESIGN "Conventions" 6).
import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** A plain JSON Schema `enum` (one clear error message), typed as the union of its values. */
export function stringEnum<T extends string>(values: readonly T[], options: { description?: string } = {}) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** ISO 8601 UTC to the second, as the contract writes timestamps. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2026-03-24T10:00:00Z'] });

export const ErrorBody = Type.Object(
  { error: Type.String(), error_description: Type.String() },
  { $id: 'Error', description: 'Every error: a stable code and a sentence naming what is wrong' },
);

/** The error answers a protected route may give, for its schema's `response`. */
export const errorResponses = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

/** `limit` and an opaque `cursor` in; the list and `next_cursor` out. */
export const Pagination = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type Pagination = Static<typeof Pagination>;

export const NextCursor = Nullable(Type.String());

/** The security requirement of a bearer-protected route in the OpenAPI document. */
export const bearerSecurity = [{ bearerAuth: [] }];
