/**
 * One tagged-template vocabulary for SQL: every `${value}` becomes a bound
 * parameter; identifiers and trusted text go through the named helpers
 * {@linkcode ident} and {@linkcode trusted}.
 *
 * @module
 */
import { quoteIdent } from "./identifiers.ts";

/** A validated, quoted identifier to splice into SQL text. */
export class SqlIdentifier {
  /** The quoted identifier text. */
  readonly text: string;
  /**
   * @param name The identifier, validated against the identifier rule.
   * @param what What it names, for the error message.
   */
  constructor(name: string, what?: string) {
    this.text = quoteIdent(name, what);
  }
}

/** Trusted SQL text (allowlisted constants only), spliced as is. */
export class TrustedSql {
  /** @param text SQL text that never contains user input. */
  constructor(readonly text: string) {}
}

/** A piece of SQL with its parameters, not yet numbered. */
export class SqlFragment {
  /**
   * @param strings The literal parts of the template.
   * @param values The interpolated values, identifiers, trusted text or nested fragments.
   */
  constructor(readonly strings: readonly string[], readonly values: readonly unknown[]) {}

  /**
   * Numbers the parameters and returns text and values for a driver.
   *
   * @returns The SQL text with `$1…$n` placeholders and the parameter list.
   */
  compile(): { text: string; params: unknown[] } {
    const params: unknown[] = [];
    const text = this.#render(params);
    return { text, params };
  }

  #render(params: unknown[]): string {
    let text = this.strings[0] ?? "";
    this.values.forEach((value, i) => {
      if (value instanceof SqlFragment) text += value.#render(params);
      else if (value instanceof SqlIdentifier || value instanceof TrustedSql) text += value.text;
      else {
        params.push(value);
        text += `$${params.length}`;
      }
      text += this.strings[i + 1] ?? "";
    });
    return text;
  }
}

/**
 * Builds a {@linkcode SqlFragment}; every interpolated value is a parameter.
 *
 * @example Values are bound, never spliced
 * ```ts
 * import { sql } from "./sql.ts";
 *
 * const q = sql`select * from t where email = ${"a@x"}`.compile();
 * console.log(q.text);   // select * from t where email = $1
 * console.log(q.params); // ["a@x"]
 * ```
 *
 * @param strings The template's literal parts.
 * @param values The template's interpolations.
 * @returns A fragment to compile or nest.
 */
export function sql(strings: TemplateStringsArray, ...values: unknown[]): SqlFragment {
  return new SqlFragment(strings, values);
}

/**
 * Marks a name as an identifier: validated, then double-quoted.
 *
 * @param name The identifier.
 * @param what What it names, for the error message.
 * @returns A value that the {@linkcode sql} tag splices as `"name"`.
 * @throws {TypeError} When the name breaks the identifier rule.
 */
export function ident(name: string, what?: string): SqlIdentifier {
  return new SqlIdentifier(name, what);
}

/**
 * Marks constant SQL text as trusted. Never pass user input.
 *
 * @param text Allowlisted SQL text.
 * @returns A value that the {@linkcode sql} tag splices as is.
 */
export function trusted(text: string): TrustedSql {
  return new TrustedSql(text);
}

/**
 * Joins fragments with a separator (`, ` by default).
 *
 * @param fragments The fragments.
 * @param separator Trusted separator text.
 * @returns One fragment.
 */
export function joinSql(fragments: readonly SqlFragment[], separator = ", "): SqlFragment {
  if (fragments.length === 0) return new SqlFragment([""], []);
  return new SqlFragment(["", ...fragments.slice(1).map(() => separator), ""], fragments);
}

/** A tagged template that runs the query it builds and returns its rows. */
export type SqlTag = <R = Record<string, unknown>>(
  strings: TemplateStringsArray,
  ...values: unknown[]
) => Promise<R[]>;
