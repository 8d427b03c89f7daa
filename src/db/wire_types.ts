/**
 * Text-format values of the native connection ({@linkcode WireConnection}),
 * parsed and serialised exactly as the store's postgres.js instances do
 * (`src/db/postgres_js.ts`), so a statement returns the same rows on either:
 * int8 as a number, json/jsonb parsed, timestamps as `Date`, booleans, the
 * other numbers, arrays of every array type the server lists, and every
 * other type as its text. Types postgres.js would turn into something else
 * (bytea) and parameters it would type by their JavaScript value (booleans,
 * dates, binary data) are {@linkcode unsupported}: such statements go to
 * postgres.js.
 *
 * @module
 */

/** Parses one column value from its text. */
export type Parser = (text: string) => unknown;
/** Serialises one parameter value to text. */
export type Serializer = (value: unknown) => string;

const BYTEA = 17;

/** Returned by the lookups for a type this connection leaves to postgres.js. */
export const unsupported: unique symbol = Symbol("unsupported");

const toNumber: Parser = (x) => +x;
const toJson: Parser = (x) => JSON.parse(x);
const toDate: Parser = (x) => new Date(x);

const BASE_PARSERS: ReadonlyArray<readonly [number, Parser]> = [
  [16, (x) => x === "t"],
  [20, Number],
  ...[21, 23, 26, 700, 701].map((oid) => [oid, toNumber] as const),
  [114, toJson],
  [3802, toJson],
  ...[1082, 1114, 1184].map((oid) => [oid, toDate] as const),
];

const BASE_SERIALIZERS: ReadonlyArray<readonly [number, Serializer]> = [
  [25, (x) => "" + x],
  [114, (x) => JSON.stringify(x)],
  [16, (x) => x === true ? "t" : "f"],
  [1184, (x) => (x instanceof Date ? x : new Date(x as string)).toISOString()],
  [20, (x) => String(x)],
  [3802, (x) => typeof x === "string" ? x : JSON.stringify(x)],
];

/**
 * Parses the text of an array (after its opening brace), elements through
 * `parse`; quoted elements unescaped, unquoted ones (`NULL` too) passed as
 * they are, nested arrays recursively: postgres.js's reading, quirks
 * included.
 */
function parseArray(text: string, parse: Parser | undefined): unknown[] {
  // One state shared by every nesting level, as in postgres.js (the character an inner level
  // read last is the "previous" one of the outer level).
  const s = { i: 0, last: 0, quoted: false, char: "", previous: "", buffer: "" };
  const push = (items: unknown[], raw: string) => items.push(parse ? parse(raw) : raw);
  const loop = (): unknown[] => {
    const items: unknown[] = [];
    for (; s.i < text.length; s.i++) {
      s.char = text[s.i]!;
      if (s.quoted) {
        if (s.char === "\\") s.buffer += text[++s.i];
        else if (s.char === '"') {
          push(items, s.buffer);
          s.buffer = "";
          s.quoted = text[s.i + 1] === '"';
          s.last = s.i + 2;
        } else s.buffer += s.char;
      } else if (s.char === '"') s.quoted = true;
      else if (s.char === "{") {
        s.last = ++s.i;
        items.push(loop());
      } else if (s.char === "}") {
        s.quoted = false;
        if (s.last < s.i) push(items, text.slice(s.last, s.i));
        s.last = s.i + 1;
        break;
      } else if (s.char === "," && s.previous !== "}" && s.previous !== '"') {
        push(items, text.slice(s.last, s.i));
        s.last = s.i + 1;
      }
      s.previous = s.char;
    }
    if (s.last < s.i) push(items, text.slice(s.last, s.i + 1));
    return items;
  };
  return loop();
}

function escapeElement(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"');
}

function serializeArray(value: unknown, element: Serializer | undefined): string {
  if (!Array.isArray(value)) return value as string;
  if (value.length === 0) return "{}";
  if (Array.isArray(value[0])) {
    return `{${value.map((inner) => serializeArray(inner, element)).join(",")}}`;
  }
  return `{${
    value.map((x) => x === null ? "null" : `"${escapeElement(element ? element(x) : "" + x)}"`)
      .join(",")
  }}`;
}

/** The parsers and serialisers of one server's types. */
export class WireTypes {
  readonly #parsers = new Map<number, Parser>(BASE_PARSERS);
  readonly #serializers = new Map<number, Serializer>(BASE_SERIALIZERS);

  /**
   * Adds the array types the server lists (as postgres.js does when it connects).
   *
   * @param arrays Each element type's oid and its array type's oid.
   */
  addArrays(arrays: ReadonlyArray<{ oid: number; typarray: number }>): void {
    for (const { oid, typarray } of arrays) {
      if (this.#parsers.has(typarray) && this.#serializers.has(typarray)) continue;
      const parse = this.#parsers.get(oid);
      const element = this.#serializers.get(oid);
      // The text after the opening brace, as postgres.js hands it to its array parser.
      this.#parsers.set(typarray, (x) => parseArray(x.slice(1), parse));
      this.#serializers.set(typarray, (x) => serializeArray(x, element));
    }
  }

  /**
   * How a result column of this type is read.
   *
   * @param oid The column's type.
   * @returns Its parser, `undefined` for text, or {@linkcode unsupported}.
   */
  parser(oid: number): Parser | undefined | typeof unsupported {
    return oid === BYTEA ? unsupported : this.#parsers.get(oid);
  }

  /**
   * How a parameter of this type is written.
   *
   * @param oid The parameter's type.
   * @returns Its serialiser, or {@linkcode unsupported}.
   */
  serializer(oid: number): Serializer | typeof unsupported {
    return oid === BYTEA ? unsupported : this.#serializers.get(oid) ?? ((x) => "" + x);
  }
}

/**
 * Whether postgres.js would type these parameters by the server's description
 * alone: null, strings, finite or not numbers, and (nested) arrays of those.
 *
 * @param params The statement's parameter values.
 * @returns `false` when one of them must go through postgres.js.
 */
export function plainParams(params: readonly unknown[]): boolean {
  for (const value of params) {
    if (value === null || typeof value === "string" || typeof value === "number") continue;
    if (!Array.isArray(value) || !plainParams(value)) return false;
  }
  return true;
}
