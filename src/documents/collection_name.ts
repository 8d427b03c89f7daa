/**
 * Collection names moved to `src/schema/collection_name.ts`, below the layers
 * that validate them. Kept only for the document session until it moves.
 *
 * TODO(#18): remove once nothing imports this path.
 *
 * @module
 */
export { validateCollectionName } from "../schema/collection_name.ts";
