/**
 * The projection daemon: applies events to read models in checkpointed
 * batches, one worker per projection across processes.
 *
 * @module
 */
import { StoreContext } from "../_context.ts";
import { validateIdentifier } from "../db/identifiers.ts";
import { RillflowError } from "../errors.ts";
import * as admin from "./admin.ts";
import type { DeadLetter } from "../processing/dead_letters.ts";
import {
  type ProjectionDaemonOptions,
  resolveDaemonOptions,
  type ResolvedDaemonOptions,
  validateProjectionName,
} from "./daemon_options.ts";
import { releaseLease } from "../processing/lease.ts";
import { assertProjection, type Projection } from "../events/projection.ts";
import {
  type LoopState,
  type NotifyState,
  runLoop,
  runUntilIdle,
  type RunUntilIdleOptions,
  type RunUntilIdleResult,
} from "./run_loop.ts";
import {
  prepareProjection,
  projectionLeaseTarget,
  type Registration,
  tickProjection,
  type TickResult,
} from "./tick.ts";

/** Options of {@linkcode ProjectionDaemon.run}. */
export interface RunOptions {
  /** Stops the loop (the current batch finishes, leases are released). */
  signal: AbortSignal;
  /** LISTEN for appends to wake at once (default `true`); polling remains the fallback. */
  useNotify?: boolean;
}

/**
 * Applies events to read models in batches, reached with `store.projections(options)`.
 * Each batch reads events after the checkpoint through the no-skip watermark,
 * applies them in order and moves the checkpoint in the same transaction.
 * Failing events are retried with exponential backoff, then dead-lettered.
 *
 * @example Register, append, catch up
 * ```ts
 * import { event, Expected, Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory");
 * const daemon = store.projections({ batchSize: 500 });
 * daemon.register("order_count", {
 *   eventTypes: ["OrderPlaced"],
 *   async setup(tx) {
 *     await tx.query("create table if not exists order_count (id int primary key, n int not null)");
 *   },
 *   async apply(_event, tx) {
 *     await tx.sql`insert into order_count values (1, 1) on conflict (id) do update set n = order_count.n + 1`;
 *   },
 * });
 * await store.events.append(crypto.randomUUID(), Expected.any, [event("OrderPlaced", {})]);
 * await daemon.runUntilIdle();
 * ```
 */
export class ProjectionDaemon {
  readonly #context: StoreContext;
  readonly #options: ResolvedDaemonOptions;
  readonly #registrations = new Map<string, Registration>();
  readonly #loop: LoopState = { notify: "stopped", failedTicks: 0 };
  #running = false;

