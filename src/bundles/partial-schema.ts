// The partial schema (issue 15, "Partner self-service"): what a partner app may download of the GraphQL schema, for
// graphql-codegen and editors. It holds only what the app's persisted operations reach, with its descriptions and
// deprecation reasons, and nothing else: schema discovery stays off for partners (DESIGN), so a field, argument or
// type no approved operation touches is never shown.
//
// Built with graphql's own constructors rather than @graphql-tools/utils mapSchema + pruneSchema: pruning keeps
// whole types (every field of a type that is reached), while here a type keeps only the fields selected on it and
// a field only the arguments passed or required; that is a rebuild anyway, and graphql alone does it.
import {
  GraphQLDirective,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLSchema,
  GraphQLUnionType,
  Kind,
  TypeInfo,
  assertValidSchema,
  getNamedType,
  isAbstractType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isSpecifiedDirective,
  isSpecifiedScalarType,
  isUnionType,
  lexicographicSortSchema,
  printSchema,
  specifiedDirectives,
  specifiedRules,
  validate,
  visit,
  visitWithTypeInfo,
  GraphQLBoolean,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLArgument,
  type GraphQLArgumentConfig,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLFieldConfigMap,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLType,
} from 'graphql';
import { InvalidRequest } from '../errors.js';

/**
 * The field given to an object or interface type of which no operation selects a field (it is reached for
 * `__typename` only), and to a query root when the operations are all mutations: the GraphQL spec requires at
 * least one field on each (sections 3.6 and 3.3.1), and a real field there would show what the app does not use.
 */
export const PLACEHOLDER_FIELD = '_empty';
const PLACEHOLDER_DESCRIPTION =
  'Not part of the API: a GraphQL schema needs a field here, and none of this app\'s operations selects one.';

/** What the operations reach: the types kept and, of object and interface types, the fields and their arguments. */
interface Reach {
  types: Set<string>;
  /** object or interface type -> field -> the arguments kept */
  fields: Map<string, Map<string, Set<string>>>;
  /** union -> the members kept */
  members: Map<string, Set<string>>;
  /** custom (not specified) directive -> the arguments kept */
  directives: Map<string, Set<string>>;
  /** a fragment on an abstract type spread inside another abstract type: validity needs a type both hold */
  abstractPairs: Array<[string, string]>;
}

/**
 * The schema a partner app may see: the root types its operations use, with only the fields they select; of each
 * object or interface type reached, only the fields selected on it; of each field, the arguments passed and every
 * non-null one; input types whole (a client builds them), enums with all their values, scalars reached; of
 * unions and interfaces, only the possible types spread on. Types, fields and arguments are sorted, so the SDL of
 * the same operations is the same text (a stable ETag). Every document is checked to validate against it.
 */
export function partialSchema(schema: GraphQLSchema, documents: readonly DocumentNode[]): GraphQLSchema {
  for (const document of documents) {
    const errors = validate(schema, document, specifiedRules);
    if (errors.length) throw new InvalidRequest(`${operationNames(document)} does not validate against the schema: ${errors[0]!.message}`);
  }
  const reach = collect(schema, documents);
  close(schema, reach);
  const partial = lexicographicSortSchema(build(schema, reach));
  // The promise made to the partner: every one of its operations is valid against what it downloads.
  assertValidSchema(partial);
  for (const document of documents) {
    const errors = validate(partial, document, specifiedRules);
    if (errors.length) throw new Error(`the partial schema does not validate ${operationNames(document)}: ${errors.map((e) => e.message).join('; ')}`);
  }
  return partial;
}

/** The partial schema as SDL, with descriptions and deprecation reasons (graphql's `printSchema`). */
export function partialSdl(schema: GraphQLSchema, documents: readonly DocumentNode[]): string {
  return printSchema(partialSchema(schema, documents));
}

function operationNames(document: DocumentNode): string {
  const names = document.definitions.flatMap((d) => (d.kind === Kind.OPERATION_DEFINITION ? [d.name?.value ?? '(anonymous)'] : []));
  return names.length ? `operation ${names.join(', ')}` : 'a document without operations';
}

function add<T>(set: Set<T>, value: T): boolean {
  if (set.has(value)) return false;
  set.add(value);
  return true;
}

function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}

