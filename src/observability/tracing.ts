/**
 * OpenTelemetry spans through `@opentelemetry/api`. Without a registered
 * tracer provider every call is the API's no-op. With `OTEL_DENO=true`,
 * Deno registers its built-in provider and exports the spans over OTLP to
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4318`).
 *
 * @module
 */
import { type Attributes, SpanStatusCode, trace } from "@opentelemetry/api";
import { isRillflowError } from "../errors.ts";

const tracer = trace.getTracer("rillflow");

/** Expected outcomes that a caller handles: the span records them without an error status. */
const HANDLED = new Set(["CONCURRENCY_CONFLICT", "DOCUMENT_VERSION_CONFLICT"]);

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
      if (isRillflowError(error)) span.setAttribute("rillflow.error_code", error.code);
      if (!(isRillflowError(error) && HANDLED.has(error.code))) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
      }
      throw error;
    } finally {
      span.end();
    }
  });
}
