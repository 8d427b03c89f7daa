/**
 * What every part of a store shares: the executor, the schema its tables live
 * in and the resolved options. Internal; reached through {@linkcode contextOf}.
 *
 * @module
 */
import type { Executor } from "./db/executor.ts";
import { qualify } from "./db/identifiers.ts";

/**
 * Resolved store-wide settings that parts read. The layers above add the
 * settings they own to this interface (the events layer: upcasting, event
 * schemas, inline projections, in `events/settings.ts`), so the context
 * imports nothing from above it.
 */
export interface StoreSettings {
  /** Headers merged into every appended event. */
  readonly sessionHeaders: Readonly<Record<string, unknown>>;
  /** Default causation id for appends and sessions. */
  readonly causationId?: string;
  /** Default correlation id for appends and sessions. */
  readonly correlationId?: string;
  /** Whether appends serialise per stream with an advisory lock by default. */
  readonly advisoryLocks: boolean;
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
  ) {}

  /** Per-store state the parts keep with their context, by the key each owns. */
  readonly #state = new Map<object, unknown>();

  /**
   * The per-store state a part keeps under `key`, made by `create` on first use
   * (the events layer keeps its append engine here).
   *
   * @param key The part's own key object.
   * @param create Makes the state for this context.
   * @returns The state.
   */
  stateOf<T>(key: object, create: () => T): T {
    if (!this.#state.has(key)) this.#state.set(key, create());
    return this.#state.get(key) as T;
  }

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