/** The arguments a call keeps: those passed, and every non-null one (the field cannot be called without it). */
function keptArguments(args: readonly GraphQLArgument[], passed: Iterable<string>): Set<string> {
  const kept = new Set(passed);
  for (const arg of args) if (isNonNullType(arg.type)) kept.add(arg.name);
  return kept;
}

/** Walks each document with TypeInfo and notes what it selects, passes and spreads. */
function collect(schema: GraphQLSchema, documents: readonly DocumentNode[]): Reach {
  const reach: Reach = { types: new Set(), fields: new Map(), members: new Map(), directives: new Map(), abstractPairs: [] };
  const relate = (parent: GraphQLCompositeType | null | undefined, condition: GraphQLNamedType | null | undefined) => {
    if (!parent || !condition || !isCompositeType(condition) || parent.name === condition.name) return;
    reach.types.add(parent.name);
    reach.types.add(condition.name);
    // An object spread inside a union (or a union spread inside an object) makes the object a member kept; an object
    // and an interface it implements are related through its kept interfaces when the schema is built.
    if (isUnionType(parent) && isObjectType(condition)) entry(reach.members, parent.name, () => new Set()).add(condition.name);
    else if (isObjectType(parent) && isUnionType(condition)) entry(reach.members, condition.name, () => new Set()).add(parent.name);
    else if (isAbstractType(parent) && isAbstractType(condition)) reach.abstractPairs.push([parent.name, condition.name]);
  };
  for (const document of documents) {
    const typeInfo = new TypeInfo(schema);
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    visit(
      document,
      visitWithTypeInfo(typeInfo, {
        OperationDefinition(node) {
          const root = schema.getRootType(node.operation);
          if (root) reach.types.add(root.name);
        },
        FragmentDefinition(node) {
          reach.types.add(node.typeCondition.name.value);
        },
        Field(node) {
          const parent = typeInfo.getParentType();
          const field = typeInfo.getFieldDef();
          // `__typename` needs nothing; introspection fields and types are in every schema already.
          if (!parent || !field || field.name.startsWith('__') || isIntrospectionType(parent) || isUnionType(parent)) return;
          const args = entry(entry(reach.fields, parent.name, () => new Map()), field.name, () => new Set<string>());
          for (const name of keptArguments(field.args, (node.arguments ?? []).map((a) => a.name.value))) args.add(name);
        },
        InlineFragment(node) {
          if (node.typeCondition) relate(typeInfo.getParentType(), getNamedType(typeInfo.getType()));
        },
        FragmentSpread(node) {
          const fragment = fragments.get(node.name.value);
          if (fragment) relate(typeInfo.getParentType(), schema.getType(fragment.typeCondition.name.value));
        },
        VariableDefinition() {
          const type = typeInfo.getInputType();
          if (type) reach.types.add(getNamedType(type).name);
        },
        Directive(node) {
          const directive = typeInfo.getDirective();
          if (!directive || isSpecifiedDirective(directive)) return;
          const args = entry(reach.directives, directive.name, () => new Set<string>());
          for (const name of keptArguments(directive.args, (node.arguments ?? []).map((a) => a.name.value))) args.add(name);
        },
      }),
    );
  }
  return reach;
}

/**
 * Grows what was collected until the result is a valid schema: the types of the fields and arguments kept (input
 * types whole), an interface's kept fields on each kept type implementing it, a covariant field's type in the union
 * it narrows, a type both sides of an abstract-in-abstract spread hold, a member for a union no operation spreads on.
 * Only grows sets, so it ends.
 */
