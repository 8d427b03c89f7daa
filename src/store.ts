/**
 * The entry point: {@linkcode Store.connect} opens a database and gives access
 * to documents, events and schema management.
 *
 * @module
 */
import { openExecutor } from "./db/executor.ts";
import type { Executor } from "./db/executor.ts";
import { validateIdentifier } from "./db/identifiers.ts";
import { attachContext, contextOf, StoreContext } from "./_context.ts";
import { SchemaManager } from "./schema/schema_manager.ts";
import { Documents } from "./documents/documents.ts";
import { Events } from "./events/events.ts";
import type { StoreSettings } from "./_context.ts";
import { UpcasterRegistry } from "./events/upcast_registry.ts";
import { upcastHook } from "./events/upcast_apply.ts";

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
  if (options.upcasters !== undefined && !(options.upcasters instanceof UpcasterRegistry)) {
    throw new TypeError("upcasters must be an UpcasterRegistry");
  }
}

function settingsFor(options: StoreOptions, executor: Executor, schema: string): StoreSettings {
  const upcasters = options.upcasters;
  return {
    sessionHeaders: { ...options.session?.headers },
    causationId: options.session?.causationId,
    correlationId: options.session?.correlationId,
    advisoryLocks: options.session?.advisoryLocks ?? false,
    upcast: upcasters
      ? upcastHook(upcasters, executor, schema)
      : (envelopes) => Promise.resolve(envelopes),
    upcasters,
  };
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
    const executor: Executor = await openExecutor(url, {
      maxConnections: options.maxConnections,
      connectTimeoutMs: options.connectTimeoutMs,
    });
    const schema = options.schema ?? "public";
    const context = new StoreContext(executor, schema, settingsFor(options, executor, schema));
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
    if (this.#owner) await this.#context.executor.close();
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
 * @param options Settings for the view (session defaults, upcasters); the
 *   store's own settings when omitted.
 * @returns A store on that schema.
 */
export function storeOnSchema(store: Store, schema: string, options?: StoreOptions): Store {
  validateIdentifier(schema, "schema");
  if (options) validateOptions(options);
  const { executor, settings } = contextOf(store);
  const viewSettings = options
    ? settingsFor(options, executor, schema)
    : settings.upcasters
    ? { ...settings, upcast: upcastHook(settings.upcasters, executor, schema) }
    : settings;
  return new (Store as unknown as new (context: StoreContext, owner: boolean) => Store)(
    new StoreContext(executor, schema, viewSettings),
    false,
  );
}
