/**
 * {@linkcode DocumentSession}: a unit of work with an identity map. Changes
 * are staged in memory and written by `saveChanges()` in one transaction.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import type { InternalTx } from "../db/executor.ts";
import { assertUuid } from "../ids.ts";
import { validateCollectionName } from "../schema/collection_name.ts";
import { type CollectionInfo, ensureCollection } from "../schema/collection.ts";
import { deleteDocument, documentJson, putDocument } from "../documents/writes.ts";
import type { ExpectedVersion } from "../events/expected.ts";
import type { NewEvent } from "../events/new_event.ts";
import type { AppendOptions } from "../events/append_input.ts";
import type { AggregateRepository } from "../events/aggregate_repository.ts";
import { retryingRaces } from "../events/append_recovery.ts";
import { instrumentQuery, NO_ATTRIBUTES } from "../telemetry/instrument.ts";
import { recordDocumentWrite } from "../telemetry/metrics.ts";
import { type SessionAggregates, sessionAggregates, stagedAppend } from "./session_appends.ts";

/** Options of `store.session(options)`. */
export interface SessionOptions {
  /** Who makes the changes: stored in `created_by` / `last_modified_by`. */
  user?: string;
  /** Headers for events the session appends, merged over the store's `session.headers`. */
  headers?: Record<string, unknown>;
  /** Causation id for events the session appends (default: the store's). */
  causationId?: string;
  /** Correlation id for events the session appends (default: the store's). */
  correlationId?: string;
}

/** One change staged by a session, run in `saveChanges()`'s transaction. */
export interface StagedOperation {
  /** Work done before the transaction starts (such as creating a collection's table). */
  prepare?(): Promise<void>;
  /**
   * Runs the change with the transaction's handle.
   *
   * @param tx The transaction.
   * @param retry Whether the transaction runs again after an append lost a race.
   */
  execute(tx: InternalTx, retry?: boolean): Promise<void>;
  /** Called once the transaction has committed. */
  committed?(): void;
}

/** What the session knows of a document: `version` 0 = known not to exist, undefined = not loaded. */
interface Entry {
  doc: unknown;
  version: number | undefined;
}

const keyOf = (collection: string, id: string) => `${collection}/${id.toLowerCase()}`;

/**
 * A unit of work: loads go through an identity map (the same object comes
 * back for the same document), writes are staged and `saveChanges()` runs
 * them in one transaction, all or nothing, checking each stored document
 * against the version the session loaded. On failure nothing is lost: fix
 * the cause (for a conflict, {@linkcode DocumentSession.refresh} and store
 * again) and call `saveChanges()` again.
 *
 * @example Change two documents atomically
 * ```ts
 * import { Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory");
 * const session = store.session({ user: "alice" });
 * const account = await session.load<{ balance: number }>("accounts", crypto.randomUUID());
 * console.log(account); // null: not there yet
 * session.store("accounts", crypto.randomUUID(), { balance: 10 });
 * await session.saveChanges();
 * ```
 */
export class DocumentSession {
  readonly #context: StoreContext;
  readonly #identity = new Map<string, Entry>();
  readonly #loading = new Map<string, Promise<unknown>>();
  #staged: { key: string | null; operation: StagedOperation }[] = [];
  /** Who makes the changes, or null. */
  readonly user: string | null;
  /** Headers for appended events: the store's, then the session's. */
  readonly headers: Readonly<Record<string, unknown>>;
  /** Causation id for appended events, or null. */
  readonly causationId: string | null;
  /** Correlation id for appended events, or null. */
  readonly correlationId: string | null;

