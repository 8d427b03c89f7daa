/**
 * A small JSON Schema validator for the subset event payloads need: `type`,
 * `enum`, `const`, `properties`, `required`, `additionalProperties`, `items`,
 * `minItems`/`maxItems`, `minimum`/`maximum`, `exclusiveMinimum`/
 * `exclusiveMaximum`, `minLength`/`maxLength` and `pattern`. Annotations
 * (`$schema`, `$id`, `title`, `description`, `default`, `examples`, `format`, …)
 * are accepted and ignored; any other keyword is rejected when the schema is
 * compiled, so a schema never silently checks less than it says.
 *
 * @module
 */

/** A JSON type name. */
export type JsonTypeName =
  | "string"
  | "number"
  | "integer"
  | "boolean"
  | "object"
  | "array"
  | "null";

/** The supported JSON Schema subset. */
export interface JsonSchema {
  /** The value's JSON type, or one of several. */
  type?: JsonTypeName | JsonTypeName[];
  /** The value must equal one of these. */
  enum?: unknown[];
  /** The value must equal this. */
  const?: unknown;
  /** Schemas of the object's properties, by name. */
  properties?: Record<string, JsonSchema>;
  /** Property names the object must have. */
  required?: string[];
  /** Whether (or under which schema) properties not listed in `properties` are allowed. */
  additionalProperties?: boolean | JsonSchema;
  /** The schema of every array item. */
  items?: JsonSchema;
  /** The fewest array items. */
  minItems?: number;
  /** The most array items. */
  maxItems?: number;
  /** The smallest number allowed. */
  minimum?: number;
  /** The largest number allowed. */
  maximum?: number;
  /** Numbers must be greater than this. */
  exclusiveMinimum?: number;
  /** Numbers must be less than this. */
  exclusiveMaximum?: number;
  /** The fewest characters (code points) of a string. */
  minLength?: number;
  /** The most characters (code points) of a string. */
  maxLength?: number;
  /** A regular expression (Unicode) strings must match. */
  pattern?: string;
  /** Annotation, ignored. */
  $schema?: string;
  /** Annotation, ignored. */
  $id?: string;
  /** Annotation, ignored. */
  $comment?: string;
  /** Annotation, ignored. */
  title?: string;
  /** Annotation, ignored. */
  description?: string;
  /** Annotation, ignored. */
  default?: unknown;
  /** Annotation, ignored. */
  examples?: unknown[];
  /** Annotation, ignored (formats are not asserted). */
  format?: string;
  /** Annotation, ignored. */
  deprecated?: boolean;
  /** Annotation, ignored. */
  readOnly?: boolean;
  /** Annotation, ignored. */
  writeOnly?: boolean;
}

/** One way a value breaks a schema. */
export interface SchemaViolation {
  /** JSON Pointer to the offending value (`""` for the root). */
  readonly path: string;
  /** What is wrong. */
  readonly message: string;
}

const ANNOTATIONS = new Set([
  "$schema",
  "$id",
  "$comment",
  "title",
  "description",
  "default",
  "examples",
  "format",
  "deprecated",
  "readOnly",
  "writeOnly",
]);
const TYPES = new Set(["string", "number", "integer", "boolean", "object", "array", "null"]);
const NUMERIC = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] as const;
const COUNTS = ["minItems", "maxItems", "minLength", "maxLength"] as const;

/** A compiled schema: validates values, reporting every violation. */
export type CompiledSchema = (value: unknown) => SchemaViolation[];

type Check = (value: unknown, path: string, out: SchemaViolation[]) => void;

function fail(where: string, message: string): never {
  throw new TypeError(`Invalid JSON Schema at ${where || "the root"}: ${message}`);
}

function typeOf(value: unknown): JsonTypeName | "other" {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  switch (typeof value) {
    case "string":
      return "string";
    case "boolean":
      return "boolean";
    case "number":
      return Number.isInteger(value) ? "integer" : "number";
    case "object":
      return "object";
    default:
      return "other";
  }
}

function matchesType(value: unknown, type: JsonTypeName): boolean {
  const actual = typeOf(value);
  return actual === type || (type === "number" && actual === "integer");
}

function equalJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

const pointer = (path: string, key: string | number) =>
  `${path}/${String(key).replaceAll("~", "~0").replaceAll("/", "~1")}`;

function typeCheck(schema: JsonSchema, where: string): Check | undefined {
  if (schema.type === undefined) return undefined;
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.length === 0 || types.some((t) => !TYPES.has(t))) {
    fail(where, `"type" must name one or more of ${[...TYPES].join(", ")}`);
  }
  return (value, path, out) => {
    if (!types.some((t) => matchesType(value, t))) {
      out.push({ path, message: `must be of type ${types.join(" or ")}, got ${typeOf(value)}` });
    }
  };
}

function valueChecks(schema: JsonSchema, where: string): Check[] {
  const checks: Check[] = [];
  if (schema.enum !== undefined) {
    if (!Array.isArray(schema.enum)) fail(where, `"enum" must be an array`);
    const allowed = schema.enum;
    checks.push((value, path, out) => {
      if (!allowed.some((a) => equalJson(a, value))) {
        out.push({ path, message: `must be one of ${JSON.stringify(allowed)}` });
      }
    });
  }
  if ("const" in schema) {
    const expected = schema.const;
    checks.push((value, path, out) => {
      if (!equalJson(expected, value)) {
        out.push({ path, message: `must equal ${JSON.stringify(expected)}` });
      }
    });
  }
  return checks;
}

