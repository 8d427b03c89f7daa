/**
 * What `store.schema.sync(config)` sets up beyond the migrations: collections,
 * duplicated fields, full-text language and history tables.
 *
 * @module
 */
import { validateIdentifier } from "../db/identifiers.ts";
import { type JsonPath, parsePath } from "./json_path.ts";
import { validateCollectionName } from "./collection_name.ts";

/** The column types a duplicated field can have. */
export const DUPLICATED_FIELD_TYPES = [
  "text",
  "integer",
  "bigint",
  "numeric",
  "boolean",
  "timestamptz",
  "uuid",
  "jsonb",
] as const;

/** A duplicated field's column type. */
export type DuplicatedFieldType = typeof DUPLICATED_FIELD_TYPES[number];

/** Columns every collection table has; a duplicated field cannot reuse them. */
const RESERVED_COLUMNS = new Set([
  "id",
  "doc",
  "version",
  "created_at",
  "updated_at",
  "deleted_at",
  "created_by",
  "last_modified_by",
  "search_vector",
]);

/** Characters a transform may use besides `{value}`: names, calls, casts. No quotes or comments. */
const TRANSFORM_TEXT = /^[a-z0-9_ (),:]*$/;

/**
 * A JSON path copied into a typed column of the collection table, kept in
 * sync by a trigger, indexed by default. Queries on that path use the column.
 *
 * @example Index customers by lower-cased email
 * ```ts
 * import { DuplicatedField, SchemaConfig, Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory");
 * await store.schema.sync(
 *   SchemaConfig.singleTenant().addDuplicatedField(
 *     "customers",
 *     new DuplicatedField("profile.email", "email", "text").withTransform("lower({value})"),
 *   ),
 * );
 * ```
 */
export class DuplicatedField {
  /** The path as parsed. */
  readonly path: JsonPath;
  /** Whether the column gets an index (btree; GIN for `jsonb`). */
  readonly indexed: boolean;
  /** SQL applied to the value, with `{value}` standing for it (`lower({value})`), or `null`. */
  readonly transform: string | null;

  /**
   * Describes a duplicated field; `store.schema.sync(config)` creates it.
   *
   * @param jsonPath The dotted path in the document (`profile.email`, `items[0].sku`).
   * @param column The column name (lowercase identifier, not a built-in column).
   * @param type The column type.
   * @param options Whether it is indexed (default true) and its transform (default none).
   * @throws {TypeError} For an invalid path, column name or type.
   */
  constructor(
    readonly jsonPath: string,
    readonly column: string,
    readonly type: DuplicatedFieldType,
    options: { indexed?: boolean; transform?: string | null } = {},
  ) {
    this.path = parsePath(jsonPath);
    validateIdentifier(column, "duplicated field column");
    if (RESERVED_COLUMNS.has(column)) {
      throw new TypeError(
        `Invalid duplicated field column name "${column}": it is a built-in column of every collection`,
      );
    }
    if (!(DUPLICATED_FIELD_TYPES as readonly string[]).includes(type)) {
      throw new TypeError(
        `Invalid duplicated field type ${JSON.stringify(type)}: use one of ${
          DUPLICATED_FIELD_TYPES.join(", ")
        }`,
      );
    }
    this.indexed = options.indexed ?? true;
    this.transform = options.transform ?? null;
    if (this.transform !== null) validateTransform(this.transform);
  }

  /**
   * Sets whether the column is indexed (it is by default).
   *
   * @param indexed `false` to drop the index.
   * @returns A new field.
   */
  withIndexed(indexed = true): DuplicatedField {
    return new DuplicatedField(this.jsonPath, this.column, this.type, {
      indexed,
      transform: this.transform,
    });
  }

  /**
   * Applies SQL to the value before it is stored, and to compared values in queries.
   *
   * @param sqlTemplate SQL with `{value}` for the value, such as `lower({value})`; only
   *   lowercase names, digits, `_`, spaces, parentheses, commas and `::` casts are allowed.
   * @returns A new field.
   * @throws {TypeError} When the template lacks `{value}` or uses other characters.
   */
  withTransform(sqlTemplate: string): DuplicatedField {
    return new DuplicatedField(this.jsonPath, this.column, this.type, {
      indexed: this.indexed,
      transform: sqlTemplate,
    });
  }
}

