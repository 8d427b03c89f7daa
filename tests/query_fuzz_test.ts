/**
 * A differential fuzzer for the query DSL (issue #17): random predicates,
 * orderings and pages over random JSON documents, run through
 * `docs.query()` on PostgreSQL and through a small in-memory evaluator of
 * the DSL's documented semantics. Any difference fails with the seed, the
 * case and the smallest predicate that still differs.
 *
 * `RILLFLOW_FUZZ_SEED` and `RILLFLOW_FUZZ_CASES` (default 2,000) repeat or
 * widen a run.
 *
 * The semantics modelled (docs/documents.md): a path that is missing reads as
 * SQL NULL and a condition on it is false (also under `not`, which treats an
 * unknown as false); `eq(null)` matches a JSON null or a missing field;
 * `gt`/`ge`/`lt`/`le`/`between` compare only values of the same JSON type as
 * the operand (numbers numerically, strings by code point: the databases here
 * use the C collation, and the generated strings are ASCII); `in` is `eq` to
 * any; `exists` is true for a JSON null too; `contains` is PostgreSQL's `@>`
 * on the value at the path. Ordering is jsonb's (missing last ascending,
 * first descending; null < strings < numbers < booleans), then the id.
 */
import { assertEquals } from "./_assert.ts";
import { testServer } from "./_backends.ts";
import { Predicate, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Doc = { [key: string]: Json };

/** mulberry32: a small seeded generator, so a failing seed repeats exactly. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  return { next, int, pick };
}
type Random = ReturnType<typeof generator>;

const WORDS = ["", "a", "b", "ab", "ba", "abc", "z"] as const;
const TAGS = ["red", "green", "blue"] as const;

/** A value of any scalar type, or null. */
function scalar(r: Random): Json {
  return r.pick<() => Json>([
    () => r.int(-3, 3),
    () => r.int(-3, 3) + 0.5,
    () => r.pick(WORDS),
    () => r.next() < 0.5,
    () => null,
  ])();
}

/** A document whose fields are sometimes missing, null or of another type. */
function documentOf(r: Random): Doc {
  const doc: Doc = {};
  const maybe = (key: string, value: () => Json) => {
    if (r.next() < 0.8) doc[key] = r.next() < 0.1 ? null : value();
  };
  maybe("n", () => r.int(-3, 3));
  maybe("s", () => r.pick(WORDS));
  maybe("b", () => r.next() < 0.5);
  maybe("m", () => scalar(r));
  maybe("o", (): Json => (r.next() < 0.8 ? { x: r.int(-2, 2) } : { y: 1 }));
  maybe("tags", () => TAGS.filter(() => r.next() < 0.5));
  return doc;
}

const PATHS = ["n", "s", "b", "m", "o.x", "tags"] as const;
const ORDER_PATHS = ["n", "s", "b", "m", "o.x"] as const;

/** A predicate and its in-memory meaning, built together. */
interface Case {
  predicate: Predicate;
  test(doc: Doc): boolean;
  text: string;
  /** Smaller cases that may still differ (for shrinking). */
  parts: Case[];
}

function at(doc: Doc, path: string): Json | undefined {
  let value: Json | undefined = doc;
  for (const key of path.split(".")) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
    value = (value as { [key: string]: Json })[key];
  }
  return value;
}

function jsonType(value: Json): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

function equal(a: Json, b: Json): boolean {
  if (jsonType(a) !== jsonType(b)) return false;
  if (Array.isArray(a)) {
    const other = b as Json[];
    return a.length === other.length && a.every((v, i) => equal(v, other[i]!));
  }
  if (a !== null && typeof a === "object") {
    const other = b as { [key: string]: Json };
    const keys = Object.keys(a);
    return keys.length === Object.keys(other).length &&
      keys.every((k) => k in other && equal(a[k]!, other[k]!));
  }
  return a === b;
}

/** PostgreSQL's `@>`: an array holds the given elements; at the top, an array holds a scalar. */
function contains(value: Json, wanted: Json, top = true): boolean {
  if (Array.isArray(value)) {
    if (Array.isArray(wanted)) {
      return wanted.every((w) => value.some((v) => contains(v, w, false)));
    }
    return top && jsonType(wanted) !== "object" && value.some((v) => equal(v, wanted));
  }
  if (value !== null && typeof value === "object") {
    if (wanted === null || typeof wanted !== "object" || Array.isArray(wanted)) return false;
    return Object.entries(wanted).every(([k, w]) => k in value && contains(value[k]!, w, false));
  }
  return equal(value, wanted);
}

