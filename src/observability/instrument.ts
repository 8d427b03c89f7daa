/**
 * One-call instrumentation of the store's operations: a span, the duration
 * histogram and the operation's counters. Storage code wraps its work in
 * these, e.g. `return instrumentAppend(() => runAppend(…))`.
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
import { withSpan } from "./tracing.ts";
import type { Attributes } from "@opentelemetry/api";

/**
 * Times and traces a database operation (span `rillflow.<operation>`,
 * histogram `rillflow_query_duration_seconds{operation}`).
 *
 * @param operation The operation label (`document_query`, `read_all`, …).
 * @param attributes Extra span attributes.
 * @param work The operation.
 * @returns What `work` returned.
 */
export async function instrumentQuery<T>(
  operation: string,
  attributes: Attributes,
  work: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  try {
    return await withSpan(
      `rillflow.${operation}`,
      { "db.system": "postgresql", ...attributes },
      work,
    );
  } finally {
    observeQuery(operation, (performance.now() - started) / 1000);
  }
}

/**
 * Instruments an append: span `rillflow.append`, appended events, conflicts.
 *
 * @param work The append.
 * @returns What `work` returned.
 */
export async function instrumentAppend<T extends { readonly globalSeqs: readonly number[] }>(
  work: () => Promise<T>,
): Promise<T> {
  try {
    const result = await instrumentQuery("append", {}, work);
    recordAppend(result.globalSeqs.length);
    return result;
  } catch (error) {
    if (isRillflowError(error, "CONCURRENCY_CONFLICT")) recordAppendConflict();
    throw error;
  }
}

/**
 * Instruments a document write: span `rillflow.document_write`, writes, conflicts.
 *
 * @param collection The collection.
 * @param work The write.
 * @returns What `work` returned.
 */
export async function instrumentDocumentWrite<T>(
  collection: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    const result = await instrumentQuery(
      "document_write",
      { "db.collection.name": collection },
      work,
    );
    recordDocumentWrite(collection);
    return result;
  } catch (error) {
    if (isRillflowError(error, "DOCUMENT_VERSION_CONFLICT")) recordDocumentConflict(collection);
    throw error;
  }
}

/**
 * Instruments a document read: span `rillflow.document_read` and the read counter.
 *
 * @param collection The collection.
 * @param work The read.
 * @returns What `work` returned.
 */
export async function instrumentDocumentRead<T>(
  collection: string,
  work: () => Promise<T>,
): Promise<T> {
  const result = await instrumentQuery("document_read", { "db.collection.name": collection }, work);
  recordDocumentRead(collection);
  return result;
}
