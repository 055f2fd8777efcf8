// The error model (DESIGN "Errors"): one class per protocol error code, each with a stable string code,
// mapped to an HTTP response in exactly one place (`registerErrorHandler`). Third-party errors are turned
// into these at the boundary where they happen.
import type { FastifyError, FastifyInstance } from 'fastify';

export abstract class TesseraError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  /** Extra response headers, e.g. WWW-Authenticate or Retry-After. */
  headers: Record<string, string> = {};
  constructor(readonly description: string) {
    super(description);
  }
}

export class InvalidRequest extends TesseraError {
  readonly code = 'invalid_request';
  readonly status = 400;
}

/** A scope that is unknown, unpublished or not approved for the app (RFC 6749 section 5.2 uses the same code). */
export class InvalidScope extends TesseraError {
  readonly code = 'invalid_scope';
  readonly status = 400;
}

/** RFC 6750 section 3.1: the token is missing, malformed, expired, revoked or not ours. */
export class Unauthorized extends TesseraError {
  readonly code = 'unauthorized';
  readonly status = 401;
  constructor(description: string, bearerError?: 'invalid_token' | 'invalid_request') {
    super(description);
    // A request without any credentials gets a bare challenge (RFC 6750 section 3.1, last paragraph).
    this.headers['www-authenticate'] = bearerError
      ? `Bearer error="${bearerError}", error_description="${description.replace(/"/g, "'")}"`
      : 'Bearer';
  }
}

export class Forbidden extends TesseraError {
  readonly code = 'forbidden';
  readonly status = 403;
  /** RFC 6750 section 3.1 insufficient_scope, naming the scope the route needs. */
  static missingScope(scope: string): Forbidden {
    const error = new Forbidden(`this action needs the scope ${scope}`);
    error.headers['www-authenticate'] = `Bearer error="insufficient_scope", scope="${scope}"`;
    return error;
  }
}

// OAuth 2 error codes (RFC 6749 section 5.2 and 4.1.2.1), same body shape as every other error.

/** Client authentication failed: 401 with a Basic challenge (section 5.2), whichever method was tried. */
export class InvalidClient extends TesseraError {
  readonly code = 'invalid_client';
  readonly status = 401;
  constructor(description: string) {
    super(description);
    this.headers['www-authenticate'] = 'Basic realm="tessera", charset="UTF-8"';
  }
}

export class InvalidGrant extends TesseraError {
  readonly code = 'invalid_grant';
  readonly status = 400;
}

export class UnauthorizedClient extends TesseraError {
  readonly code = 'unauthorized_client';
  readonly status = 400;
}

export class UnsupportedGrantType extends TesseraError {
  readonly code = 'unsupported_grant_type';
  readonly status = 400;
}

export class UnsupportedResponseType extends TesseraError {
  readonly code = 'unsupported_response_type';
  readonly status = 400;
}

export class AccessDenied extends TesseraError {
  readonly code = 'access_denied';
  readonly status = 403;
}

export class NotFound extends TesseraError {
  readonly code = 'not_found';
  readonly status = 404;
}

export class Conflict extends TesseraError {
  readonly code = 'conflict';
  readonly status = 409;
}

export class RateLimited extends TesseraError {
  readonly code = 'rate_limited';
  readonly status = 429;
  constructor(description: string, retryAfterSeconds: number) {
    super(description);
    this.headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}

export class ServerError extends TesseraError {
  readonly code = 'server_error';
  readonly status = 500;
}

export interface ErrorBody {
  error: string;
  error_description: string;
}

/** Turns Ajv's messages into one sentence naming the field, e.g. "body.redirect_uris[0] must match format uri". */
function describeValidation(error: FastifyError): string {
  const context = error.validationContext ?? 'request';
  const parts = (error.validation ?? []).map((v) => {
    const path = `${context}${v.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')}`;
    const params = v.params as Record<string, unknown>;
    if (v.keyword === 'additionalProperties') return `${path} has unknown field '${params.additionalProperty}'`;
    if (v.keyword === 'required') return `${path}.${params.missingProperty} is required`;
    if (v.keyword === 'enum') return `${path} must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
    return `${path} ${v.message}`;
  });
  return parts.length ? parts.join('; ') : error.message;
}

export function toResponse(error: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (error instanceof TesseraError) {
    return { status: error.status, body: { error: error.code, error_description: error.description }, headers: error.headers };
  }
  const fastifyError = error as FastifyError;
  if (fastifyError?.validation) {
    return { status: 400, body: { error: 'invalid_request', error_description: describeValidation(fastifyError) }, headers: {} };
  }
  // Fastify's own 4xx (malformed JSON, unsupported media type, body too large) are safe to explain.
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = status === 415 ? 'unsupported_media_type' : status === 413 ? 'payload_too_large' : 'invalid_request';
    return { status, body: { error: code, error_description: fastifyError.message }, headers: {} };
  }
  return { status: 500, body: { error: 'server_error', error_description: 'an unexpected error occurred' }, headers: {} };
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const response = toResponse(error);
    if (response.status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(response.status).headers(response.headers).send(response.body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', error_description: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
}