function compare(a: Json, b: Json): number {
  if (typeof a === "number") return a - (b as number);
  if (typeof a === "boolean") return Number(a) - Number(b);
  return a! < b! ? -1 : a! > b! ? 1 : 0;
}

function comparison(op: "gt" | "ge" | "lt" | "le", value: Json) {
  return (field: Json | undefined) => {
    if (field === undefined || jsonType(field) !== jsonType(value)) return false;
    const c = compare(field, value);
    return op === "gt" ? c > 0 : op === "ge" ? c >= 0 : op === "lt" ? c < 0 : c <= 0;
  };
}

function eq(value: Json) {
  return (field: Json | undefined) =>
    value === null
      ? field === undefined || field === null
      : field !== undefined && equal(field, value);
}

function leaf(
  predicate: Predicate,
  text: string,
  path: string,
  test: (v: Json | undefined) => boolean,
): Case {
  return { predicate, text, parts: [], test: (doc) => test(at(doc, path)) };
}

/** An operand of the type a path usually holds, or of another type. */
function operand(r: Random, path: string): Json {
  if (r.next() < 0.25) return scalar(r);
  if (path === "s") return r.pick(WORDS);
  if (path === "b") return r.next() < 0.5;
  if (path === "tags") return r.pick(TAGS);
  return r.int(-3, 3);
}

function leafCase(r: Random): Case {
  const path = r.pick(PATHS);
  const show = (op: string, v: unknown) => `${op}(${path}, ${JSON.stringify(v)})`;
  switch (r.int(0, 7)) {
    case 0: {
      const v = operand(r, path);
      return leaf(Predicate.eq(path, v), show("eq", v), path, eq(v));
    }
    case 1: {
      const v = operand(r, path);
      return leaf(Predicate.ne(path, v), show("ne", v), path, (f) => !eq(v)(f));
    }
    case 2: {
      const op = r.pick(["gt", "ge", "lt", "le"] as const);
      let v = operand(r, path);
      if (v === null) v = 0;
      return leaf(Predicate[op](path, v as number), show(op, v), path, comparison(op, v));
    }
    case 3: {
      const values = Array.from({ length: r.int(0, 3) }, () => operand(r, path));
      return leaf(
        Predicate.in(path, values),
        show("in", values),
        path,
        (f) => values.some((v) => eq(v)(f)),
      );
    }
    case 4:
      return leaf(Predicate.exists(path), `exists(${path})`, path, (f) => f !== undefined);
    case 5: {
      const low = r.int(-3, 2);
      const high = low + r.int(0, 3);
      const ge = comparison("ge", low);
      const le = comparison("le", high);
      return leaf(
        Predicate.between(path, low, high),
        `between(${path}, ${low}, ${high})`,
        path,
        (f) => ge(f) && le(f),
      );
    }
    default: {
      const v: Json = path === "tags" || r.next() < 0.3
        ? r.next() < 0.5 ? r.pick(TAGS) : TAGS.filter(() => r.next() < 0.4)
        : path === "o.x"
        ? r.int(-2, 2)
        : operand(r, path);
      return leaf(
        Predicate.contains(path, v),
        show("contains", v),
        path,
        (f) => f !== undefined && contains(f, v),
      );
    }
  }
}

function predicateCase(r: Random, depth: number): Case {
  if (depth === 0 || r.next() < 0.4) return leafCase(r);
  const kind = r.pick(["and", "or", "not"] as const);
  if (kind === "not") {
    const inner = predicateCase(r, depth - 1);
    return {
      predicate: Predicate.not(inner.predicate),
      text: `not(${inner.text})`,
      parts: [inner],
      test: (doc) => !inner.test(doc),
    };
  }
  const parts = Array.from({ length: r.int(1, 3) }, () => predicateCase(r, depth - 1));
  return {
    predicate: Predicate[kind](...parts.map((p) => p.predicate)),
    text: `${kind}(${parts.map((p) => p.text).join(", ")})`,
    parts,
    test: kind === "and"
      ? (doc) => parts.every((p) => p.test(doc))
      : (doc) => parts.some((p) => p.test(doc)),
  };
}

const TYPE_RANK: Record<string, number> = { null: 0, string: 1, number: 2, boolean: 3 };

