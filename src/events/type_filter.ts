/**
 * Filtering events by type as readers see them: after upcasting. An event
 * stored as `OrderCreated` v1 that an upcaster renames to `OrderPlaced` is
 * an `OrderPlaced` to every reader, so a reader asking for `OrderPlaced`
 * must select it and one asking for `OrderCreated` must not. The statement
 * joins each row to the registry's renames (a few rows, sent as three array
 * parameters) and compares the type the row ends up with.
 *
 * @module
 */
import { eventSettings } from "./settings.ts";
import type { StoreContext } from "../_context.ts";

/**
 * The join giving an events row the type readers see it under, as
 * `seen.final_type` (null when upcasting keeps its type): add to the FROM clause
 * and compare {@linkcode seenTypeSql} instead of the stored type.
 *
 * @param alias The events table's alias in the statement.
 * @param first The number of the first of the three parameters of {@linkcode renameParams}.
 * @returns `left join (…) seen on …`.
 */
export function seenTypeJoin(alias: string, first: number): string {
  return `left join unnest($${first}::text[], $${first + 1}::int[], $${first + 2}::text[])
           as seen(from_type, from_version, final_type)
           on seen.from_type = ${alias}.type and seen.from_version = ${alias}.event_version`;
}

/**
 * The type an events row is read as (after {@linkcode seenTypeJoin}).
 *
 * @param alias The events table's alias.
 * @returns A text expression.
 */
export function seenTypeSql(alias: string): string {
  return `coalesce(seen.final_type, ${alias}.type)`;
}

/**
 * The parameters of {@linkcode seenTypeJoin}: the configured upcasters' renames.
 *
 * @param context The store context.
 * @returns Stored types, stored versions and final types (empty without renames).
 */
export function renameParams(
  context: StoreContext,
): [readonly string[], readonly number[], readonly string[]] {
  const renames = eventSettings(context).upcasters?.renames();
  return renames ? [renames.types, renames.versions, renames.finals] : [[], [], []];
}