function close(schema: GraphQLSchema, reach: Reach): void {
  const type = (name: string) => schema.getType(name)!;
  const keepInput = (input: GraphQLInputType): boolean => {
    const named = getNamedType(input);
    if (!add(reach.types, named.name)) return false;
    if (isInputObjectType(named)) for (const field of Object.values(named.getFields())) keepInput(field.type);
    return true;
  };
  for (const name of [...reach.types]) {
    const named = type(name);
    if (isInputObjectType(named)) {
      reach.types.delete(name);
      keepInput(named);
    }
  }
  for (const [name, args] of reach.directives) {
    const directive = schema.getDirective(name)!;
    for (const arg of directive.args) if (args.has(arg.name)) keepInput(arg.type);
  }
  const kept = (t: GraphQLNamedType) => reach.types.has(t.name);
  const members = (union: string) => entry(reach.members, union, () => new Set<string>());
  // A kept object is a possible type of a kept abstract type in the result when it is a kept member of the union,
  // or implements the interface (implementations of kept interfaces are kept).
  const possibleInResult = (abstract: GraphQLNamedType, object: GraphQLObjectType) =>
    kept(object) && (isUnionType(abstract) ? members(abstract.name).has(object.name) : object.getInterfaces().some((i) => i.name === abstract.name));

  let changed = true;
  while (changed) {
    changed = false;
    for (const name of [...reach.types]) {
      const composite = type(name);
      if (!isObjectType(composite) && !isInterfaceType(composite)) continue;
      const fields = entry(reach.fields, name, () => new Map<string, Set<string>>());
      // A type implementing a kept interface must have the interface's kept fields, with their arguments (spec 3.6.1).
      for (const implemented of composite.getInterfaces()) {
        if (!kept(implemented)) continue;
        for (const [field, args] of reach.fields.get(implemented.name) ?? []) {
          const own = entry(fields, field, () => new Set<string>());
          for (const arg of args) changed = add(own, arg) || changed;
          const narrowed = getNamedType(composite.getFields()[field]!.type);
          const declared = getNamedType(implemented.getFields()[field]!.type);
          if (isUnionType(declared) && narrowed.name !== declared.name) changed = add(members(declared.name), narrowed.name) || changed;
        }
      }
      for (const [fieldName, args] of fields) {
        const field = composite.getFields()[fieldName]!;
        changed = add(reach.types, getNamedType(field.type).name) || changed;
        for (const arg of field.args) if (args.has(arg.name)) changed = keepInput(arg.type) || changed;
      }
    }
    for (const [union, names] of reach.members) {
      changed = add(reach.types, union) || changed;
      for (const member of names) changed = add(reach.types, member) || changed;
    }
    for (const [parentName, conditionName] of reach.abstractPairs) {
      const parent = type(parentName);
      const condition = type(conditionName);
      if (!isAbstractType(parent) || !isAbstractType(condition)) continue;
      const both = schema
        .getPossibleTypes(parent)
        .filter((object) => schema.isSubType(condition, object))
        .sort((a, b) => a.name.localeCompare(b.name));
      if (both.some((object) => possibleInResult(parent, object) && possibleInResult(condition, object))) continue;
      const first = both[0];
      if (!first) continue;
      changed = add(reach.types, first.name) || changed;
      if (isUnionType(parent)) changed = add(members(parent.name), first.name) || changed;
      if (isUnionType(condition)) changed = add(members(condition.name), first.name) || changed;
    }
    for (const name of reach.types) {
      const union = type(name);
      if (!isUnionType(union) || members(name).size) continue;
      const first = [...union.getTypes()].sort((a, b) => a.name.localeCompare(b.name))[0];
      if (first) {
        members(name).add(first.name);
        changed = true;
      }
    }
  }
}

