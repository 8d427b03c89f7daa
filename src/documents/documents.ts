/**
 * Documents: one JSONB table per collection with optimistic versions.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { assertUuid } from "../ids.ts";
import { validateCollectionName } from "../schema/collection_name.ts";
import { type CollectionInfo, onCollection } from "../schema/collection.ts";
import {
  assertExpectedVersion,
  deleteDocument,
  documentJson,
  patchDocument,
  putDocument,
  replaceDocument,
  setDeleted,
} from "./writes.ts";
import { notFound, versionConflict } from "./_errors.ts";
import {
  appendOperation,
  incrementOperation,
  type PatchOperation,
  removeOperation,
  renameOperation,
  setOperation,
} from "./patch.ts";
import { insertDocuments, prepareRows, upsertDocuments } from "./bulk.ts";
import { DocumentQuery } from "../query/document_query.ts";
import { type CompiledQuery, executeCompiled } from "../query/compiled.ts";
import { type HistoryEntry, readHistory } from "./history.ts";

/** A document's bookkeeping columns. */
export interface DocumentMetadata {
  /** The document id. */
  readonly id: string;
  /** Its version: 1 on insert, +1 on every write. */
  readonly version: number;
  /** When it was inserted. */
  readonly createdAt: Date;
  /** When it was last written. */
  readonly updatedAt: Date;
  /** When it was soft-deleted, or null. */
  readonly deletedAt: Date | null;
  /** Who inserted it (a session's `user`), or null. */
  readonly createdBy: string | null;
  /** Who wrote it last (a session's `user`), or null. */
  readonly lastModifiedBy: string | null;
}

function expectedOrNull(expected: number | null): number | null {
  if (expected !== null) assertExpectedVersion(expected, false);
  return expected;
}
import { instrumentDocumentRead, instrumentDocumentWrite } from "../telemetry/instrument.ts";

/**
 * A collection of JSON documents of type `T`, reached with `store.docs<T>(name)`.
 * Its table is created on first use.
 *
 * @example Store, patch and read a document
 * ```ts
 * import { Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory");
 * const customers = store.docs<{ email: string; profile?: { name: string } }>("customers");
 * const id = crypto.randomUUID();
 * const v1 = await customers.put(id, { email: "a@example.com" }); // 1
 * await customers.patch(id, v1, "profile.name", "Alicia"); // 2
 * console.log(await customers.get(id));
 * // { doc: { email: "a@example.com", profile: { name: "Alicia" } }, version: 2 }
 * ```
 */
export class Documents<T> {
  readonly #context: StoreContext;
  /** The collection's name (also its table's name). */
  readonly collection: string;

  /**
   * Created by the store; use `store.docs(name)`.
   *
   * @param context The store's context.
   * @param collection The collection name.
   * @throws {TypeError} When the name breaks the identifier rule or is reserved.
   */
  constructor(context: StoreContext, collection: string) {
    this.#context = context;
    this.collection = validateCollectionName(collection);
  }

  #on<R>(work: (info: CollectionInfo) => Promise<R>): Promise<R> {
    return onCollection(this.#context, this.collection, work);
  }

  /**
   * Inserts or replaces a document.
   *
   * SQL: `insert into "s"."docs" as d (id, doc, …) values ($1, $2::jsonb, …) on conflict (id)
   * do update set doc = excluded.doc, version = d.version + 1 … where d.deleted_at is null
   * returning version`; with an expected version n > 0: `update … where id = $1 and version = $3`.
   *
   * @param id The document id (a UUID).
   * @param doc The document (a JSON object).
   * @param expectedVersion The version the stored document must have; 0: it must not exist.
   * @returns The new version: 1 on insert.
   * @throws {RillflowError} `DOCUMENT_VERSION_CONFLICT` when the stored version differs or the
   *   document is soft-deleted; `DOCUMENT_NOT_FOUND` when a version > 0 is expected and none exists.
   * @throws {TypeError} When the id is not a UUID or the document is not a JSON object.
   */
  put(id: string, doc: T, expectedVersion?: number): Promise<number> {
    return instrumentDocumentWrite(this.collection, () => this.#put(id, doc, expectedVersion));
  }

  #put(id: string, doc: T, expectedVersion?: number): Promise<number> {
    assertUuid(id, "document id");
    const json = documentJson(doc);
    if (expectedVersion !== undefined) assertExpectedVersion(expectedVersion, true);
    return this.#on((info) =>
      putDocument(this.#context.executor, info, id, json, expectedVersion, null)
    );
  }

