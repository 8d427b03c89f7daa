/**
 * The entry point: {@linkcode Store.connect} opens a database and gives access
 * to documents, events and schema management.
 *
 * @module
 */
import { openExecutor } from "./db/open.ts";
import { validateIdentifier } from "./db/identifiers.ts";
import type { Executor } from "./db/executor.ts";
import { attachContext, contextOf, StoreContext, type StoreRef } from "./_context.ts";
import { SchemaManager } from "./schema/schema_manager.ts";
import { Documents } from "./documents/documents.ts";
import { DocumentSession, type SessionOptions } from "./session/session.ts";
import { Events } from "./events/events.ts";
import { eventSettings } from "./events/settings.ts";
import { RillflowError } from "./errors.ts";
import { Tenants } from "./tenancy/tenants.ts";
import { tenantSchema } from "./tenancy/tenant_name.ts";
import { tenantExecutor } from "./tenancy/tenant_executor.ts";

import { ProjectionDaemon } from "./projections/daemon.ts";
import type { ProjectionDaemonOptions } from "./projections/daemon_options.ts";
import { Subscriptions } from "./subscriptions/subscriptions.ts";
import { OpenMembers } from "./subscriptions/open_members.ts";
import { Streams } from "./events/streams.ts";
import { flushEventNotifications } from "./events/notify.ts";
import {
  settingsFor,
  settingsOnSchema,
  type StoreOptions,
  validateOptions,
  validateOptionsForUrl,
} from "./store_options.ts";

let openMembersOf: (store: Store) => OpenMembers;

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
export class Store implements StoreRef {
  readonly #context: StoreContext;
  readonly #owner: boolean;
  readonly #tenancy: Required<StoreOptions>["tenancy"];
  readonly #tenantViews = new Map<string, Store>();
  readonly #events: Events;
  /** Migration planning, sync and drift checks for this store's schema. */
  readonly schema: SchemaManager;
  /** Tenant provisioning and lifecycle (schema-per-tenant). */
  readonly tenants: Tenants;
  readonly #subscriptions: Subscriptions;
  /** Subscription members open on these connections (shared with views): closed first. */
  readonly #openMembers: OpenMembers;
  readonly #streams: Streams;

