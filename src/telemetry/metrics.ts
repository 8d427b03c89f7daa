/**
 * Rillflow's Prometheus metrics, in one prom-client registry per process,
 * with small recording functions the rest of the code calls. The health
 * server exposes the registry at `/metrics`; merge it into an application
 * registry with `Registry.merge([appRegistry, metricsRegistry])`.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * What Rillflow's metric registry offers. It is a prom-client `Registry`: to
 * serve Rillflow's metrics with an application's, pass it to
 * `Registry.merge([appRegistry, metricsRegistry as Registry])`.
 */
export interface MetricsRegistry {
  /** Every metric in the Prometheus text format. */
  metrics(): Promise<string>;
  /** The `content-type` of that text. */
  readonly contentType: string;
  /** Resets every metric to zero. */
  resetMetrics(): void;
}

/**
 * The hot-path recordings (every append and document read or write) wait in
 * plain maps and reach prom-client when the registry is read (each hot
 * metric's `collect` hook flushes them) or when many have piled up:
 * prom-client's labelled `observe` and `inc` cost several microseconds per
 * call on a path the CPU has not just run, a fifth of a one-event append's
 * overhead over a plain INSERT (bench/README.md). Resetting the registry
 * drops them.
 */
class RillflowRegistry extends Registry {
  override resetMetrics(): void {
    pendingCounts.clear();
    pendingSeconds.clear();
    super.resetMetrics();
  }
}

const registry = new RillflowRegistry();

/**
 * The registry holding every Rillflow metric of this process.
 *
 * @example Print the metrics
 * ```ts
 * import { metricsRegistry } from "@rillflow/rillflow";
 *
 * console.log(await metricsRegistry.metrics());
 * ```
 */
export const metricsRegistry: MetricsRegistry = registry;

/** The same registry with prom-client's type, for modules that register their own metrics. */
export const promRegistry: Registry = registry;

const registers = [registry];
/** Latency buckets from 0.5 ms to 10 s. */
const SECONDS_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  10,
];

const projectionLabels = ["schema", "tenant", "projection"] as const;

/**
 * Where a series comes from: the store's schema and its tenant (a store
 * context fits). Under the single strategy the tenant label is empty.
 */
export interface MetricScope {
  /** The schema holding the tables. */
  readonly schema: string;
  /** The tenant (schema-per-tenant), or null. */
  readonly tenant: string | null;
}

/**
 * The labels of a projection's series.
 *
 * @param scope The schema and tenant.
 * @param projection The projection.
 * @returns The labels.
 */
function projectionSeries(scope: MetricScope, projection: string) {
  return { schema: scope.schema, tenant: scope.tenant ?? "", projection };
}

const projectionEvents = new Counter({
  name: "rillflow_projection_events_processed_total",
  help: "Events applied by projections",
  labelNames: projectionLabels,
  registers,
});
const projectionDeadLettered = new Counter({
  name: "rillflow_projection_events_dead_lettered_total",
  help: "Events projections moved to their dead-letter queue",
  labelNames: projectionLabels,
  registers,
});
const projectionFailures = new Counter({
  name: "rillflow_projection_failures_total",
  help: "Failed attempts to apply an event",
  labelNames: projectionLabels,
  registers,
});
const projectionBatchSeconds = new Histogram({
  name: "rillflow_projection_batch_duration_seconds",
  help: "Duration of projection batches (read, apply, checkpoint)",
  labelNames: projectionLabels,
  buckets: SECONDS_BUCKETS,
  registers,
});
const projectionLag = new Gauge({
  name: "rillflow_projection_lag",
  help: "Global positions between a projection's checkpoint and the head it can read",
  labelNames: projectionLabels,
  registers,
});
const projectionCheckpoint = new Gauge({
  name: "rillflow_projection_checkpoint",
  help: "A projection's checkpoint (global position)",
  labelNames: projectionLabels,
  registers,
});
const projectionDeadLetters = new Gauge({
  name: "rillflow_projection_dead_letters",
  help: "Entries in a projection's dead-letter queue",
  labelNames: projectionLabels,
  registers,
});
const appends = new Counter({
  name: "rillflow_appends_total",
  help: "Successful append calls",
  registers,
  collect: flushPending,
});
const eventsAppended = new Counter({
  name: "rillflow_events_appended_total",
  help: "Events appended",
  registers,
  collect: flushPending,
});
const appendConflicts = new Counter({
  name: "rillflow_append_conflicts_total",
  help: "Appends rejected by the expected-version check",
  registers,
});
const documentReads = new Counter({
  name: "rillflow_document_reads_total",
  help: "Document reads",
  labelNames: ["collection"],
  registers,
  collect: flushPending,
});
const documentWrites = new Counter({
  name: "rillflow_document_writes_total",
  help: "Successful document writes",
  labelNames: ["collection"],
  registers,
  collect: flushPending,
});
const documentConflicts = new Counter({
  name: "rillflow_document_conflicts_total",
  help: "Document writes rejected by the version check",
  labelNames: ["collection"],
  registers,
});
const queryDuration = new Histogram({
  name: "rillflow_query_duration_seconds",
  help: "Duration of database operations by operation",
  labelNames: ["operation"],
  buckets: SECONDS_BUCKETS,
  registers,
  collect: flushPending,
});
const poolMax = new Gauge({
  name: "rillflow_pool_max_connections",
  help: "Configured size of the connection pool",
  registers,
});
const databaseConnections = new Gauge({
  name: "rillflow_database_connections",
  help: "Connections to the store's database by state, as pg_stat_activity reports them",
  labelNames: ["state"],
  registers,
});