  /**
   * Created by the store; use `store.session(options)`.
   *
   * @param context The store's context.
   * @param options The session's user and event defaults.
   */
  constructor(context: StoreContext, options: SessionOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Session options must be an object");
    }
    if (options.user !== undefined && typeof options.user !== "string") {
      throw new TypeError("A session user must be a string");
    }
    this.#context = context;
    this.user = options.user ?? null;
    this.headers = Object.freeze({ ...context.settings.sessionHeaders, ...options.headers });
    this.causationId = options.causationId ?? context.settings.causationId ?? null;
    this.correlationId = options.correlationId ?? context.settings.correlationId ?? null;
  }

  /** How many changes are staged and not yet saved. */
  get pendingChanges(): number {
    return this.#staged.length;
  }

  /**
   * Loads a document; a second load of the same document returns the same
   * object (also one given to `store`) without a round trip.
   *
   * @param collection The collection.
   * @param id The document id.
   * @returns The document, or null when it does not exist (or was deleted in this session).
   */
  load<T>(collection: string, id: string): Promise<T | null> {
    const key = this.#key(collection, id);
    const entry = this.#identity.get(key);
    if (entry) return Promise.resolve(entry.doc as T | null);
    let loading = this.#loading.get(key);
    if (!loading) {
      loading = this.#read(collection, id, key).finally(() => this.#loading.delete(key));
      this.#loading.set(key, loading);
    }
    return loading as Promise<T | null>;
  }

  /**
   * Reloads a document from the database, replacing what the session holds
   * and dropping a change staged for it (after a conflict: reapply and store again).
   *
   * @param collection The collection.
   * @param id The document id.
   * @returns The stored document, or null.
   */
  refresh<T>(collection: string, id: string): Promise<T | null> {
    const key = this.#key(collection, id);
    this.#identity.delete(key);
    this.#staged = this.#staged.filter((s) => s.key !== key);
    return this.load<T>(collection, id);
  }

  async #read(collection: string, id: string, key: string): Promise<unknown> {
    const info = await ensureCollection(this.#context, collection);
    const [row] = await this.#context.executor.query<{ doc: unknown; version: number }>(
      `select doc, version from ${info.table} where id = $1 and deleted_at is null`,
      [id],
    );
    const entry = this.#identity.get(key) ?? { doc: row?.doc ?? null, version: row?.version ?? 0 };
    this.#identity.set(key, entry);
    return entry.doc;
  }

  /**
   * Stages an insert or replacement. A loaded document must still be at the
   * version loaded (0 when it was loaded as missing); one not loaded is upserted.
   *
   * @param collection The collection.
   * @param id The document id.
   * @param doc The document; serialised when `saveChanges()` runs.
   * @throws {TypeError} For an invalid collection, id or document.
   */
  store<T>(collection: string, id: string, doc: T): void {
    const key = this.#key(collection, id);
    documentJson(doc);
    const entry = this.#identity.get(key) ?? { doc, version: undefined };
    entry.doc = doc;
    this.#identity.set(key, entry);
    let info: CollectionInfo;
    let written = 0;
    this.#stage(key, {
      prepare: async () => void (info = await ensureCollection(this.#context, collection)),
      execute: async (tx) => {
        written = await putDocument(
          tx,
          info,
          id,
          documentJson(entry.doc),
          entry.version,
          this.user,
        );
      },
      committed: () => {
        entry.version = written;
        recordDocumentWrite(collection);
      },
    });
  }

  /**
   * Stages a delete, checked against the version loaded when the document was loaded.
   *
   * @param collection The collection.
   * @param id The document id.
   * @throws {TypeError} For an invalid collection or id.
   */
  delete(collection: string, id: string): void {
    const key = this.#key(collection, id);
    const entry = this.#identity.get(key) ?? { doc: null, version: undefined };
    this.#identity.set(key, entry);
    if (entry.version === 0) {
      // Never stored: dropping its staged insert is the whole delete.
      this.#staged = this.#staged.filter((s) => s.key !== key);
      entry.doc = null;
      return;
    }
    const expected = entry.version ?? null;
    entry.doc = null;
    let info: CollectionInfo;
    this.#stage(key, {
      prepare: async () => void (info = await ensureCollection(this.#context, collection)),
      execute: (tx) => deleteDocument(tx, info, id, expected),
      committed: () => void (entry.version = 0),
    });
  }

  /**
   * Stages an append to a stream, written by `saveChanges()` in the same transaction as
   * the session's documents (inline projections included). The event is checked now:
   * bad input throws and stages nothing; the expected version is checked on save.
   *
   * @example Register a customer and record it in one transaction
   * ```ts
   * import { event, Expected, Store } from "@rillflow/rillflow";
   *
   * await using store = await Store.connect("pglite://memory");
   * const id = crypto.randomUUID();
   * const session = store.session();
   * session.store("customers", id, { name: "Ada" });
   * session.enqueueEvent(id, Expected.noStream, event("CustomerRegistered", { name: "Ada" }));
   * await session.saveChanges();
   * ```
   *
   * @param streamId The stream.
   * @param expected What the stream's version must be when the session saves.
   * @param event The event; the session's headers and ids apply.
   * @throws {TypeError} For a malformed stream id, expectation or event.
   */
  enqueueEvent(streamId: string, expected: ExpectedVersion, event: NewEvent): void {
    this.#stage(
      null,
      stagedAppend(this.#context, this.#appendDefaults(), streamId, expected, event),
    );
  }

  /**
   * Stages aggregate commits (and their snapshots) in this session's transaction.
   *
   * @param repository The aggregate's repository.
   * @returns `commit` and `commitAndSnapshot`, staged until `saveChanges()`; a validator
   *   rejection or a conflict then fails the whole save and writes nothing.
   */
  aggregates<S>(repository: AggregateRepository<S>): SessionAggregates<S> {
    return sessionAggregates(
      this.#context,
      this.#appendDefaults(),
      repository,
      (operation) => this.#stage(null, operation),
    );
  }

  #appendDefaults(): AppendOptions {
    return {
      headers: { ...this.headers },
      causationId: this.causationId ?? undefined,
      correlationId: this.correlationId ?? undefined,
    };
  }

  /**
   * Writes every staged change in one transaction (span `rillflow.session_commit`,
   * timed as operation `session_commit`). On success the session's versions move
   * on; on failure nothing is written, every change stays staged and the error is
   * thrown.
   *
   * @throws {RillflowError} The first failing change's error (`DOCUMENT_VERSION_CONFLICT`, …).
   */
  async saveChanges(): Promise<void> {
    const batch = [...this.#staged];
    if (batch.length === 0) return;
    for (const { operation } of batch) await operation.prepare?.();
    // Appends with Expected.any that lost a race for their stream's next version abort the
    // transaction; it is run again (the staged operations are data, safe to re-run).
    await instrumentQuery(
      "session_commit",
      NO_ATTRIBUTES,
      () =>
        retryingRaces(this.#context, (retry) =>
          this.#context.executor.transaction(async (tx) => {
            for (const { operation } of batch) await operation.execute(tx, retry);
          })),
    );
    this.#staged = this.#staged.filter((s) => !batch.includes(s));
    for (const { operation } of batch) operation.committed?.();
  }

  #stage(key: string | null, operation: StagedOperation): void {
    const staged = { key, operation };
    const index = key === null ? -1 : this.#staged.findIndex((s) => s.key === key);
    if (index >= 0) this.#staged[index] = staged;
    else this.#staged.push(staged);
  }

  #key(collection: string, id: string): string {
    validateCollectionName(collection);
    assertUuid(id, "document id");
    return keyOf(collection, id);
  }
}
