/**
 * Collection metadata moved to `src/schema/collection.ts`, below the query
 * layer that reads it. Kept only for the document session until it moves.
 *
 * TODO(#18): remove once nothing imports this path.
 *
 * @module
 */
export { type CollectionInfo, ensureCollection } from "../schema/collection.ts";
