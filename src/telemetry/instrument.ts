/**
 * One-call instrumentation of the store's operations: a span, the duration
 * histogram and the operation's counters. Storage code wraps its work in
 * these, e.g. `return instrumentAppend(() => runAppend(…))`.
 *
 * Each wrapper is one promise reaction around the work (a leaf span, see
 * `withLeafSpan`), not a stack of async functions, which cost measurably on a
 * single-event append (bench/README.md).
 *
 * @module
 */
import { isRillflowError } from "../errors.ts";
import {
  observeQuery,
  recordAppend,
  recordAppendConflict,
  recordDocumentConflict,
  recordDocumentRead,
  recordDocumentWrite,
} from "./metrics.ts";
import { withLeafSpan } from "./tracing.ts";
import type { Attributes } from "@opentelemetry/api";

const DB_SYSTEM = { "db.system": "postgresql" } as const;

/**
 * Times and traces a database operation (span `rillflow.<operation>`,
 * histogram `rillflow_query_duration_seconds{operation}`).
 *
 * @param operation The operation label (`document_query`, `read_all`, …).
 * @param attributes Extra span attributes.
 * @param work The operation.
 * @param settled Called with the outcome (for the operation's counters).
 * @returns What `work` returned.
 */
export function instrumentQuery<T>(
  operation: string,
  attributes: Attributes,
  work: () => Promise<T>,
  settled?: (result: T | undefined, error: unknown) => void,
): Promise<T> {
  const started = performance.now();
  return withLeafSpan(
    `rillflow.${operation}`,
    attributes === NO_ATTRIBUTES ? DB_SYSTEM : { ...DB_SYSTEM, ...attributes },
    work,
    (result, error) => {
      observeQuery(operation, (performance.now() - started) / 1000);
      settled?.(result, error);
    },
  );
}

/** Pass as `attributes` when there are none beyond `db.system` (no object is built). */
export const NO_ATTRIBUTES: Attributes = Object.freeze({});

/**
 * Instruments an append: span `rillflow.append`, appended events, conflicts.
 *
 * @param work The append.
 * @returns What `work` returned.
 */
export function instrumentAppend<T extends { readonly globalSeqs: readonly number[] }>(
  work: () => Promise<T>,
): Promise<T> {
  return instrumentQuery("append", NO_ATTRIBUTES, work, (result, error) => {
    if (result) recordAppend(result.globalSeqs.length);
    else if (isRillflowError(error, "CONCURRENCY_CONFLICT")) recordAppendConflict();
  });
}

/**
 * Instruments a document write: span `rillflow.document_write`, writes, conflicts.
 *
 * @param collection The collection.
 * @param work The write.
 * @returns What `work` returned.
 */
export function instrumentDocumentWrite<T>(
  collection: string,
  work: () => Promise<T>,
): Promise<T> {
  return instrumentQuery(
    "document_write",
    { "db.collection.name": collection },
    work,
    (_, error) => {
      if (error === undefined) recordDocumentWrite(collection);
      else if (isRillflowError(error, "DOCUMENT_VERSION_CONFLICT")) {
        recordDocumentConflict(collection);
      }
    },
  );
}

/**
 * Instruments a document read: span `rillflow.document_read` and the read counter.
 *
 * @param collection The collection.
 * @param work The read.
 * @returns What `work` returned.
 */
export function instrumentDocumentRead<T>(
  collection: string,
  work: () => Promise<T>,
): Promise<T> {
  return instrumentQuery(
    "document_read",
    { "db.collection.name": collection },
    work,
    (_, error) => {
      if (error === undefined) recordDocumentRead(collection);
    },
  );
}