  /**
   * Internal: use {@linkcode Store.connect}.
   *
   * @param context The shared context.
   * @param owner Whether closing this store closes the connections.
   * @param openMembers The open members of the store owning the connections (a view's owner's).
   */
  protected constructor(
    context: StoreContext,
    owner: boolean,
    tenancy: Required<StoreOptions>["tenancy"] = { strategy: "single" },
    tenants?: Tenants,
    openMembers: OpenMembers = new OpenMembers(),
  ) {
    this.#context = context;
    this.#owner = owner;
    this.#openMembers = openMembers;
    this.#tenancy = tenancy;
    attachContext(this, context, () => this.#routed().#context);
    this.schema = new SchemaManager(context.executor, context.schema);
    this.tenants = tenants ?? new Tenants(context.executor);
    this.#events = new Events(context);
    this.#subscriptions = new Subscriptions(context, openMembers);
    this.#streams = new Streams(context);
  }

  /**
   * The store the current call works on: itself, or under schema-per-tenant (when this
   * is not already a tenant view) the view of the resolver's tenant.
   */
  #routed(): Store {
    if (this.#tenancy.strategy === "single" || this.#context.tenant !== null) return this;
    const tenant = this.#tenancy.resolver?.();
    if (tenant === undefined || tenant === null || tenant === "") {
      throw new RillflowError(
        "TENANT_REQUIRED",
        "This store is schema-per-tenant: name the tenant with forTenant(name), " +
          "session({ tenant }) or a tenancy resolver",
      );
    }
    return this.forTenant(tenant);
  }

  static {
    openMembersOf = (store) => store.#openMembers;
  }

  /** The event store (routed to the current tenant under schema-per-tenant). */
  get events(): Events {
    return this.#routed().#events;
  }

  /**
   * Filtered catch-up feeds with consumer groups, acks and dead letters (routed to the
   * current tenant under schema-per-tenant).
   */
  get subscriptions(): Subscriptions {
    return this.#routed().#subscriptions;
  }

  /** Stream aliases and metadata (routed to the current tenant under schema-per-tenant). */
  get streams(): Streams {
    return this.#routed().#streams;
  }

  /**
   * A view of this store routed to one tenant's schema, sharing the connection pool.
   * Every statement names the tenant's schema explicitly, so no pooled connection ever
   * carries a tenant from one caller to the next. A tenant whose schema does not exist
   * fails with `TENANT_NOT_FOUND` at the first operation (checked against the database,
   * so tenants provisioned by other processes work at once).
   *
   * @param tenant The tenant name.
   * @returns The tenant's view (cached).
   * @throws {TypeError} When the name breaks the tenant name rule.
   * @throws {RillflowError} `INVALID_INPUT` when the store is not schema-per-tenant.
   */
  forTenant(tenant: string): Store {
    const schema = tenantSchema(tenant);
    if (this.#tenancy.strategy !== "schema-per-tenant") {
      throw new RillflowError(
        "INVALID_INPUT",
        `Cannot route to tenant "${tenant}": the store's tenancy strategy is "single"`,
      );
    }
    if (this.#context.tenant !== null) {
      return this.#context.tenant === tenant ? this : this.#root().forTenant(tenant);
    }
    let view = this.#tenantViews.get(tenant);
    if (!view) {
      const executor = tenantExecutor(this.#context.executor, tenant, schema);
      const settings = settingsOnSchema(eventSettings(this.#context), executor, schema);
      const context = new StoreContext(executor, schema, settings, tenant);
      view = new Store(context, false, this.#tenancy, this.tenants, this.#openMembers);
      this.#tenantViews.set(tenant, view);
      rootOf.set(view, this);
    }
    return view;
  }

  #root(): Store {
    return rootOf.get(this) ?? this;
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
    validateOptionsForUrl(url, options);
    const executor: Executor = await openExecutor(url, {
      maxConnections: options.maxConnections,
      connectTimeoutMs: options.connectTimeoutMs,
      pooler: options.pooler,
      directUrl: options.directUrl,
    });
    const schema = options.schema ?? "public";
    const context = new StoreContext(executor, schema, settingsFor(options, executor, schema));
    const tenancy = options.tenancy ?? { strategy: "single" as const };
    const store = new Store(context, true, tenancy);
    try {
      const migrate = options.autoMigrate ?? executor.kind === "pglite";
      // Under schema-per-tenant the tables live in tenant schemas: tenants.ensure migrates them.
      if (migrate && tenancy.strategy === "single") {
        await store.schema.sync();
        await refuseChangedMigrations(store.schema);
      }
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
    const routed = this.#routed();
    return new Documents<T>(routed.#context, collection);
  }

  /**
   * Starts a unit of work: loads through an identity map, writes staged until
   * `saveChanges()`, which runs them in one transaction.
   *
   * @param options The tenant (schema-per-tenant), the session's user and event defaults
   *   (over the store's `session` options).
   * @returns A new session.
   * @throws {RillflowError} `TENANT_REQUIRED` under schema-per-tenant when no tenant is named.
   */
  session(options: SessionOptions & { tenant?: string } = {}): DocumentSession {
    const { tenant, ...rest } = options;
    const routed = tenant === undefined ? this.#routed() : this.forTenant(tenant);
    return new DocumentSession(routed.#context, rest);
  }

  /**
   * A projection daemon on this store: register projections, then run them
   * (`runUntilIdle()`, `run({ signal })`) or administer them.
   *
   * @param options Batch size, lease, backoff, polling, notification channel and node name.
   * @returns A new daemon (on the current tenant's schema under schema-per-tenant).
   * @throws {RangeError} For out-of-range options.
   * @throws {RillflowError} `TENANT_REQUIRED` under schema-per-tenant when no tenant is named.
   */
  projections(options: ProjectionDaemonOptions = {}): ProjectionDaemon {
    return new ProjectionDaemon(this.#routed().#context, options);
  }

  /** Where the store points, without credentials. */
  get url(): string {
    return this.#context.executor.description;
  }

  /**
   * Closes the store's connections, after closing the subscription members open on them
   * (this store's and its views'): their leases are released and their checkpoints written
   * first. A member whose close fails reports it to its `onError`.
   */
  async close(): Promise<void> {
    if (!this.#owner) return;
    await this.#openMembers.closeAll();
    await flushEventNotifications(this.#context.executor);
    await this.#context.executor.close();
  }

  /** Closes the store at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const rootOf = new WeakMap<Store, Store>();

/**
 * Fails a connect that migrated a schema whose applied migrations changed since: such a
 * schema is never re-migrated, and running on it fails later with obscure SQL errors.
 */
async function refuseChangedMigrations(schema: SchemaManager): Promise<void> {
  const changed = await schema.changedMigrations();
  if (changed.length === 0) return;
  throw new RillflowError(
    "DATABASE_ERROR",
    `Schema "${schema.schemaName}" has drifted: ${
      changed.map((item) => `${item.object} (${item.detail})`).join("; ")
    }. Run "rillflow health schema" for the full report`,
    { retryable: false, details: { drift: changed } },
  );
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
  const context = contextOf(store);
  const { executor } = context;
  const viewSettings = options
    ? settingsFor(options, executor, schema)
    : settingsOnSchema(eventSettings(context), executor, schema);
  return new (Store as unknown as new (
    context: StoreContext,
    owner: boolean,
    tenancy: undefined,
    tenants: undefined,
    openMembers: OpenMembers,
  ) => Store)(
    new StoreContext(executor, schema, viewSettings),
    false,
    undefined,
    undefined,
    openMembersOf(store),
  );
}
