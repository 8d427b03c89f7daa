/**
 * Rillflow: a document store and event store for TypeScript, backed by
 * PostgreSQL, with an embedded PGlite default that needs no server.
 *
 * @example Store a document and append an event
 * ```ts
 * import { event, Expected, Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect(Deno.env.get("DATABASE_URL") ?? "pglite://memory");
 * const id = crypto.randomUUID();
 * await store.docs<{ name: string }>().put(id, { name: "Ada" });
 * await store.events.append(id, Expected.noStream, [event("Registered", { name: "Ada" })]);
 * console.log(await store.events.readStream(id));
 * ```
 *
 * @module
 */
export { Store, type StoreOptions } from "./src/store.ts";
export { ERROR_CODES, type ErrorCode, isRillflowError, RillflowError } from "./src/errors.ts";
export type { RillflowErrorOptions } from "./src/errors.ts";
export type { Documents } from "./src/documents/documents.ts";
export type { Events } from "./src/events/events.ts";
export type { AppendOptions, AppendResult } from "./src/events/append.ts";
export type { AppendBuilder } from "./src/events/builder.ts";
export type {
  IterateAllOptions,
  IterateStreamOptions,
  ReadAllOptions,
  ReadStreamOptions,
} from "./src/events/reads.ts";
export type { BlockingBackend, Watermark } from "./src/events/watermark.ts";
export { Expected, type ExpectedVersion } from "./src/events/expected.ts";
export { event, type EventOptions, type NewEvent } from "./src/events/new_event.ts";
export type { EventEnvelope } from "./src/events/envelope.ts";
export type { StreamInfo, Streams } from "./src/events/streams.ts";
export { eventsChannel } from "./src/events/notify.ts";
export { EventSchemas, type EventSchemaViolation } from "./src/events/event_schemas.ts";
export type { JsonSchema, JsonTypeName } from "./src/events/json_schema.ts";
export type { SchemaManager } from "./src/schema/schema_manager.ts";
export type { DriftItem, DriftReport, MigrationRef } from "./src/schema/schema_manager.ts";
export type { CatalogDifference } from "./src/schema/catalog.ts";
export type { Tx } from "./src/db/executor.ts";
export type { SqlTag } from "./src/db/sql.ts";
export { defineConfig, type RillflowConfig } from "./src/config.ts";
export type { Projection } from "./src/projections/projection.ts";
