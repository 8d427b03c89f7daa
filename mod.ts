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
export { Store } from "./src/store.ts";
export type { StoreOptions } from "./src/store_options.ts";
export { ERROR_CODES, type ErrorCode, isRillflowError, RillflowError } from "./src/errors.ts";
export type { RillflowErrorOptions } from "./src/errors.ts";
export type { StoreRef } from "./src/_context.ts";
export type { DocumentMetadata, Documents } from "./src/documents/documents.ts";
export type { HistoryEntry } from "./src/documents/history.ts";
export type { DocumentSession, SessionOptions } from "./src/session/session.ts";
export type { DocumentQuery } from "./src/query/document_query.ts";
export { type ComparisonOperator, Predicate, type PredicateNode } from "./src/query/predicate.ts";
export type { JsonPath } from "./src/schema/json_path.ts";
export type { CompiledQuery } from "./src/query/compiled.ts";
export {
  type CollectionConfig,
  DUPLICATED_FIELD_TYPES,
  DuplicatedField,
  type DuplicatedFieldType,
  SchemaConfig,
} from "./src/schema/schema_config.ts";
export type { Events } from "./src/events/events.ts";
export type { AppendOptions, AppendResult } from "./src/events/append_input.ts";
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
export {
  type AsyncUpcaster,
  defineUpcaster,
  type ReadOnlyDb,
  type Upcaster,
  type UpcasterDescriptor,
} from "./src/events/upcaster.ts";
export { type EventShape, type Renames, UpcasterRegistry } from "./src/events/upcast_registry.ts";
export type { Aggregate, LoadedAggregate } from "./src/events/aggregate.ts";
export type { AggregateValidator } from "./src/events/aggregate_commit.ts";
export {
  AggregateRepository,
  type AggregateRepositoryOptions,
  type CommitAndSnapshotOptions,
} from "./src/events/aggregate_repository.ts";
export {
  type SnapshotFailure,
  Snapshotter,
  type SnapshotterOptions,
  type SnapshotterProgress,
  type SnapshotterSummary,
  type SnapshotterTick,
} from "./src/events/snapshotter.ts";
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
export type { Projection } from "./src/events/projection.ts";
export type { Tenants, TenantStatus } from "./src/tenancy/tenants.ts";
export type { ArchivedTable, ArchiveManifest } from "./src/tenancy/archive.ts";
export { TENANT_NAME_PATTERN } from "./src/tenancy/tenant_name.ts";
export type { ProjectionDaemon, RunOptions } from "./src/projections/daemon.ts";
export type {
  ProgressUpdate,
  RunUntilIdleOptions,
  RunUntilIdleResult,
} from "./src/projections/run_loop.ts";
export type { ProjectionDaemonOptions } from "./src/projections/daemon_options.ts";
export { runAllTenants, type RunAllTenantsOptions } from "./src/tenant_runner.ts";
export type { BackoffOptions } from "./src/processing/backoff.ts";
export type { TickResult } from "./src/projections/tick.ts";
export type { ProjectionStatus } from "./src/projections/admin.ts";
export type { DeadLetter } from "./src/processing/dead_letters.ts";
export {
  type EventField,
  type KeyedState,
  type MultiStreamProjection,
  multiStreamProjection,
  type MultiStreamProjectionOptions,
  type TableProjection,
  type ViewProjection,
  viewProjection,
  type ViewProjectionOptions,
  type ViewRow,
} from "./src/projections/shapes.ts";
export {
  healthHandler,
  type HealthHandlerOptions,
  type HealthServeOptions,
  whileServingHealth,
} from "./src/observability/health_server.ts";
export { type MetricsRegistry, metricsRegistry } from "./src/telemetry/metrics.ts";
export type { NotifyState } from "./src/projections/run_loop.ts";
export type { Subscriptions, SubscriptionStatus } from "./src/subscriptions/subscriptions.ts";
export type { NackOptions, Subscription } from "./src/subscriptions/subscription.ts";
export type { SubscribeOptions } from "./src/subscriptions/subscribe_options.ts";
export type {
  CreateSubscriptionOptions,
  StoredFilter,
  SubscriptionFilter,
} from "./src/subscriptions/filter.ts";
export type { SubscriptionInfo } from "./src/subscriptions/definitions.ts";
export type {
  GroupLease,
  GroupMember,
  GroupMode,
  GroupStatus,
} from "./src/subscriptions/groups.ts";
export type { SubscriptionDeadLetter } from "./src/subscriptions/dead_letters.ts";
export type { SessionAggregates } from "./src/session/session_appends.ts";
