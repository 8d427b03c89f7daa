/**
 * The options of `Store.connect`: their type, their checks, and the
 * store-wide settings they resolve to.
 *
 * @module
 */
import type { Executor } from "./db/executor.ts";
import { validateIdentifier } from "./db/identifiers.ts";
import type { EventSettings } from "./events/settings.ts";
import { UpcasterRegistry } from "./events/upcast_registry.ts";
import { upcastHook } from "./events/upcast_apply.ts";
import { EventSchemas } from "./events/event_schemas.ts";
import { assertProjection, type Projection } from "./events/projection.ts";

/** Options of {@linkcode Store.connect}. */
export interface StoreOptions {
  /** The schema holding Rillflow's tables (default `public`). */
  schema?: string;
  /** Connection pool size for servers (default 10; PGlite has one connection). */
  maxConnections?: number;
  /** How long connecting may take before `CONNECTION_ERROR` (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** Apply pending migrations on connect (default: on for `pglite:` URLs, off for servers). */
  autoMigrate?: boolean;
  /**
   * What sits between Rillflow and PostgreSQL (`postgres://` URLs only; default `"none"`).
   * `"transaction"`: a pooler in transaction mode, such as PgBouncer with
   * `pool_mode = transaction`. Statements are then sent unnamed (a transaction pooler moves
   * each transaction to whichever server connection is free, where another connection's
   * prepared statements do not exist), and what needs a session of its own (LISTEN for the
   * daemon's and subscriptions' wake-ups, dedicated connections) connects to `directUrl`;
   * without it, starting such a feature fails with `INVALID_INPUT` naming `directUrl`.
   * Documents, queries, appends, sessions, projections and subscriptions that poll all
   * work through the pooler. A pooler in session mode needs no option.
   *
   * @example Behind PgBouncer in transaction mode
   * ```ts ignore
   * const store = await Store.connect("postgres://app:secret@pgbouncer:6432/app", {
   *   pooler: "transaction",
   *   directUrl: "postgres://app:secret@db:5432/app", // LISTEN and dedicated connections
   * });
   * ```
   */
  pooler?: "none" | "transaction";
  /**
   * A `postgres://` URL straight to the PostgreSQL server, bypassing any pooler, for what
   * needs a session of its own: the LISTEN connections of the daemon and of subscriptions,
   * and dedicated connections. Connected and checked by `Store.connect`, like the main URL.
   * Without it these use the main URL, or under `pooler: "transaction"` fail when started.
   */
  directUrl?: string;
  /**
   * Multi-tenancy. `"single"` (default): one schema. `"schema-per-tenant"`: each tenant in
   * schema `tenant_<name>`; operations route to the tenant named by `forTenant(name)`,
   * `session({ tenant })` or the resolver, per transaction.
   */
  tenancy?: {
    /** The strategy. */
    strategy: "single" | "schema-per-tenant";
    /** Names the current tenant (for example from request-scoped storage). */
    resolver?: () => string | undefined;
  };
  /**
   * Upcasters applied on every read (streams, global reads, aggregates,
   * projections, subscriptions); new events built without an explicit version
   * are stored with their type's current version.
   */
  upcasters?: UpcasterRegistry;
  /** Defaults applied to appends and sessions. */
  session?: {
    /** Headers merged into every appended event. */
    headers?: Record<string, unknown>;
    /** Default causation id. */
    causationId?: string;
    /** Default correlation id. */
    correlationId?: string;
    /** Serialise appends per stream with advisory locks by default. */
    advisoryLocks?: boolean;
  };
  /** Projections run by the store itself. */
  projections?: {
    /**
     * Inline projections by name: they run inside the transaction of every
     * append of an event type they handle, and a failing one fails the append
     * (nothing is written).
     */
    inline?: Record<string, Projection>;
  };
  /** JSON Schemas that appended event data must satisfy (per type and version). */
  eventSchemas?: EventSchemas;
}

/**
 * Checks the options of `Store.connect` before anything opens.
 *
 * @param options The options.
 * @throws {TypeError} For a malformed option.
 * @throws {RangeError} For an out-of-range number.
 */
