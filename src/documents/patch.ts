/**
 * Patch operations: set, increment, append, remove and rename at a JSON path,
 * applied in one statement by the `rillflow_patch` SQL function. Missing
 * intermediate objects are created and sibling fields are kept.
 *
 * @module
 */
import { parsePath } from "../schema/json_path.ts";
import { assertJsonValue } from "../query/json_value.ts";

/** One operation as `rillflow_patch` reads it. */
export type PatchOperation =
  | { op: "set"; path: readonly string[]; kinds: string; value: unknown }
  | { op: "increment"; path: readonly string[]; kinds: string; by: number }
  | { op: "append"; path: readonly string[]; kinds: string; value: unknown }
  | { op: "remove"; path: readonly string[]; kinds: string }
  | { op: "rename"; path: readonly string[]; kinds: string; to: string };

/**
 * A set operation: the value at `path` becomes `value`.
 *
 * @param path A dotted path.
 * @param value The new value.
 * @returns The operation.
 * @throws {TypeError} For an invalid path or value.
 */
export function setOperation(path: string, value: unknown): PatchOperation {
  const { segments, kinds } = parsePath(path);
  return { op: "set", path: segments, kinds, value: assertJsonValue(value, "A patch value") };
}

/**
 * An increment: the number at `path` (0 when missing) plus `by`.
 *
 * @param path A dotted path.
 * @param by The amount.
 * @returns The operation.
 * @throws {RangeError} When `by` is not a finite number.
 */
export function incrementOperation(path: string, by: number): PatchOperation {
  if (typeof by !== "number" || !Number.isFinite(by)) {
    throw new RangeError(`increment() needs a finite number, got ${String(by)}`);
  }
  const { segments, kinds } = parsePath(path);
  return { op: "increment", path: segments, kinds, by };
}

/**
 * An append: `value` added at the end of the array at `path` (created when missing).
 *
 * @param path A dotted path.
 * @param value The element.
 * @returns The operation.
 */
export function appendOperation(path: string, value: unknown): PatchOperation {
  const { segments, kinds } = parsePath(path);
  return {
    op: "append",
    path: segments,
    kinds,
    value: assertJsonValue(value, "An appended value"),
  };
}

/**
 * A removal of the field (or array element) at `path`; a no-op when missing.
 *
 * @param path A dotted path.
 * @returns The operation.
 */
export function removeOperation(path: string): PatchOperation {
  const { segments, kinds } = parsePath(path);
  return { op: "remove", path: segments, kinds };
}

/**
 * A rename of the field at `path` to `newName`, in the same object; a no-op when missing.
 *
 * @param path A dotted path ending in a key.
 * @param newName The new key.
 * @returns The operation.
 * @throws {TypeError} When the path ends in an array index or the name is not a plain key.
 */
export function renameOperation(path: string, newName: string): PatchOperation {
  const { segments, kinds } = parsePath(path);
  if (kinds.endsWith("i")) throw new TypeError(`Cannot rename "${path}": it is an array element`);
  const target = parsePath(newName);
  if (target.segments.length !== 1) {
    throw new TypeError(`Invalid new field name ${JSON.stringify(newName)}: use a single key`);
  }
  return { op: "rename", path: segments, kinds, to: newName };
}
