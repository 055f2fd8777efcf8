// The kinds of integration request (the contract: "curated GraphQL bundles, platform access, enterprise federation or
// sandbox onboarding", and more scopes for the tenant), each with its own fields, sent beside `kind` and
// `justification` in one flat body. What is checked here needs no database; the service checks the rest (the bundle
// is published, the app is the tenant's, the scopes are published).
import { InvalidRequest } from '../errors.js';
import { TENANT_SLUG } from '../tenancy/service.js';
import type { RequestKind } from './entities.js';

/** The body of POST /v1/platform/integration-requests, every kind's fields optional (schemas.ts). */
export interface RequestBody {
  kind: RequestKind;
  justification: string;
  bundle?: string;
  client_id?: string;
  scopes?: string[];
  protocol?: 'saml' | 'oidc';
  domain?: string;
  name?: string;
  slug?: string;
  admin_email?: string;
  capability?: string;
}

type DetailField = Exclude<keyof RequestBody, 'kind' | 'justification'>;

/** Each kind's fields: those it needs and those it may have. */
export const KIND_FIELDS: Record<RequestKind, { required: DetailField[]; optional: DetailField[] }> = {
  bundle: { required: ['bundle'], optional: ['client_id'] },
  scopes: { required: ['scopes'], optional: [] },
  federation: { required: ['protocol', 'domain'], optional: [] },
  sandbox: { required: ['name'], optional: ['slug', 'admin_email'] },
  platform_access: { required: ['capability'], optional: [] },
};

const DETAIL_FIELDS: DetailField[] = ['bundle', 'client_id', 'scopes', 'protocol', 'domain', 'name', 'slug', 'admin_email', 'capability'];

/** A DNS name of two labels or more (RFC 1123), as a tenant's email or sign-in domain is written. */
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * The kind's details from the body: a field of another kind, or a missing one, is refused naming it. Text is trimmed
 * and names lowercased, as they are compared later.
 */
export function detailsOf(body: RequestBody): Record<string, unknown> {
  const { required, optional } = KIND_FIELDS[body.kind];
  const allowed = new Set<DetailField>([...required, ...optional]);
  for (const field of DETAIL_FIELDS) {
    if (body[field] !== undefined && !allowed.has(field)) {
      throw InvalidRequest.field(`body.${field}`, `is not a field of a ${body.kind} request (it takes ${[...allowed].join(', ')})`);
    }
  }
  for (const field of required) {
    if (body[field] === undefined) throw InvalidRequest.field(`body.${field}`, `is required for a ${body.kind} request`);
  }
  switch (body.kind) {
    case 'bundle':
      return { bundle: body.bundle!, ...(body.client_id !== undefined ? { client_id: body.client_id } : {}) };
    case 'scopes':
      return { scopes: [...body.scopes!].sort() };
    case 'federation': {
      const domain = body.domain!.trim().toLowerCase();
      if (!DOMAIN.test(domain)) throw InvalidRequest.field('body.domain', 'must be a domain name, e.g. acme.example');
      return { protocol: body.protocol!, domain };
    }
    case 'sandbox': {
      if (!body.name!.trim()) throw InvalidRequest.field('body.name', 'must not be empty');
      if (body.slug !== undefined && !TENANT_SLUG.test(body.slug)) throw InvalidRequest.field('body.slug', 'must be 2-63 lowercase letters, digits or dashes, starting with a letter or digit');
      if (body.admin_email !== undefined && !EMAIL.test(body.admin_email.trim())) throw InvalidRequest.field('body.admin_email', 'must be an email address');
      return {
        name: body.name!.trim(),
        ...(body.slug !== undefined ? { slug: body.slug } : {}),
        ...(body.admin_email !== undefined ? { admin_email: body.admin_email.trim().toLowerCase() } : {}),
      };
    }
    case 'platform_access': {
      if (!body.capability!.trim()) throw InvalidRequest.field('body.capability', 'must not be empty');
      return { capability: body.capability!.trim() };
    }
  }
}
