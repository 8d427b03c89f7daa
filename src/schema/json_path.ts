/**
 * JSON paths in documents: dotted keys with array indexes (`profile.age`,
 * `items[2].qty`). A path is always sent to the database as a `text[]`
 * parameter, never spliced into SQL text.
 *
 * @module
 */

/** A parsed JSON path: its segments and, per segment, whether it is a key or an array index. */
export interface JsonPath {
  /** The path as written. */
  readonly text: string;
  /** The segments, array indexes as decimal strings (`["items", "2", "qty"]`). */
  readonly segments: readonly string[];
  /** One letter per segment: `k` for an object key, `i` for an array index. */
  readonly kinds: string;
  /** A key equal for equal paths (see {@linkcode pathKey}). */
  readonly key: string;
}

// Control characters are refused in keys: they cannot be typed in a dotted path by intent.
// deno-lint-ignore no-control-regex
const PART = /^([^.[\]\u0000-\u001f]+)((?:\[\d{1,9}\])*)$/;
const INDEX = /\[(\d{1,9})\]/g;

function invalid(path: unknown, why: string): TypeError {
  return new TypeError(
    `Invalid JSON path ${JSON.stringify(path)}: ${why} (use dotted keys with array indexes, ` +
      `such as "profile.age" or "items[2].qty")`,
  );
}

/**
 * Parses a dotted JSON path.
 *
 * Keys may hold any character except `.`, `[`, `]` and control characters;
 * indexes are non-negative integers in brackets after a key.
 *
 * @example Parse a path with an array index
 * ```ts
 * import { parsePath } from "./json_path.ts";
 *
 * const path = parsePath("items[2].qty");
 * console.log(path.segments, path.kinds); // ["items", "2", "qty"] "kik"
 * ```
 *
 * @param path The path.
 * @returns The parsed path.
 * @throws {TypeError} When the path is not a string, is empty or malformed.
 */
export function parsePath(path: unknown): JsonPath {
  if (typeof path !== "string") throw invalid(path, "a path must be a string");
  const cached = parsed.get(path);
  if (cached) return cached;
  const result = parseUncached(path);
  // Paths repeat (the same fields are queried again and again); bound the cache all the same.
  if (parsed.size >= 1_000) parsed.clear();
  parsed.set(path, result);
  return result;
}

const parsed = new Map<string, JsonPath>();

function parseUncached(path: string): JsonPath {
  if (path.length === 0) throw invalid(path, "a path must not be empty");
  if (path.length > 1000) {
    throw invalid(path.slice(0, 40) + "…", "a path is at most 1000 characters");
  }
  const segments: string[] = [];
  let kinds = "";
  for (const part of path.split(".")) {
    const match = PART.exec(part);
    if (!match) {
      throw invalid(
        path,
        part === "" ? "empty segment" : `malformed segment ${JSON.stringify(part)}`,
      );
    }
    segments.push(match[1]!);
    kinds += "k";
    for (const index of match[2]!.matchAll(INDEX)) {
      segments.push(String(Number(index[1])));
      kinds += "i";
    }
  }
  return Object.freeze({
    text: path,
    segments: Object.freeze(segments),
    kinds,
    key: JSON.stringify([segments, kinds]),
  });
}

/**
 * Tells whether a path has only object keys (no array index), so that a
 * condition on it can be written as JSON containment (`doc @> …`) and use the
 * collection's GIN index.
 *
 * @param path The parsed path.
 * @returns `true` when every segment is a key.
 */
export function isKeyPath(path: JsonPath): boolean {
  return !path.kinds.includes("i");
}

/**
 * Wraps a value in the objects a key path names: `profile.age`, 31 → `{"profile":{"age":31}}`.
 *
 * @param path A key-only path.
 * @param value The innermost value.
 * @returns The nested object.
 */
export function nestUnder(path: JsonPath, value: unknown): unknown {
  return path.segments.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);
}

/**
 * A key identifying a path's structure, for matching query paths to duplicated fields.
 *
 * @param path The parsed path.
 * @returns A string equal for equal paths.
 */
export function pathKey(path: JsonPath): string {
  return path.key;
}

/**
 * Rebuilds a path from stored segments and kinds.
 *
 * @param segments The segments.
 * @param kinds One `k` or `i` per segment.
 * @returns The path, with its dotted text.
 */
export function pathFromSegments(segments: readonly string[], kinds: string): JsonPath {
  const text = segments.map((s, i) => kinds[i] === "i" ? `[${s}]` : (i > 0 ? "." : "") + s).join(
    "",
  );
  return Object.freeze({
    text,
    segments: Object.freeze([...segments]),
    kinds,
    key: JSON.stringify([segments, kinds]),
  });
}