/**
 * Records a successful append.
 *
 * @param events How many events it wrote.
 */
export function recordAppend(events: number): void {
  count(appends, "", 1);
  count(eventsAppended, "", events);
}

/** Records an append rejected by its expected version. */
export function recordAppendConflict(): void {
  appendConflicts.inc();
}

/**
 * Records a document read.
 *
 * @param collection The collection.
 */
export function recordDocumentRead(collection: string): void {
  count(documentReads, collection, 1);
}

/**
 * Records a successful document write.
 *
 * @param collection The collection.
 */
export function recordDocumentWrite(collection: string): void {
  count(documentWrites, collection, 1);
}

/**
 * Records a document write rejected by its version check.
 *
 * @param collection The collection.
 */
export function recordDocumentConflict(collection: string): void {
  documentConflicts.inc({ collection });
}

/**
 * Records how long a database operation took.
 *
 * @param operation `append`, `document_write`, `document_read`, `projection_batch`, …
 * @param seconds The duration.
 */
export function observeQuery(operation: string, seconds: number): void {
  let waiting = pendingSeconds.get(operation);
  if (!waiting) pendingSeconds.set(operation, waiting = []);
  if (waiting.push(seconds) >= MAX_PENDING) flushPending();
}

/** Durations waiting for prom-client, by operation. */
const pendingSeconds = new Map<string, number[]>();
/** Increments waiting for prom-client, by counter and collection ("" for unlabelled counters). */
const pendingCounts = new Map<Counter, Map<string, number>>();
/** Above this many waiting durations of one operation, they are handed over at once. */
const MAX_PENDING = 1024;

function count(counter: Counter, label: string, by: number): void {
  let waiting = pendingCounts.get(counter);
  if (!waiting) pendingCounts.set(counter, waiting = new Map());
  waiting.set(label, (waiting.get(label) ?? 0) + by);
}

/** Hands the waiting recordings to prom-client. */
function flushPending(): void {
  for (const [operation, durations] of pendingSeconds) {
    const series = queryDuration.labels(operation);
    for (const seconds of durations) series.observe(seconds);
  }
  pendingSeconds.clear();
  for (const [counter, byLabel] of pendingCounts) {
    for (const [label, by] of byLabel) {
      if (label === "") counter.inc(by);
      else counter.inc({ collection: label }, by);
    }
  }
  pendingCounts.clear();
}

/** What one projection batch did. */
export interface ProjectionBatchRecord {
  /** Events applied. */
  readonly applied: number;
  /** Events dead-lettered. */
  readonly deadLettered: number;
  /** Failed attempts (dead-lettered or scheduled for retry). */
  readonly failures: number;
  /** The batch's duration. */
  readonly seconds: number;
}

/**
 * Records a projection batch.
 *
 * @param scope The store's schema and tenant.
 * @param projection The projection.
 * @param batch What it did.
 */
export function recordProjectionBatch(
  scope: MetricScope,
  projection: string,
  batch: ProjectionBatchRecord,
): void {
  const labels = projectionSeries(scope, projection);
  projectionEvents.inc(labels, batch.applied);
  if (batch.deadLettered > 0) projectionDeadLettered.inc(labels, batch.deadLettered);
  if (batch.failures > 0) projectionFailures.inc(labels, batch.failures);
  projectionBatchSeconds.observe(labels, batch.seconds);
  queryDuration.observe({ operation: "projection_batch" }, batch.seconds);
}

/**
 * Sets a projection's position gauges.
 *
 * @param scope The store's schema and tenant.
 * @param projection The projection.
 * @param position Its checkpoint, the head it can read and (when known) its dead-letter count.
 */
export function setProjectionPosition(
  scope: MetricScope,
  projection: string,
  position: { checkpoint: number; head: number; deadLetters?: number },
): void {
  const labels = projectionSeries(scope, projection);
  projectionCheckpoint.set(labels, position.checkpoint);
  projectionLag.set(labels, Math.max(0, position.head - position.checkpoint));
  if (position.deadLetters !== undefined) projectionDeadLetters.set(labels, position.deadLetters);
}

/**
 * Sets the connection gauges.
 *
 * @param maxConnections The pool's configured size.
 * @param byState Connections to the database by state.
 */
export function setConnectionGauges(
  maxConnections: number,
  byState: Readonly<Record<string, number>>,
): void {
  poolMax.set(maxConnections);
  databaseConnections.reset();
  for (const [state, count] of Object.entries(byState)) databaseConnections.set({ state }, count);
}
