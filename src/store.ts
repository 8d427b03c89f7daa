/**
 * The entry point: {@linkcode Store.connect} opens a database and gives access
 * to documents, events and schema management.
 *
 * @module
 */
import { openExecutor } from "./db/executor.ts";
import type { Executor } from "./db/executor.ts";
import { validateIdentifier } from "./db/identifiers.ts";
import { attachContext, contextOf, StoreContext, type StoreSettings } from "./_context.ts";
import { SchemaManager } from "./schema/schema_manager.ts";
import { Documents } from "./documents/documents.ts";
import { Events } from "./events/events.ts";
import { Streams } from "./events/streams.ts";
import { EventSchemas } from "./events/event_schemas.ts";
import { flushEventNotifications } from "./events/notify.ts";
import { assertProjection, type Projection } from "./projections/projection.ts";

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
 * Resolves the store-wide settings of a set of options.
 *
 * @param options The options.
 * @returns The settings.
 * @throws {TypeError} For malformed inline projections or schemas.
 */
function settingsOf(options: StoreOptions): StoreSettings {
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
    upcast: (envelopes) => Promise.resolve(envelopes),
    inlineProjections: inline,
    eventSchemas: options.eventSchemas,
  };
}

function validateOptions(options: StoreOptions): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Store options must be an object");
  }
  validateIdentifier(options.schema ?? "public", "schema");
  for (const key of ["maxConnections", "connectTimeoutMs"] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new RangeError(`${key} must be a positive integer, got ${value}`);
    }
  }
}

/**
 * A connected Rillflow store. Close it with `close()` or `await using`.
 *
 * @example Connect to the embedded default
 * ```ts
 * import { Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect(Deno.env.get("DATABASE_URL") ?? "pglite://memory");
 * console.log(await store.schema.plan()); // [] once migrated
 * ```
 */
export class Store {
  readonly #context: StoreContext;
  readonly #owner: boolean;
  /** Migration planning, sync and drift checks for this store's schema. */
  readonly schema: SchemaManager;
  /** The event store. */
  readonly events: Events;
  /** Stream aliases and metadata. */
  readonly streams: Streams;

  /**
   * Internal: use {@linkcode Store.connect}.
   *
   * @param context The shared context.
   * @param owner Whether closing this store closes the connections.
   */
  protected constructor(context: StoreContext, owner: boolean) {
    this.#context = context;
    this.#owner = owner;
    attachContext(this, context);
    this.schema = new SchemaManager(context.executor, context.schema);
    this.events = new Events(context);
    this.streams = new Streams(context);
  }

  /**
   * Connects to a database.
   *
   * @param url `postgres://…`, `postgresql://…`, `pglite://memory` or `pglite:<dir>`.
   * @param options Schema, pool, timeout, migration and session defaults.
   * @returns A connected store.
   * @throws {RillflowError} `CONNECTION_ERROR` naming host and database (never the password).
   * @throws {TypeError} For an invalid schema name or options.
   */
  static async connect(url: string, options: StoreOptions = {}): Promise<Store> {
    validateOptions(options);
    const settings = settingsOf(options);
    const executor: Executor = await openExecutor(url, {
      maxConnections: options.maxConnections,
      connectTimeoutMs: options.connectTimeoutMs,
    });
    const context = new StoreContext(executor, options.schema ?? "public", settings);
    const store = new Store(context, true);
    try {
      if (options.autoMigrate ?? executor.kind === "pglite") await store.schema.sync();
    } catch (error) {
      await executor.close();
      throw error;
    }
    return store;
  }

  /**
   * A collection of documents.
   *
   * @param collection The collection (table) name; `"docs"` by default.
   * @returns The collection.
   * @throws {TypeError} When the name breaks the identifier rule.
   */
  docs<T = Record<string, unknown>>(collection = "docs"): Documents<T> {
    return new Documents<T>(this.#context, collection);
  }

  /** Where the store points, without credentials. */
  get url(): string {
    return this.#context.executor.description;
  }

  /** Closes the store's connections. */
  async close(): Promise<void> {
    if (!this.#owner) return;
    await flushEventNotifications(this.#context.executor);
    await this.#context.executor.close();
  }

  /** Closes the store at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * A second view of a store on another schema, sharing its connections.
 * Closing the view leaves the connections open. Internal (tests, tenancy).
 *
 * @param store The store whose connections to share.
 * @param schema The other schema.
 * @param options When given, the view's own settings (session defaults, projections, …)
 *   instead of the store's.
 * @returns A store on that schema.
 */
export function storeOnSchema(store: Store, schema: string, options?: StoreOptions): Store {
  validateIdentifier(schema, "schema");
  const base = contextOf(store);
  return new (Store as unknown as new (context: StoreContext, owner: boolean) => Store)(
    new StoreContext(base.executor, schema, options ? settingsOf(options) : base.settings),
    false,
  );
}
