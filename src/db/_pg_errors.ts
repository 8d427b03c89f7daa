/**
 * The one place where driver errors (postgres.js and PGlite) become
 * {@linkcode RillflowError}s. Query text and parameters never reach a message.
 *
 * @module
 */
import { RillflowError } from "../errors.ts";

/** The fields both drivers expose on a server error. */
interface DriverError {
  code?: string;
  message?: string;
  constraint?: string;
  constraint_name?: string;
  table?: string;
  table_name?: string;
  schema?: string;
  schema_name?: string;
}

/** Network-level error codes raised by the runtime rather than the server. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ETIMEDOUT",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/** SQLSTATE classes and codes that mean the connection, not the statement, failed. */
function isConnectionState(state: string): boolean {
  return state.startsWith("08") || state === "28P01" || state === "28000" ||
    state === "3D000" || state === "57P01" || state === "57P02" || state === "57P03" ||
    state === "53300";
}

/**
 * The relations Rillflow's migrations create (`sql/*.sql`; a test keeps the
 * list in step): a statement that finds one of them, or a `rillflow_*`
 * function, missing ran on a schema that was never migrated.
 */
export const RILLFLOW_RELATIONS: ReadonlySet<string> = new Set([
  "aggregate_streams",
  "events",
  "events_global_seq",
  "idempotency_keys",
  "projection_dead_letters",
  "projections",
  "rillflow_collections",
  "rillflow_duplicated_fields",
  "rillflow_migrations",
  "snapshots",
  "stream_aliases",
  "streams",
  "subscription_acks",
  "subscription_dead_letters",
  "subscription_groups",
  "subscription_leases",
  "subscription_members",
  "subscription_partitions",
  "subscription_retries",
  "subscriptions",
]);

/** Whether a 42P01/42883 message names an object Rillflow's migrations create. */
function namesRillflowObject(text: string): boolean {
  const relation = /relation "(?:[^"]*\.)?([a-z0-9_]+)" does not exist/.exec(text)?.[1];
  if (relation !== undefined) return RILLFLOW_RELATIONS.has(relation);
  return /function (?:[a-z0-9_"]+\.)?"?rillflow_[a-z0-9_]+"?\(/.test(text);
}

/**
 * Converts anything a driver throws into a {@linkcode RillflowError}.
 *
 * `details.sqlState`, `details.constraint` and `details.table` let callers
 * refine the error (a primary-key violation becomes a version conflict, …).
 *
 * @param error The thrown value.
 * @returns The typed error; a RillflowError passes through unchanged.
 */
export function mapDatabaseError(error: unknown): RillflowError {
  if (error instanceof RillflowError) return error;
  if (error instanceof TypeError || error instanceof RangeError) throw error;
  const e = (error ?? {}) as DriverError;
  const state = typeof e.code === "string" ? e.code : "";
  const details = {
    sqlState: state || undefined,
    constraint: e.constraint_name ?? e.constraint,
    table: e.table_name ?? e.table,
    schema: e.schema_name ?? e.schema,
  };
  const text = typeof e.message === "string" ? e.message : String(error);
  if (NETWORK_CODES.has(state) || isConnectionState(state)) {
    return new RillflowError("CONNECTION_ERROR", `Database connection failed: ${text}`, {
      cause: error,
      details,
    });
  }
  if ((state === "42P01" || state === "42883") && namesRillflowObject(text)) {
    return new RillflowError(
      "DATABASE_ERROR",
      `Rillflow's tables are missing (${text}): this schema was never migrated. ` +
        "Apply the migrations with `rillflow schema-sync` (or `store.schema.sync()`), " +
        "or connect with `autoMigrate: true`",
      { cause: error, details: { ...details, hint: "schema-sync" }, retryable: false },
    );
  }
  switch (state) {
    case "40001":
    case "40P01":
      return new RillflowError("CONCURRENCY_CONFLICT", `Transaction conflict: ${text}`, {
        cause: error,
        details,
      });
    case "22P02":
    case "22023":
    case "22004":
    case "2201B":
    case "22007":
    case "22008":
    case "22003":
    case "22032":
      return new RillflowError("INVALID_INPUT", `Invalid input: ${text}`, {
        cause: error,
        details,
      });
    default:
      return new RillflowError(
        "DATABASE_ERROR",
        state ? `Database error ${state}: ${text}` : `Database error: ${text}`,
        { cause: error, details, retryable: state === "55P03" || state === "57014" },
      );
  }
}

/**
 * Tells whether a typed error came from a unique-constraint violation.
 *
 * @param error The mapped error.
 * @param constraint When given, the constraint name that must have been violated.
 * @returns `true` for SQLSTATE 23505 (on that constraint).
 */
export function isUniqueViolation(error: RillflowError, constraint?: string): boolean {
  return error.details.sqlState === "23505" &&
    (constraint === undefined || error.details.constraint === constraint);
}
