/**
 * Optional JSON Schema validation of event data per event type and version.
 *
 * @module
 */
import { RillflowError } from "../errors.ts";
import { type CompiledSchema, compileJsonSchema, type JsonSchema } from "./json_schema.ts";
import { assertEventVersion } from "./new_event.ts";

/** One violation of an appended event's schema. */
export interface EventSchemaViolation {
  /** The event's index in the append. */
  readonly index: number;
  /** Its type. */
  readonly type: string;
  /** Its version. */
  readonly version: number;
  /** JSON Pointer into the event's data (`""` for the data itself). */
  readonly path: string;
  /** What is wrong. */
  readonly message: string;
}

/**
 * JSON Schemas for event data, by event type and version. Pass it as
 * `StoreOptions.eventSchemas`; appends of a registered type and version whose
 * data violates the schema raise `INVALID_INPUT` listing every violation
 * (in `details.violations`) and write nothing. Types without a schema are not
 * checked. Schemas registered after connecting apply from then on.
 *
 * Supported keywords: `type`, `enum`, `const`, `properties`, `required`,
 * `additionalProperties`, `items`, `minItems`, `maxItems`, `minimum`, `maximum`,
 * `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`, `pattern`;
 * annotations (`$schema`, `title`, `description`, `format`, …) are ignored;
 * any other keyword is a `TypeError` at registration.
 *
 * @example Reject orders without a positive total
 * ```ts
 * import { event, EventSchemas, Expected, RillflowError, Store } from "@rillflow/rillflow";
 *
 * const schemas = new EventSchemas().register("OrderPlaced", 1, {
 *   type: "object",
 *   required: ["total"],
 *   properties: { total: { type: "number", exclusiveMinimum: 0 } },
 * });
 * await using store = await Store.connect("pglite://memory", { eventSchemas: schemas });
 * try {
 *   await store.events.append(crypto.randomUUID(), Expected.any, [event("OrderPlaced", { total: 0 })]);
 * } catch (error) {
 *   if (error instanceof RillflowError) console.log(error.code); // INVALID_INPUT
 * }
 * ```
 */
export class EventSchemas {
  readonly #schemas = new Map<string, { schema: JsonSchema; check: CompiledSchema }>();

  /**
   * Registers (or replaces) the schema of one event type and version.
   *
   * @param type The event type.
   * @param version The data's schema version (a positive integer).
   * @param schema A JSON Schema of the supported subset.
   * @returns This registry.
   * @throws {TypeError} For an empty type, a bad version or an unsupported schema.
   */
  register(type: string, version: number, schema: JsonSchema): this {
    if (typeof type !== "string" || type.length === 0) {
      throw new TypeError("An event type must be a non-empty string");
    }
    assertEventVersion(type, version);
    this.#schemas.set(`${version}:${type}`, { schema, check: compileJsonSchema(schema) });
    return this;
  }

  /**
   * Lists the registered schemas.
   *
   * @returns Type, version and schema of each, sorted by type then version.
   */
  describe(): Array<{ type: string; version: number; schema: JsonSchema }> {
    return [...this.#schemas].map(([key, { schema }]) => {
      const colon = key.indexOf(":");
      return { type: key.slice(colon + 1), version: Number(key.slice(0, colon)), schema };
    }).sort((a, b) => a.type.localeCompare(b.type) || a.version - b.version);
  }

  /**
   * Validates data against the schema of its type and version.
   *
   * @param type The event type.
   * @param version The data's version.
   * @param data The data (as JSON would carry it).
   * @returns The violations; empty when valid or when no schema is registered.
   */
  validate(
    type: string,
    version: number,
    data: unknown,
  ): Array<{ path: string; message: string }> {
    return this.#schemas.get(`${version}:${type}`)?.check(data) ?? [];
  }

  /**
   * Whether a schema is registered.
   *
   * @param type The event type.
   * @param version The version.
   * @returns `true` when one is.
   */
  has(type: string, version: number): boolean {
    return this.#schemas.has(`${version}:${type}`);
  }
}

/**
 * Validates an append's events against the store's registered schemas.
 *
 * @param schemas The store's schemas (`eventSchemas`), if any.
 * @param types The events' types.
 * @param versions Their versions.
 * @param datas Their data as JSON text.
 * @throws {RillflowError} `INVALID_INPUT` listing every violation in `details.violations`.
 */
export function validateEventData(
  schemas: EventSchemas | undefined,
  types: readonly string[],
  versions: readonly number[],
  datas: readonly string[],
): void {
  if (!schemas) return;
  const violations: EventSchemaViolation[] = [];
  types.forEach((type, index) => {
    const version = versions[index]!;
    if (!schemas.has(type, version)) return;
    for (const v of schemas.validate(type, version, JSON.parse(datas[index]!))) {
      violations.push({ index, type, version, ...v });
    }
  });
  if (violations.length === 0) return;
  const listed = violations.slice(0, 10).map((v) =>
    `event ${v.index} (${v.type} v${v.version}) at ${v.path || "/"}: ${v.message}`
  );
  throw new RillflowError(
    "INVALID_INPUT",
    `Event data violates its schema: ${listed.join("; ")}${
      violations.length > 10 ? `; and ${violations.length - 10} more` : ""
    }`,
    { details: { violations } },
  );
}
