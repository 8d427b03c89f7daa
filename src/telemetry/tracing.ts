/**
 * OpenTelemetry spans through `@opentelemetry/api`. Without a registered
 * tracer provider every call is the API's no-op. With `OTEL_DENO=true`,
 * Deno registers its built-in provider and exports the spans over OTLP to
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4318`).
 *
 * @module
 */
import { type Attributes, type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import { isRillflowError } from "../errors.ts";

const tracer = trace.getTracer("rillflow");

/** Expected outcomes that a caller handles: the span records them without an error status. */
const HANDLED = new Set(["CONCURRENCY_CONFLICT", "DOCUMENT_VERSION_CONFLICT"]);

function recordFailure(span: Span, error: unknown): void {
  if (isRillflowError(error)) span.setAttribute("rillflow.error_code", error.code);
  if (!(isRillflowError(error) && HANDLED.has(error.code))) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
  }
}

/**
 * Traces one leaf operation (a statement or an append, inside which nothing
 * opens spans of its own): a span named `name`, a child of the caller's
 * active span but not made active itself, ended when `work` settles; a
 * failure is recorded as by {@linkcode withSpan}. Cheaper than
 * {@linkcode withSpan} (no context switch, one promise reaction), which
 * counts on the hot path of appends and document reads.
 *
 * @param name The span name.
 * @param attributes Span attributes (pass a shared constant where possible).
 * @param work The traced work.
 * @param settled Called with the outcome before the returned promise settles.
 * @returns What `work` returned.
 */
export function withLeafSpan<T>(
  name: string,
  attributes: Attributes,
  work: () => Promise<T>,
  settled: (result: T | undefined, error: unknown) => void,
): Promise<T> {
  const span = tracer.startSpan(name, { attributes });
  let running: Promise<T>;
  try {
    running = work();
  } catch (error) {
    running = Promise.reject(error);
  }
  return running.then(
    (result) => {
      span.end();
      settled(result, undefined);
      return result;
    },
    (error) => {
      recordFailure(span, error);
      span.end();
      settled(undefined, error ?? new Error("undefined rejection"));
      throw error;
    },
  );
}

/**
 * Runs `work` inside an active span named `name`; a thrown error is recorded
 * on the span (status ERROR unless it is a version conflict) and rethrown.
 *
 * @param name The span name (`rillflow.append`, `rillflow.projection.batch`, …).
 * @param attributes Span attributes.
 * @param work The traced work.
 * @returns What `work` returned.
 */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  work: () => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work();
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}