function numberChecks(schema: JsonSchema, where: string): Check[] {
  const checks: Check[] = [];
  for (const keyword of NUMERIC) {
    const bound = schema[keyword];
    if (bound === undefined) continue;
    if (typeof bound !== "number" || !Number.isFinite(bound)) {
      fail(where, `"${keyword}" must be a number`);
    }
    const [ok, words] = {
      minimum: [(v: number) => v >= bound, ">="],
      maximum: [(v: number) => v <= bound, "<="],
      exclusiveMinimum: [(v: number) => v > bound, ">"],
      exclusiveMaximum: [(v: number) => v < bound, "<"],
    }[keyword] as [(v: number) => boolean, string];
    checks.push((value, path, out) => {
      if (typeof value === "number" && !ok(value)) {
        out.push({ path, message: `must be ${words} ${bound}` });
      }
    });
  }
  return checks;
}

function countChecks(schema: JsonSchema, where: string): Check[] {
  const checks: Check[] = [];
  for (const keyword of COUNTS) {
    const bound = schema[keyword];
    if (bound === undefined) continue;
    if (!Number.isSafeInteger(bound) || bound < 0) {
      fail(where, `"${keyword}" must be a non-negative integer`);
    }
    const strings = keyword.endsWith("Length");
    const min = keyword.startsWith("min");
    const noun = strings ? "characters" : "items";
    checks.push((value, path, out) => {
      const size = strings
        ? (typeof value === "string" ? [...value].length : undefined)
        : (Array.isArray(value) ? value.length : undefined);
      if (size !== undefined && (min ? size < bound : size > bound)) {
        out.push({ path, message: `must have ${min ? "at least" : "at most"} ${bound} ${noun}` });
      }
    });
  }
  if (schema.pattern !== undefined) {
    let regex: RegExp;
    try {
      regex = new RegExp(schema.pattern, "u");
    } catch {
      fail(where, `"pattern" is not a valid regular expression`);
    }
    checks.push((value, path, out) => {
      if (typeof value === "string" && !regex.test(value)) {
        out.push({ path, message: `must match pattern ${schema.pattern}` });
      }
    });
  }
  return checks;
}

function objectChecks(schema: JsonSchema, where: string): Check[] {
  const { properties, required, additionalProperties } = schema;
  if (properties !== undefined && (properties === null || typeof properties !== "object")) {
    fail(where, `"properties" must be an object`);
  }
  if (
    required !== undefined &&
    (!Array.isArray(required) || required.some((r) => typeof r !== "string"))
  ) {
    fail(where, `"required" must be an array of strings`);
  }
  const compiled = Object.entries(properties ?? {}).map(([key, sub]) =>
    [key, compileAt(sub, pointer(where, "properties") + pointer("", key))] as const
  );
  const extra = typeof additionalProperties === "object"
    ? compileAt(additionalProperties, `${where}/additionalProperties`)
    : undefined;
  if (additionalProperties !== undefined && typeof additionalProperties !== "boolean" && !extra) {
    fail(where, `"additionalProperties" must be a boolean or a schema`);
  }
  if (!compiled.length && !required?.length && additionalProperties === undefined) return [];
  return [(value, path, out) => {
    if (typeOf(value) !== "object") return;
    const record = value as Record<string, unknown>;
    for (const key of required ?? []) {
      if (!Object.hasOwn(record, key)) out.push({ path, message: `must have property "${key}"` });
    }
    for (const [key, check] of compiled) {
      if (Object.hasOwn(record, key)) check(record[key], pointer(path, key), out);
    }
    if (additionalProperties === undefined || additionalProperties === true) return;
    for (const key of Object.keys(record)) {
      if (properties && Object.hasOwn(properties, key)) continue;
      if (extra) extra(record[key], pointer(path, key), out);
      else out.push({ path: pointer(path, key), message: "is not an allowed property" });
    }
  }];
}

function arrayChecks(schema: JsonSchema, where: string): Check[] {
  if (schema.items === undefined) return [];
  if (schema.items === null || typeof schema.items !== "object" || Array.isArray(schema.items)) {
    fail(where, `"items" must be a schema (tuple form is not supported)`);
  }
  const item = compileAt(schema.items, `${where}/items`);
  return [(value, path, out) => {
    if (Array.isArray(value)) value.forEach((v, i) => item(v, pointer(path, i), out));
  }];
}

const KNOWN = new Set([
  "type",
  "enum",
  "const",
  "properties",
  "required",
  "additionalProperties",
  "items",
  ...NUMERIC,
  ...COUNTS,
  "pattern",
]);

function compileAt(schema: JsonSchema, where: string): Check {
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) {
    fail(where, "a schema must be an object");
  }
  for (const keyword of Object.keys(schema)) {
    if (!KNOWN.has(keyword) && !ANNOTATIONS.has(keyword)) {
      fail(where, `keyword "${keyword}" is not supported (supported: ${[...KNOWN].join(", ")})`);
    }
  }
  const type = typeCheck(schema, where);
  const checks = [
    ...valueChecks(schema, where),
    ...numberChecks(schema, where),
    ...countChecks(schema, where),
    ...objectChecks(schema, where),
    ...arrayChecks(schema, where),
  ];
  return (value, path, out) => {
    if (type) {
      const before = out.length;
      type(value, path, out);
      if (out.length > before) return;
    }
    for (const check of checks) check(value, path, out);
  };
}

/**
 * Compiles a schema of the supported subset.
 *
 * @param schema The schema.
 * @returns A function listing the violations of a value (empty when valid).
 * @throws {TypeError} For a malformed schema or an unsupported keyword.
 */
export function compileJsonSchema(schema: JsonSchema): CompiledSchema {
  const check = compileAt(schema, "");
  return (value) => {
    const out: SchemaViolation[] = [];
    check(value, "", out);
    return out;
  };
}
