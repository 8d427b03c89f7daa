/**
 * Compiled queries: a class whose `configure` builds a query from its fields.
 * The SQL text is built once per class (and query shape) and reused; each
 * call binds the instance's values as parameters.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { SqlFragment, SqlIdentifier, TrustedSql } from "../db/sql.ts";
import { onCollection } from "../schema/collection.ts";
import { DocumentQuery, prepareFetch } from "./document_query.ts";

/**
 * A reusable query: `configure` receives an empty query on the collection and
 * returns it filtered, ordered and paged from the instance's fields.
 *
 * @example Customers of a tier, older than a minimum age
 * ```ts
 * import { type CompiledQuery, type DocumentQuery, Predicate, Store } from "@rillflow/rillflow";
 *
 * type Customer = { tier: string; age: number };
 * class CustomersByTier implements CompiledQuery<Customer> {
 *   constructor(readonly tier: string, readonly minAge: number) {}
 *   configure(q: DocumentQuery<unknown>): DocumentQuery<Customer> {
 *     return (q as DocumentQuery<Customer>).filter(Predicate.eq("tier", this.tier))
 *       .filter(Predicate.ge("age", this.minAge)).orderBy("age");
 *   }
 * }
 * await using store = await Store.connect("pglite://memory");
 * console.log(await store.docs<Customer>("customers").executeCompiled(new CustomersByTier("pro", 30)));
 * ```
 */
export interface CompiledQuery<R> {
  /**
   * Builds the query from this instance's fields.
   *
   * @param q An empty query on the collection.
   * @returns The configured query.
   */
  configure(q: DocumentQuery<unknown>): DocumentQuery<R>;
}

const texts = new WeakMap<object, Map<string, string>>();
const builds = new WeakMap<object, number>();

/** The statement's text with parameters left out: equal for equal statements. */
function shapeOf(fragment: SqlFragment, out: string[] = []): string[] {
  fragment.strings.forEach((text, i) => {
    out.push(text);
    if (i >= fragment.values.length) return;
    const value = fragment.values[i];
    if (value instanceof SqlFragment) shapeOf(value, out);
    else if (value instanceof SqlIdentifier || value instanceof TrustedSql) out.push(value.text);
    else out.push("\u0000");
  });
  return out;
}

/** The statement's parameters, in the order `compile()` numbers them. */
function paramsOf(fragment: SqlFragment, out: unknown[] = []): unknown[] {
  for (const value of fragment.values) {
    if (value instanceof SqlFragment) paramsOf(value, out);
    else if (!(value instanceof SqlIdentifier) && !(value instanceof TrustedSql)) out.push(value);
  }
  return out;
}

/**
 * How many times the SQL text of a compiled query class was built (once per
 * query shape). Lets tests and benchmarks check that the text is reused.
 *
 * @param queryClass The class (constructor) of a compiled query.
 * @returns The number of builds.
 */
export function compiledSqlBuilds(queryClass: object): number {
  return builds.get(queryClass) ?? 0;
}

/**
 * Runs a compiled query on a collection.
 *
 * @param context The store's context.
 * @param collection The collection.
 * @param query The compiled query.
 * @returns The results.
 * @throws {TypeError} When `configure` does not return a query of this collection.
 */
export function executeCompiled<R>(
  context: StoreContext,
  collection: string,
  query: CompiledQuery<R>,
): Promise<R[]> {
  if (typeof query?.configure !== "function") {
    throw new TypeError("executeCompiled() needs an object with a configure(query) method");
  }
  const configured = query.configure(new DocumentQuery<unknown>(context, collection));
  if (!(configured instanceof DocumentQuery)) {
    throw new TypeError("configure() must return the query it was given, refined");
  }
  const owner = query.constructor ?? query;
  return onCollection(context, collection, async () => {
    const plan = await prepareFetch(configured);
    const shape = shapeOf(plan.fragment).join("");
    let byShape = texts.get(owner);
    if (!byShape) texts.set(owner, byShape = new Map());
    let text = byShape.get(shape);
    if (text === undefined) {
      text = plan.fragment.compile().text;
      byShape.set(shape, text);
      builds.set(owner, compiledSqlBuilds(owner) + 1);
    }
    return plan.decode(await context.executor.query(text, paramsOf(plan.fragment)));
  });
}