/** jsonb ordering of scalars; a missing field sorts last ascending, first descending. */
function orderValue(a: Json | undefined, b: Json | undefined, descending: boolean): number {
  if (a === undefined || b === undefined) {
    const c = a === undefined ? (b === undefined ? 0 : 1) : -1;
    return descending ? -c : c;
  }
  const byType = TYPE_RANK[jsonType(a)]! - TYPE_RANK[jsonType(b)]!;
  const c = byType !== 0 ? byType : a === null ? 0 : compare(a, b);
  return descending ? -c : c;
}

interface Row {
  id: string;
  doc: Doc;
}

/** The ids the evaluator selects, in order. */
function expected(
  rows: readonly Row[],
  c: Case,
  order: [string, boolean] | null,
  skip: number,
  take: number,
): string[] {
  const kept = rows.filter((row) => c.test(row.doc));
  kept.sort((x, y) => {
    const byValue = order ? orderValue(at(x.doc, order[0]), at(y.doc, order[0]), order[1]) : 0;
    return byValue !== 0 ? byValue : x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
  });
  return kept.slice(skip, skip + take).map((row) => row.id);
}

/** The ids the database selects, in order (each document carries its id as `_id`). */
async function actual(
  docs: ReturnType<Store["docs"]>,
  c: Case,
  order: [string, boolean] | null,
  skip: number,
  take: number,
): Promise<string[]> {
  let query = docs.query().filter(c.predicate);
  if (order) query = query.orderBy(order[0], order[1] ? "desc" : "asc");
  if (skip > 0) query = query.offset(skip);
  const found = await query.limit(take).fetchAll();
  return found.map((doc) => (doc as { _id: string })._id);
}

/** The smallest part of a differing filter that still differs on its own. */
async function shrink(
  docs: ReturnType<Store["docs"]>,
  rows: readonly Row[],
  c: Case,
): Promise<Case> {
  for (const part of c.parts) {
    const differs = JSON.stringify(await actual(docs, part, null, 0, rows.length)) !==
      JSON.stringify(expected(rows, part, null, 0, rows.length));
    if (differs) return await shrink(docs, rows, part);
  }
  return c;
}

testServer("the query DSL agrees with an in-memory evaluator on random queries", async (url) => {
  const seed = Number(Deno.env.get("RILLFLOW_FUZZ_SEED") ?? Date.now() % 1_000_000);
  const cases = Number(Deno.env.get("RILLFLOW_FUZZ_CASES") ?? 2_000);
  const r = generator(seed);
  const schema = `fuzz_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const store = await Store.connect(url, { schema, autoMigrate: true });
  try {
    const docs = store.docs("fuzz");
    const rows: Row[] = Array.from({ length: 150 }, () => {
      const id = crypto.randomUUID();
      return { id, doc: documentOf(r) };
    });
    await docs.bulkInsert(rows.map(({ id, doc }) => ({ id, doc: { ...doc, _id: id } })));
    for (let i = 0; i < cases; i++) {
      const c = predicateCase(r, 3);
      const order = r.next() < 0.7
        ? [r.pick(ORDER_PATHS), r.next() < 0.5] as [string, boolean]
        : null;
      const skip = r.next() < 0.3 ? r.int(0, 20) : 0;
      const take = r.int(1, 200);
      const got = await actual(docs, c, order, skip, take);
      const want = expected(rows, c, order, skip, take);
      if (JSON.stringify(got) === JSON.stringify(want)) continue;
      const smallest = await shrink(docs, rows, c);
      const all = await actual(docs, smallest, null, 0, rows.length);
      const disagreeing = rows.filter((row) => smallest.test(row.doc) !== all.includes(row.id));
      assertEquals(
        got,
        want,
        `seed ${seed}, case ${i}: filter ${c.text}, order ${
          JSON.stringify(order)
        }, offset ${skip}, ` +
          `limit ${take}. Smallest differing filter: ${smallest.text}, on documents ` +
          JSON.stringify(disagreeing.slice(0, 3).map((row) => row.doc)) +
          " (the evaluator says " +
          JSON.stringify(disagreeing.slice(0, 3).map((row) => smallest.test(row.doc))) + ")",
      );
    }
  } finally {
    await contextOf(store).executor.query(`drop schema "${schema}" cascade`);
    await store.close();
  }
});
