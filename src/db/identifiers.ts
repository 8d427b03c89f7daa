/**
 * Validation and quoting of the SQL identifiers Rillflow builds (schemas,
 * tenants, collections, duplicated columns). Nothing else is ever spliced
 * into SQL text.
 *
 * @module
 */

/** The rule every Rillflow-built identifier follows. */
export const IDENTIFIER_PATTERN: RegExp = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks an identifier against {@linkcode IDENTIFIER_PATTERN}.
 *
 * @param name The candidate identifier.
 * @param what What the identifier names, for the error message ("schema", "collection", …).
 * @returns The same name, for chaining.
 * @throws {TypeError} When the name breaks the rule; the message names the rule.
 */
export function validateIdentifier(name: unknown, what = "identifier"): string {
  if (typeof name !== "string" || !IDENTIFIER_PATTERN.test(name)) {
    throw new TypeError(
      `Invalid ${what} name ${JSON.stringify(name)}: use 1 to 63 lowercase letters, digits ` +
        `or underscores, starting with a letter or underscore (${IDENTIFIER_PATTERN})`,
    );
  }
  return name;
}

/**
 * Validates and double-quotes an identifier for use in SQL text.
 *
 * @param name The identifier.
 * @param what What the identifier names, for the error message.
 * @returns The quoted identifier, e.g. `"orders"`.
 * @throws {TypeError} When the name breaks {@linkcode IDENTIFIER_PATTERN}.
 */
export function quoteIdent(name: string, what?: string): string {
  return `"${validateIdentifier(name, what)}"`;
}

/**
 * Builds a schema-qualified, quoted name.
 *
 * @param schema The schema.
 * @param name The object inside it.
 * @returns `"schema"."name"`.
 * @throws {TypeError} When either part is invalid.
 */
export function qualify(schema: string, name: string): string {
  return `${quoteIdent(schema, "schema")}.${quoteIdent(name)}`;
}
