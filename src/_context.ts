/**
 * What every part of a store shares: the executor, the schema its tables live
 * in and the resolved options. Internal; reached through {@linkcode contextOf}.
 *
 * @module
 */
import type { Executor } from "./db/executor.ts";
import type { EventEnvelope } from "./events/envelope.ts";
import type { UpcasterRegistry } from "./events/upcast_registry.ts";
import type { EventSchemas } from "./events/event_schemas.ts";
import type { Projection } from "./events/projection.ts";
import { qualify } from "./db/identifiers.ts";
import { AppendEngine } from "./events/append_combiner.ts";

/** Resolved store-wide settings that parts read. */
export interface StoreSettings {
  /** Headers merged into every appended event. */
  readonly sessionHeaders: Readonly<Record<string, unknown>>;
  /** Default causation id for appends and sessions. */
  readonly causationId?: string;
  /** Default correlation id for appends and sessions. */
  readonly correlationId?: string;
  /** Whether appends serialise per stream with an advisory lock by default. */
  readonly advisoryLocks: boolean;
  /**
   * Brings stored envelopes to their current shape. Every read path (streams,
   * global reads, aggregates, projections, subscriptions) passes its envelopes
   * through it. The identity unless upcasters are configured.
   */
  readonly upcast: (envelopes: EventEnvelope[]) => Promise<EventEnvelope[]>;
  /**
   * The registry behind `upcast`, when configured: appends read the current
   * version of a type from it, and readers filtering by type select the stored
   * types renamed into the wanted ones (`storedTypesFor`).
   */
  readonly upcasters?: UpcasterRegistry;
  /** Projections run inside every append's transaction, by name. */
  readonly inlineProjections: ReadonlyMap<string, Projection>;
  /** JSON Schemas that appended event data must satisfy, when configured. */
  readonly eventSchemas?: EventSchemas;
}

/** The shared context of one store (or one tenant view of it). */
export class StoreContext {
  /**
   * @param executor The database.
   * @param schema The schema holding Rillflow's tables.
   * @param settings Store-wide settings.
   * @param tenant The tenant this context routes to (schema-per-tenant), or null.
   */
  constructor(
    readonly executor: Executor,
    readonly schema: string,
    readonly settings: StoreSettings,
    readonly tenant: string | null = null,
  ) {
    this.appends = new AppendEngine(this);
  }

  /** The append pipeline's per-store state: built statements and stream queues. */
  readonly appends: AppendEngine;

  /**
   * The quoted, schema-qualified name of a table of this store (safe to destructure).
   *
   * @param name The table name.
   * @returns `"schema"."name"`.
   */
  readonly table = (name: string): string => qualify(this.schema, name);
}

/**
 * A store, as the parts below `store.ts` name it: anything `Store.connect`
 * returned (every `Store` is one). Parts that take a store (aggregate
 * repositories, the snapshotter, the health server) type their parameter with
 * it, so that they need not import the composition root above them.
 */
export interface StoreRef {
  /** Where the store points, without credentials. */
  readonly url: string;
}

interface Attached {
  readonly context: StoreContext;
  /** The context a call works on now (schema-per-tenant routing), when it differs. */
  readonly routed?: () => StoreContext;
}

const contexts = new WeakMap<object, Attached>();

/**
 * Attaches a context to a store object.
 *
 * @param store The store.
 * @param context Its context.
 * @param routed The context a call works on now, under schema-per-tenant routing.
 */
export function attachContext(
  store: object,
  context: StoreContext,
  routed?: () => StoreContext,
): void {
  contexts.set(store, { context, routed });
}

function attached(store: object): Attached {
  const entry = contexts.get(store);
  if (!entry) throw new TypeError("Expected a Store created by Store.connect()");
  return entry;
}

/**
 * Returns the context of a store.
 *
 * @param store A store created by `Store.connect`.
 * @returns Its context.
 * @throws {TypeError} When `store` is not a connected Store.
 */
export function contextOf(store: object): StoreContext {
  return attached(store).context;
}

/**
 * The context a call on `store` works on: its own, or under schema-per-tenant
 * the current tenant's (forTenant view or resolver). For parts that hold a
 * store rather than a context (aggregate repositories, the snapshotter).
 *
 * @param store A store created by `Store.connect`.
 * @returns The routed context.
 * @throws {TypeError} When `store` is not a connected Store.
 * @throws {RillflowError} `TENANT_REQUIRED` when no tenant can be named.
 */
export function routedContext(store: object): StoreContext {
  const entry = attached(store);
  return entry.routed ? entry.routed() : entry.context;
}
