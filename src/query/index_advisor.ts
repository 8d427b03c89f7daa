/**
 * Index advice: the DDL of an expression index on a document path that the
 * query compiler's conditions can use, targeting the collection's table.
 *
 * @module
 */
import { qualify } from "../db/identifiers.ts";
import { parsePath } from "../schema/json_path.ts";

/** The advice for one path. */
export interface IndexAdvice {
  /** The index name. */
  readonly name: string;
  /** The `create index concurrently` statement. */
  readonly ddl: string;
  /** Which conditions it serves. */
  readonly serves: string;
}

/** FNV-1a, for short stable suffixes of long names. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

function indexName(collection: string, segments: readonly string[], suffix: string): string {
  const slug =
    segments.join("_").toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "") ||
    "field";
  const name = `${collection}_${slug}_${suffix}`;
  return name.length <= 63 ? name : `${name.slice(0, 54)}_${hash(name)}`;
}

/** A `text[]` literal as SQL text: `'{"a","b"}'`. */
function textArrayLiteral(segments: readonly string[]): string {
  const items = segments.map((s) => `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`);
  return `'${`{${items.join(",")}}`.replaceAll("'", "''")}'`;
}

/**
 * Advises an index for queries on a path of a collection.
 *
 * Without `gin`: a btree index on `(doc #> path)`, serving `in`, `gt`/`ge`/`lt`/`le`/
 * `between`, `orderBy` and `eq` on paths with array indexes. With `gin`: a GIN
 * `jsonb_path_ops` index on `(doc #> path)`, serving `contains` on it (`eq` on
 * key paths already uses the collection's GIN index).
 *
 * @example Advice for customers' email
 * ```ts
 * import { adviseIndex } from "./index_advisor.ts";
 *
 * console.log(adviseIndex("public", "customers", "email", { gin: false }).ddl);
 * // create index concurrently if not exists "customers_email_idx"
 * //   on "public"."customers" ((doc #> '{"email"}'));
 * ```
 *
 * @param schema The store's schema.
 * @param collection The collection.
 * @param path A dotted path.
 * @param options `gin` for containment queries.
 * @returns The advice.
 * @throws {TypeError} For an invalid schema, collection or path.
 */
export function adviseIndex(
  schema: string,
  collection: string,
  path: string,
  options: { gin: boolean },
): IndexAdvice {
  const table = qualify(schema, collection);
  const { segments } = parsePath(path);
  const expression = `(doc #> ${textArrayLiteral(segments)})`;
  const name = indexName(collection, segments, options.gin ? "gin" : "idx");
  const using = options.gin ? `using gin (${expression} jsonb_path_ops)` : `(${expression})`;
  return {
    name,
    ddl: `create index concurrently if not exists "${name}"\n  on ${table} ${using};`,
    serves: options.gin
      ? `contains("${path}", …)`
      : `in, gt, ge, lt, le, between and orderBy on "${path}"`,
  };
}