  /**
   * Loads a live document and its version (soft-deleted ones are not returned).
   *
   * SQL: `select doc, version from "s"."docs" where id = $1 and deleted_at is null`.
   *
   * @param id The document id.
   * @returns The document and its version, or null.
   * @throws {TypeError} When the id is not a UUID.
   */
  get(id: string): Promise<{ doc: T; version: number } | null> {
    return instrumentDocumentRead(this.collection, () => this.#get(id));
  }

  #get(id: string): Promise<{ doc: T; version: number } | null> {
    assertUuid(id, "document id");
    return this.#on(async (info) => {
      const [row] = await this.#context.executor.query<{ doc: T; version: number }>(
        `select doc, version from ${info.table} where id = $1 and deleted_at is null`,
        [id],
      );
      return row ? { doc: row.doc, version: row.version } : null;
    });
  }

  /**
   * Loads a document with its bookkeeping columns.
   *
   * @param id The document id.
   * @param options `includeDeleted: true` also returns a soft-deleted document.
   * @returns The document and its metadata, or null.
   */
  getWithMetadata(
    id: string,
    options: { includeDeleted?: boolean } = {},
  ): Promise<{ doc: T; metadata: DocumentMetadata } | null> {
    assertUuid(id, "document id");
    return this.#on(async (info) => {
      const [row] = await this.#context.executor.query<DocumentMetadata & { doc: T }>(
        `select doc, id, version, created_at as "createdAt", updated_at as "updatedAt",
                deleted_at as "deletedAt", created_by as "createdBy",
                last_modified_by as "lastModifiedBy"
           from ${info.table} where id = $1 and ($2 or deleted_at is null)`,
        [id, options.includeDeleted === true],
      );
      if (!row) return null;
      const { doc, ...metadata } = row;
      return { doc, metadata };
    });
  }

  /**
   * Tells whether a live document exists.
   *
   * @param id The document id.
   * @returns `true` when it exists and is not soft-deleted.
   */
  exists(id: string): Promise<boolean> {
    assertUuid(id, "document id");
    return this.#on(async (info) => {
      const rows = await this.#context.executor.query(
        `select 1 from ${info.table} where id = $1 and deleted_at is null`,
        [id],
      );
      return rows.length > 0;
    });
  }

  /**
   * Loads a document, lets `mutate` change it, and writes it back if the
   * version is still `expectedVersion`.
   *
   * @param id The document id.
   * @param expectedVersion The version the caller last saw.
   * @param mutate Changes the document in place or returns a replacement.
   * @returns The new version.
   * @throws {RillflowError} `DOCUMENT_NOT_FOUND`, or `DOCUMENT_VERSION_CONFLICT` when stale
   *   (then `mutate` is not called).
   */
  async update(id: string, expectedVersion: number, mutate: (doc: T) => T | void): Promise<number> {
    assertExpectedVersion(expectedVersion, false);
    if (typeof mutate !== "function") throw new TypeError("update() needs a mutate function");
    const current = await this.get(id);
    if (!current) throw notFound(this.collection, id, "update");
    if (current.version !== expectedVersion) {
      throw versionConflict(this.collection, id, "update", expectedVersion, current.version);
    }
    const json = documentJson(mutate(current.doc) ?? current.doc);
    return await this.#on((info) =>
      replaceDocument(this.#context.executor, info, id, json, expectedVersion, null, "update")
    );
  }

  /**
   * Sets the value at a path, creating missing intermediate objects and keeping siblings.
   *
   * SQL: `update "s"."docs" as d set doc = "s".rillflow_patch(d.doc, $2::jsonb), version = d.version + 1
   * where d.id = $1 and d.deleted_at is null and ($3::int is null or d.version = $3::int)`.
   *
   * @param id The document id.
   * @param expectedVersion The version it must have, or null for any.
   * @param path A dotted path (`profile.name`, `items[2].qty`).
   * @param value The new value.
   * @returns The new version.
   * @throws {RillflowError} `DOCUMENT_NOT_FOUND` or `DOCUMENT_VERSION_CONFLICT`.
   */
  patch(id: string, expectedVersion: number | null, path: string, value: unknown): Promise<number> {
    return this.#patch(id, expectedVersion, [setOperation(path, value)]);
  }

  /**
   * Sets several paths in one statement.
   *
   * @param id The document id.
   * @param expectedVersion The version it must have, or null for any.
   * @param fields `[path, value]` pairs, applied in order.
   * @returns The new version.
   */
  patchFields(
    id: string,
    expectedVersion: number | null,
    fields: Array<[string, unknown]>,
  ): Promise<number> {
    if (!Array.isArray(fields) || fields.length === 0) {
      throw new TypeError("patchFields() needs at least one [path, value] pair");
    }
    return this.#patch(
      id,
      expectedVersion,
      fields.map((pair) => {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new TypeError("patchFields() takes [path, value] pairs");
        }
        return setOperation(pair[0], pair[1]);
      }),
    );
  }

  /**
   * Adds `by` to the number at a path (a missing field counts as 0).
   *
   * @param id The document id.
   * @param expectedVersion The version it must have, or null for any.
   * @param path A dotted path.
   * @param by The amount (default 1).
   * @returns The new version.
   * @throws {RillflowError} `INVALID_INPUT` when the field holds something other than a number.
   */
  increment(id: string, expectedVersion: number | null, path: string, by = 1): Promise<number> {
    return this.#patch(id, expectedVersion, [incrementOperation(path, by)]);
  }

  /**
   * Appends a value to the array at a path (created when missing).
   *
   * @param id The document id.
   * @param expectedVersion The version it must have, or null for any.
   * @param path A dotted path.
   * @param value The element.
   * @returns The new version.
   * @throws {RillflowError} `INVALID_INPUT` when the field holds something other than an array.
   */
  appendTo(
    id: string,
    expectedVersion: number | null,
    path: string,
    value: unknown,
  ): Promise<number> {
    return this.#patch(id, expectedVersion, [appendOperation(path, value)]);
  }

  /**
   * Removes the field (or array element) at a path; a missing one is left as is.
   *
   * @param id The document id.
   * @param expectedVersion The version it must have, or null for any.
   * @param path A dotted path.
   * @returns The new version.
   */
  removeField(id: string, expectedVersion: number | null, path: string): Promise<number> {
    return this.#patch(id, expectedVersion, [removeOperation(path)]);
  }

  /**
   * Renames the field at a path within its object; a missing one is left as is.
   *
   * @param id The document id.
   * @param expectedVersion The version it must have, or null for any.
   * @param path A dotted path.
   * @param newName The new key.
   * @returns The new version.
   */
  renameField(
    id: string,
    expectedVersion: number | null,
    path: string,
    newName: string,
  ): Promise<number> {
    return this.#patch(id, expectedVersion, [renameOperation(path, newName)]);
  }

  #patch(id: string, expected: number | null, operations: PatchOperation[]): Promise<number> {
    assertUuid(id, "document id");
    expectedOrNull(expected);
    return this.#on((info) =>
      patchDocument(this.#context.executor, info, id, expected, operations, null)
    );
  }

  /**
   * Deletes a document for good (also a soft-deleted one).
   *
   * SQL: `delete from "s"."docs" where id = $1 and ($2::int is null or version = $2::int)`.
   *
   * @param id The document id.
   * @param expectedVersion The version it must have.
   * @throws {RillflowError} `DOCUMENT_NOT_FOUND` or `DOCUMENT_VERSION_CONFLICT`.
   */
  async delete(id: string, expectedVersion?: number): Promise<void> {
    assertUuid(id, "document id");
    if (expectedVersion !== undefined) assertExpectedVersion(expectedVersion, false);
    await this.#on((info) =>
      deleteDocument(this.#context.executor, info, id, expectedVersion ?? null)
    );
  }

  /**
   * Hides a document from `get` and queries (it can be restored); bumps its version.
   *
   * @param id The document id.
   * @throws {RillflowError} `DOCUMENT_NOT_FOUND` when it does not exist.
   */
  async softDelete(id: string): Promise<void> {
    assertUuid(id, "document id");
    await this.#on((info) => setDeleted(this.#context.executor, info, id, true));
  }

  /**
   * Makes a soft-deleted document visible again; bumps its version.
   *
   * @param id The document id.
   * @throws {RillflowError} `DOCUMENT_NOT_FOUND` when it does not exist.
   */
  async restore(id: string): Promise<void> {
    assertUuid(id, "document id");
    await this.#on((info) => setDeleted(this.#context.executor, info, id, false));
  }

  /**
   * Inserts new documents, all or nothing, in one transaction: below 20,000 rows with
   * `insert … select … from jsonb_to_recordset($1)` (1,000 rows a statement), from 20,000 on
   * with `COPY … FROM STDIN`.
   *
   * @param rows The documents.
   * @returns How many were inserted.
   * @throws {RillflowError} `DOCUMENT_VERSION_CONFLICT` when an id already exists.
   * @throws {TypeError} For a malformed row or an id given twice.
   */
  bulkInsert(rows: Array<{ id: string; doc: T }>): Promise<number> {
    const prepared = prepareRows(rows);
    return this.#on((info) => insertDocuments(this.#context.executor, info, prepared));
  }

  /**
   * Inserts or replaces documents, all or nothing, in one transaction.
   *
   * @param rows The documents.
   * @returns How many were written.
   * @throws {RillflowError} `DOCUMENT_VERSION_CONFLICT` when an id is soft-deleted.
   */
  bulkUpsert(rows: Array<{ id: string; doc: T }>): Promise<number> {
    const prepared = prepareRows(rows);
    return this.#on((info) => upsertDocuments(this.#context.executor, info, prepared));
  }

  /**
   * Starts a query on this collection.
   *
   * @returns An empty query (all live documents, by id).
   */
  query(): DocumentQuery<T> {
    return new DocumentQuery<T>(this.#context, this.collection);
  }

  /**
   * Runs a compiled query; its SQL text is built once per class and reused.
   *
   * @param query The compiled query.
   * @returns Its results.
   */
  executeCompiled<R>(query: CompiledQuery<R>): Promise<R[]> {
    return executeCompiled(this.#context, this.collection, query);
  }

  /**
   * The past versions of a document, oldest first, when the collection keeps
   * history (`SchemaConfig.withHistory`); empty otherwise.
   *
   * @param id The document id.
   * @returns The replaced and deleted versions.
   */
  history(id: string): Promise<HistoryEntry<T>[]> {
    assertUuid(id, "document id");
    return this.#on((info) => readHistory<T>(this.#context.executor, info, id));
  }
}