export function validateOptions(options: StoreOptions): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Store options must be an object");
  }
  validateIdentifier(options.schema ?? "public", "schema");
  const tenancy = options.tenancy;
  if (
    tenancy !== undefined &&
    (tenancy === null || typeof tenancy !== "object" ||
      !["single", "schema-per-tenant"].includes(tenancy.strategy) ||
      (tenancy.resolver !== undefined && typeof tenancy.resolver !== "function"))
  ) {
    throw new TypeError(
      `tenancy must be { strategy: "single" | "schema-per-tenant", resolver?: () => string | undefined }`,
    );
  }
  for (const key of ["maxConnections", "connectTimeoutMs"] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new RangeError(`${key} must be a positive integer, got ${value}`);
    }
  }
  if (options.upcasters !== undefined && !(options.upcasters instanceof UpcasterRegistry)) {
    throw new TypeError("upcasters must be an UpcasterRegistry");
  }
  validatePoolerOptions(options);
}

/** `pooler` and `directUrl`; the URL is never echoed (it may hold a password). */
function validatePoolerOptions(options: StoreOptions): void {
  const { pooler, directUrl } = options;
  if (pooler !== undefined && pooler !== "none" && pooler !== "transaction") {
    throw new TypeError(`pooler must be "none" or "transaction", got ${JSON.stringify(pooler)}`);
  }
  if (directUrl === undefined) return;
  if (typeof directUrl !== "string" || !/^postgres(ql)?:\/\//.test(directUrl)) {
    throw new TypeError("directUrl must be a postgres:// or postgresql:// URL");
  }
  try {
    new URL(directUrl);
  } catch {
    throw new TypeError("directUrl must be a postgres:// or postgresql:// URL (it is malformed)");
  }
}

/**
 * `pooler` and `directUrl` concern servers: with an embedded URL they are a mistake.
 *
 * @param url The database URL.
 * @param options The options.
 * @throws {TypeError} For either option with a `pglite:` URL.
 */
export function validateOptionsForUrl(url: string, options: StoreOptions): void {
  const server = typeof url === "string" && /^postgres(ql)?:\/\//.test(url);
  if (!server && ((options.pooler ?? "none") !== "none" || options.directUrl !== undefined)) {
    throw new TypeError("pooler and directUrl apply to postgres:// and postgresql:// URLs only");
  }
}

/**
 * Resolves the store-wide settings of a set of options.
 *
 * @param options The options.
 * @param executor The database (the upcast hook reads stored types there).
 * @param schema The store's schema.
 * @returns The settings every context of the store is made with.
 * @throws {TypeError} For malformed inline projections or schemas.
 */
export function settingsFor(
  options: StoreOptions,
  executor: Executor,
  schema: string,
): EventSettings {
  const upcasters = options.upcasters;
  const inline = new Map<string, Projection>();
  for (const [name, projection] of Object.entries(options.projections?.inline ?? {})) {
    assertProjection(name, projection);
    inline.set(name, projection);
  }
  if (options.eventSchemas !== undefined && !(options.eventSchemas instanceof EventSchemas)) {
    throw new TypeError("eventSchemas must be an EventSchemas registry");
  }
  return {
    sessionHeaders: { ...options.session?.headers },
    causationId: options.session?.causationId,
    correlationId: options.session?.correlationId,
    advisoryLocks: options.session?.advisoryLocks ?? false,
    upcast: upcasters
      ? upcastHook(upcasters, executor, schema)
      : (envelopes) => Promise.resolve(envelopes),
    upcasters,
    inlineProjections: inline,
    eventSchemas: options.eventSchemas,
  };
}

/**
 * A store's settings for a view on another schema: the upcast hook reads there.
 *
 * @param settings The store's settings.
 * @param executor The database.
 * @param schema The view's schema.
 * @returns The view's settings.
 */
export function settingsOnSchema(
  settings: EventSettings,
  executor: Executor,
  schema: string,
): EventSettings {
  return settings.upcasters
    ? { ...settings, upcast: upcastHook(settings.upcasters, executor, schema) }
    : settings;
}