function validateTransform(template: unknown): void {
  if (
    typeof template !== "string" || !template.includes("{value}") ||
    !TRANSFORM_TEXT.test(template.replaceAll("{value}", ""))
  ) {
    throw new TypeError(
      `Invalid transform ${JSON.stringify(template)}: it must contain {value} and only ` +
        "lowercase names, digits, _, spaces, parentheses, commas and :: casts, such as lower({value})",
    );
  }
}

/** What a {@linkcode SchemaConfig} asks of one collection. */
export interface CollectionConfig {
  /** The collection. */
  readonly name: string;
  /** Its duplicated fields, by column. */
  readonly fields: readonly DuplicatedField[];
  /** The text search configuration of its `search_vector` column, when set. */
  readonly searchLanguage?: string;
  /** Whether past versions are kept in `<collection>_history`. */
  readonly history: boolean;
}

/**
 * Collections and their settings, applied by `store.schema.sync(config)`.
 * Immutable: each method returns a new config. Sync only adds: a field or
 * collection left out of a later config is kept.
 *
 * @example Two duplicated fields, English search and history
 * ```ts
 * import { DuplicatedField, SchemaConfig } from "@rillflow/rillflow";
 *
 * const config = SchemaConfig.singleTenant()
 *   .addDuplicatedField("customers", new DuplicatedField("email", "email", "text"))
 *   .addDuplicatedField("customers", new DuplicatedField("age", "age", "integer"))
 *   .withSearchLanguage("customers", "english")
 *   .withHistory("customers");
 * console.log(config.collections.map((c) => c.name)); // ["customers"]
 * ```
 */
export class SchemaConfig {
  /** The configured collections, in the order first named. */
  readonly collections: readonly CollectionConfig[];

  private constructor(collections: readonly CollectionConfig[]) {
    this.collections = Object.freeze(collections);
  }

  /**
   * An empty config for a store whose tables live in one schema.
   *
   * @returns The config.
   */
  static singleTenant(): SchemaConfig {
    return new SchemaConfig([]);
  }

  /**
   * Makes sure a collection exists (its table is created by sync).
   *
   * @param collection The collection name.
   * @returns A new config.
   * @throws {TypeError} For an invalid collection name.
   */
  addCollection(collection: string): SchemaConfig {
    return this.#with(collection, (c) => c);
  }

  /**
   * Adds a duplicated field to a collection; a field with the same column replaces it.
   *
   * @param collection The collection name.
   * @param field The field.
   * @returns A new config.
   * @throws {TypeError} For an invalid collection name or a field that is not a DuplicatedField.
   */
  addDuplicatedField(collection: string, field: DuplicatedField): SchemaConfig {
    if (!(field instanceof DuplicatedField)) {
      throw new TypeError("addDuplicatedField() needs a DuplicatedField");
    }
    return this.#with(collection, (c) => ({
      ...c,
      fields: [...c.fields.filter((f) => f.column !== field.column), field],
    }));
  }

  /**
   * Sets the text search configuration of a collection's `search_vector` column
   * (`english` by default). Changing it rewrites the table.
   *
   * @param collection The collection name.
   * @param language A text search configuration name (`english`, `simple`, `german`, …).
   * @returns A new config.
   * @throws {TypeError} For an invalid collection or language name.
   */
  withSearchLanguage(collection: string, language: string): SchemaConfig {
    validateIdentifier(language, "text search language");
    return this.#with(collection, (c) => ({ ...c, searchLanguage: language }));
  }

  /**
   * Keeps every replaced or deleted version of a collection's documents in
   * `<collection>_history` (written by a trigger); read them with `history(id)`.
   *
   * @param collection The collection name.
   * @returns A new config.
   * @throws {TypeError} For an invalid collection name.
   */
  withHistory(collection: string): SchemaConfig {
    return this.#with(collection, (c) => ({ ...c, history: true }));
  }

  #with(collection: string, change: (c: CollectionConfig) => CollectionConfig): SchemaConfig {
    validateCollectionName(collection);
    const existing = this.collections.find((c) => c.name === collection) ??
      { name: collection, fields: [], history: false };
    const changed = change(existing);
    const others = this.collections.filter((c) => c.name !== collection);
    const index = this.collections.indexOf(existing);
    return new SchemaConfig(
      index < 0 ? [...others, changed] : this.collections.map((c) => c === existing ? changed : c),
    );
  }
}
