// How requests are validated against their JSON schemas (Ajv, through Fastify's own compiler): a JSON body is
// typed strictly, as it was sent, while path and query parameters, which arrive as text, are coerced to the
// schema's types ("20" is the integer 20, a single value an array of one). Unknown fields are refused, not
// dropped; defaults are filled in.
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';

const common = { removeAdditional: false, useDefaults: true, allErrors: false };

interface CompilerOptions {
  customOptions?: object;
  plugins?: unknown[];
}
type Compile = (route: { httpPart?: string; schema: unknown; method: string; url: string }) => unknown;
type BuildFromPool = (externalSchemas: unknown, options: CompilerOptions) => Compile;

function buildValidator(externalSchemas: unknown, serverOptions: CompilerOptions = {}): Compile {
  const fromPool = AjvCompiler() as unknown as BuildFromPool;
  const compiler = (coerceTypes: boolean | 'array') => fromPool(externalSchemas, { ...serverOptions, customOptions: { ...serverOptions.customOptions, ...common, coerceTypes } });
  const strict = compiler(false);
  const coercing = compiler('array');
  return (route) => (route.httpPart === 'body' ? strict : coercing)(route);
}

export const schemaController = { compilersFactory: { buildValidator } } as unknown as FastifyServerOptions['schemaController'];
