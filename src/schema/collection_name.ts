/**
 * Collection names: identifiers that name a table of their own, never one of
 * Rillflow's own tables.
 *
 * @module
 */
import { validateIdentifier } from "../db/identifiers.ts";

/** Rillflow's own tables in every store schema: never collections. */
const CORE_TABLES = new Set([
  "streams",
  "events",
  "idempotency_keys",
  "stream_aliases",
  "snapshots",
  "projections",
  "projection_dead_letters",
  "subscriptions",
  "subscription_groups",
  "subscription_dead_letters",
]);

/**
 * Checks a collection name: the identifier rule, and not a name Rillflow uses itself.
 *
 * @param name The candidate name.
 * @returns The name.
 * @throws {TypeError} When the name breaks the identifier rule, starts with `rillflow_` or
 *   names one of Rillflow's own tables.
 */
export function validateCollectionName(name: unknown): string {
  validateIdentifier(name, "collection");
  const text = name as string;
  if (text.startsWith("rillflow_") || CORE_TABLES.has(text)) {
    throw new TypeError(
      `Invalid collection name "${text}": it is reserved for Rillflow's own tables ` +
        "(names starting with rillflow_, and events, streams, snapshots, projections, …)",
    );
  }
  return text;
}