/** A new schema of the kept types, fields and arguments; it shares no type with the full schema but the spec's scalars. */
function build(schema: GraphQLSchema, reach: Reach): GraphQLSchema {
  const built = new Map<string, GraphQLNamedType>();
  const kept = (t: GraphQLNamedType) => reach.types.has(t.name);
  const queryRoot = schema.getQueryType()!;
  const queryKept = kept(queryRoot);
  const placeholder = { type: GraphQLBoolean, description: PLACEHOLDER_DESCRIPTION };
  const fieldsOf = (name: string) => reach.fields.get(name) ?? new Map<string, Set<string>>();
  // Zero fields kept gets the placeholder, and so does every kept type implementing such an interface.
  const needsPlaceholder = (t: GraphQLObjectType | GraphQLInterfaceType): boolean =>
    fieldsOf(t.name).size === 0 || t.getInterfaces().some((i) => kept(i) && fieldsOf(i.name).size === 0);

  const wrap = (t: GraphQLType): GraphQLType => {
    if (isNonNullType(t)) return new GraphQLNonNull(wrap(t.ofType));
    if (isListType(t)) return new GraphQLList(wrap(t.ofType));
    return named(t.name);
  };
  const args = (all: readonly GraphQLArgument[], keep: Set<string>) => {
    const config: Record<string, GraphQLArgumentConfig> = {};
    for (const arg of all) {
      if (!keep.has(arg.name)) continue;
      config[arg.name] = { type: wrap(arg.type) as GraphQLInputType, description: arg.description, defaultValue: arg.defaultValue, deprecationReason: arg.deprecationReason };
    }
    return config;
  };
  const fields = (t: GraphQLObjectType | GraphQLInterfaceType) => () => {
    const config: GraphQLFieldConfigMap<unknown, unknown> = {};
    const all = t.getFields();
    for (const [name, keptArgs] of [...fieldsOf(t.name)].sort(([a], [b]) => a.localeCompare(b))) {
      const field: GraphQLField<unknown, unknown> = all[name]!;
      config[name] = { type: wrap(field.type) as GraphQLOutputType, description: field.description, deprecationReason: field.deprecationReason, args: args(field.args, keptArgs) };
    }
    if (needsPlaceholder(t)) config[PLACEHOLDER_FIELD] = placeholder;
    return config;
  };
  const interfaces = (t: GraphQLObjectType | GraphQLInterfaceType) => () =>
    t.getInterfaces().filter(kept).map((i) => named(i.name) as GraphQLInterfaceType);

  function named(name: string): GraphQLNamedType {
    const existing = built.get(name);
    if (existing) return existing;
    const original = schema.getType(name)!;
    let result: GraphQLNamedType;
    if (isSpecifiedScalarType(original)) {
      // One instance per graphql module: the introspection types refer to these very objects.
      result = original;
    } else if (isScalarType(original)) {
      const { name, description, specifiedByURL, serialize, parseValue, parseLiteral } = original.toConfig();
      result = new GraphQLScalarType({ name, description, specifiedByURL, serialize, parseValue, parseLiteral });
    } else if (isEnumType(original)) {
      result = new GraphQLEnumType({
        name,
        description: original.description,
        values: Object.fromEntries(original.getValues().map((v) => [v.name, { value: v.value, description: v.description, deprecationReason: v.deprecationReason }])),
      });
    } else if (isInputObjectType(original)) {
      result = new GraphQLInputObjectType({
        name,
        description: original.description,
        isOneOf: original.isOneOf,
        fields: () =>
          Object.fromEntries(
            Object.values(original.getFields()).map((f) => [
              f.name,
              { type: wrap(f.type) as GraphQLInputType, description: f.description, defaultValue: f.defaultValue, deprecationReason: f.deprecationReason },
            ]),
          ),
      });
    } else if (isObjectType(original)) {
      result = new GraphQLObjectType({ name, description: original.description, interfaces: interfaces(original), fields: fields(original) });
    } else if (isInterfaceType(original)) {
      result = new GraphQLInterfaceType({ name, description: original.description, interfaces: interfaces(original), fields: fields(original) });
    } else {
      const union = original as GraphQLUnionType;
      const members = reach.members.get(name) ?? new Set<string>();
      result = new GraphQLUnionType({
        name,
        description: union.description,
        types: () => union.getTypes().filter((t) => members.has(t.name)).map((t) => named(t.name) as GraphQLObjectType),
      });
    }
    built.set(name, result);
    return result;
  }

  const types = [...reach.types].sort().map(named);
  const query = queryKept
    ? (named(queryRoot.name) as GraphQLObjectType)
    : new GraphQLObjectType({ name: queryRoot.name, description: queryRoot.description, fields: { [PLACEHOLDER_FIELD]: placeholder } });
  const root = (t: GraphQLObjectType | null | undefined) => (t && kept(t) ? (named(t.name) as GraphQLObjectType) : undefined);
  const directives = [...reach.directives]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, keep]) => {
      const directive = schema.getDirective(name)!;
      return new GraphQLDirective({ name, description: directive.description, locations: directive.locations, isRepeatable: directive.isRepeatable, args: args(directive.args, keep) });
    });
  return new GraphQLSchema({
    description: schema.description,
    query,
    mutation: root(schema.getMutationType()),
    subscription: root(schema.getSubscriptionType()),
    types: queryKept ? types : [query, ...types],
    directives: [...specifiedDirectives, ...directives],
  });
}