  /**
   * Created by the store; use `store.projections(options)`.
   *
   * @param context The store's context.
   * @param options Batch size, lease, backoff, polling and notification settings.
   * @throws {RangeError} For out-of-range options.
   * @throws {TypeError} For an invalid schema, channel or node name.
   */
  constructor(context: StoreContext, options: ProjectionDaemonOptions = {}) {
    this.#options = resolveDaemonOptions(options);
    this.#context = options.schema === undefined ? context : new StoreContext(
      context.executor,
      validateIdentifier(options.schema, "schema"),
      context.settings,
    );
  }

  /** This worker's name in leases. */
  get node(): string {
    return this.#options.node;
  }

  /** The names registered with this daemon. */
  get names(): string[] {
    return [...this.#registrations.keys()];
  }

  /**
   * Registers a projection under a name (its checkpoint's key).
   *
   * @param name 1–200 characters without control characters.
   * @param projection The handlers.
   * @returns This daemon, for chaining.
   * @throws {TypeError} For an invalid name or projection, or a name registered twice.
   */
  register(name: string, projection: Projection): this {
    validateProjectionName(name);
    assertProjection(name, projection);
    if (this.#registrations.has(name)) {
      throw new TypeError(`Projection "${name}" is already registered`);
    }
    this.#registrations.set(name, { name, projection });
    return this;
  }

  #registration(name: string): Registration {
    validateProjectionName(name);
    const registration = this.#registrations.get(name);
    if (!registration) {
      throw new RillflowError(
        "UNKNOWN_PROJECTION",
        `No projection named "${name}" is registered with this daemon`,
        { details: { projection: name } },
      );
    }
    return registration;
  }

  /**
   * Runs at most one batch of a projection.
   *
   * @param name A registered projection.
   * @returns The status and how many events were applied.
   * @throws {RillflowError} `UNKNOWN_PROJECTION`; `LEASE_LOST` when deposed mid-batch (nothing committed).
   */
  tickOnce(name: string): Promise<TickResult> {
    const registration = this.#registration(name);
    return tickProjection({ context: this.#context, options: this.#options }, registration);
  }

  /**
   * Runs at most one batch of every registered projection, one after another.
   *
   * @returns The result of each, by name.
   */
  async tickAll(): Promise<Record<string, TickResult>> {
    const results: Record<string, TickResult> = {};
    for (const name of this.#registrations.keys()) results[name] = await this.tickOnce(name);
    return results;
  }

  /**
   * Ticks until every projection is idle (caught up), paused or leased by
   * another worker; waits out retry backoffs on the way.
   *
   * @param options Which projections, a stop signal and a progress callback.
   * @returns How many events were applied and dead-lettered.
   */
  async runUntilIdle(options: RunUntilIdleOptions = {}): Promise<RunUntilIdleResult> {
    const names = [...(options.names ?? this.#registrations.keys())];
    for (const name of names) this.#registration(name);
    return await runUntilIdle(names, (name) => this.tickOnce(name), options);
  }

  /**
   * Runs until `signal` aborts: batches while there is work; when idle, sleeps
   * until a NOTIFY of an append (with `useNotify`), a due retry or the poll
   * interval. Errors are reported to `onError` and the loop goes on. On stop,
   * the leases are released so another worker takes over at once.
   *
   * @param options The stop signal and notification use. A health server is composed around
   *   it (`whileServingHealth`, `healthHandler`), not started by the daemon.
   * @throws {TypeError} When this daemon is already running.
   * @throws {RillflowError} `INVALID_INPUT` at start, before any work, when it should LISTEN
   *   (`useNotify`, the default) but the store is behind a transaction pooler without
   *   `directUrl`.
   */
  async run(options: RunOptions): Promise<void> {
    if (this.#running) throw new TypeError("This projection daemon is already running");
    this.#running = true;
    try {
      await runLoop(
        {
          context: this.#context,
          options: this.#options,
          tickEach: () => this.#tickEach(),
          releaseLeases: () => this.#releaseLeases(),
        },
        options.signal,
        options.useNotify ?? true,
        this.#loop,
      );
    } finally {
      this.#running = false;
    }
  }

  /** How wake-ups reach the running loop: `listening`, `polling` or `stopped`. */
  get notifyState(): NotifyState {
    return this.#loop.notify;
  }

  async #tickEach() {
    const out: Array<{ name: string; result?: TickResult; error?: unknown }> = [];
    for (const name of this.#registrations.keys()) {
      try {
        out.push({ name, result: await this.tickOnce(name) });
      } catch (error) {
        out.push({ name, error });
      }
    }
    return out;
  }

  /**
   * Releases the leases this daemon holds, so another worker can take over at
   * once instead of after `leaseTtlMs` (`run` does this when it stops).
   */
  releaseLeases(): Promise<void> {
    return this.#releaseLeases();
  }

  async #releaseLeases(): Promise<void> {
    for (const [name, registration] of this.#registrations) {
      registration.lease = undefined;
      await releaseLease(
        this.#context.executor,
        projectionLeaseTarget(this.#context, name),
        this.#options.node,
      );
    }
  }

  /** Creates the rows of registered projections (so admin calls see them before a first batch). */
  async #ensureRows(names: Iterable<string>): Promise<void> {
    const registered = [...names].filter((name) => this.#registrations.has(name));
    if (registered.length === 0) return;
    await this.#context.executor.query(
      `insert into ${this.#context.table("projections")} (name)
       select unnest($1::text[]) on conflict (name) do nothing`,
      [registered],
    );
  }

  /**
   * Lists every projection recorded in the database or registered here.
   *
   * @returns Their statuses, by name.
   */
  async list(): Promise<admin.ProjectionStatus[]> {
    await this.#ensureRows(this.#registrations.keys());
    return admin.readStatuses(this.#context, undefined, new Set(this.#registrations.keys()));
  }

  /**
   * Reads one projection's status: checkpoint, head, lag, lease, retry state, dead letters.
   *
   * @param name The projection.
   * @returns Its status.
   * @throws {RillflowError} `UNKNOWN_PROJECTION` when neither registered nor recorded.
   */
  async status(name: string): Promise<admin.ProjectionStatus> {
    validateProjectionName(name);
    await this.#ensureRows([name]);
    const [status] = await admin.readStatuses(
      this.#context,
      [name],
      new Set(this.#registrations.keys()),
    );
    if (!status) throw admin.unknownProjection(name);
    return status;
  }

  /**
   * Pauses a projection: workers stop applying it (a batch in flight finishes).
   *
   * @param name The projection.
   * @throws {RillflowError} `UNKNOWN_PROJECTION`.
   */
  async pause(name: string): Promise<void> {
    validateProjectionName(name);
    await this.#ensureRows([name]);
    await admin.updateProjection(this.#context, name, "paused = true");
  }

  /**
   * Resumes a paused projection.
   *
   * @param name The projection.
   * @throws {RillflowError} `UNKNOWN_PROJECTION`.
   */
  async resume(name: string): Promise<void> {
    validateProjectionName(name);
    await this.#ensureRows([name]);
    await admin.updateProjection(this.#context, name, "paused = false");
  }

  /**
   * Moves a projection's checkpoint (events after `position` are applied next)
   * and clears its retry state; a batch in flight is discarded.
   *
   * @param name The projection.
   * @param position A global position, at most the head.
   * @throws {RangeError} For a negative or non-integer position.
   * @throws {RillflowError} `INVALID_INPUT` past the head; `UNKNOWN_PROJECTION`.
   */
  async resetCheckpoint(name: string, position: number): Promise<void> {
    validateProjectionName(name);
    await this.#ensureRows([name]);
    await admin.resetCheckpoint(this.#context, name, position);
  }

  /**
   * Rebuilds a projection: in one transaction, its `reset(tx)` clears the read
   * model, the checkpoint goes to 0 and the dead letters are cleared; then the
   * events are applied again up to the head (unless another worker holds the
   * lease: it replays them).
   *
   * @param name A registered projection.
   * @param options A stop signal and a progress callback for the replay.
   * @returns What the replay applied.
   * @throws {RillflowError} `UNKNOWN_PROJECTION`.
   */
  async rebuild(
    name: string,
    options: Omit<RunUntilIdleOptions, "names"> = {},
  ): Promise<RunUntilIdleResult> {
    const registration = this.#registration(name);
    await prepareProjection(this.#context, registration);
    await admin.resetForRebuild(this.#context, name, registration.projection);
    return this.runUntilIdle({ ...options, names: [name] });
  }

  /**
   * Lists a projection's dead letters, oldest first.
   *
   * @param name The projection.
   * @param options `limit` (default 100).
   * @returns The entries.
   */
  dlqList(name: string, options: { limit?: number } = {}): Promise<DeadLetter[]> {
    validateProjectionName(name);
    return admin.deadLetters(this.#context, name, options.limit);
  }

  /**
   * Applies one dead letter again, alone (the checkpoint does not move), and
   * removes it when that succeeds.
   *
   * @param name A registered projection.
   * @param id The entry's id.
   * @throws {RillflowError} `INVALID_INPUT` when there is no such entry; `UNKNOWN_PROJECTION`;
   *   the handler's error when it fails again (the entry stays).
   */
  async dlqRequeue(name: string, id: number): Promise<void> {
    const registration = this.#registration(name);
    await prepareProjection(this.#context, registration);
    await admin.requeueDeadLetter(this.#context, name, id, registration.projection);
  }

  /**
   * Deletes one dead letter.
   *
   * @param name The projection.
   * @param id The entry's id.
   * @throws {RillflowError} `INVALID_INPUT` when there is no such entry.
   */
  dlqDelete(name: string, id: number): Promise<void> {
    validateProjectionName(name);
    return admin.deleteDeadLetter(this.#context, name, id);
  }
}
