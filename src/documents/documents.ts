/**
 * Documents: one JSONB table per collection with optimistic versions.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import { validateIdentifier } from "../db/identifiers.ts";
import { assertUuid } from "../ids.ts";
import { instrumentDocumentRead, instrumentDocumentWrite } from "../observability/instrument.ts";

/**
 * A collection of JSON documents of type `T`, reached with `store.docs<T>(name)`.
 *
 * @example Store and read a document
 * ```ts
 * import { Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory");
 * const customers = store.docs<{ email: string }>("docs");
 * const id = crypto.randomUUID();
 * await customers.put(id, { email: "a@example.com" }); // → 1
 * console.log(await customers.get(id)); // { doc: { email: "a@example.com" }, version: 1 }
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
   * @param collection The collection name (validated).
   */
  constructor(context: StoreContext, collection: string) {
    this.#context = context;
    this.collection = validateIdentifier(collection, "collection");
  }

  /**
   * Inserts or replaces a document.
   *
   * SQL: `insert into "schema"."docs" (id, doc) values ($1, $2) on conflict (id) do update
   * set doc = excluded.doc, version = docs.version + 1 … returning version`.
   *
   * @param id The document id (a UUID).
   * @param doc The document.
   * @param expectedVersion When given, the version the stored document must have (0: must not exist).
   * @returns The new version: 1 on insert.
   * @throws {RillflowError} `DOCUMENT_VERSION_CONFLICT` when the stored version differs.
   * @throws {TypeError} When the id is not a UUID or the document is not serialisable.
   */
  put(id: string, doc: T, expectedVersion?: number): Promise<number> {
    return instrumentDocumentWrite(this.collection, () => this.#put(id, doc, expectedVersion));
  }

  async #put(id: string, doc: T, expectedVersion?: number): Promise<number> {
    assertUuid(id, "document id");
    const json = JSON.stringify(doc);
    if (json === undefined) throw new TypeError("A document must be JSON-serialisable");
    const table = this.#context.table(this.collection);
    const rows = await this.#context.executor.query<{ version: number }>(
      `insert into ${table} as d (id, doc) values ($1, $2::jsonb)
       on conflict (id) do update set doc = excluded.doc, version = d.version + 1, updated_at = now()
         where d.deleted_at is null and ($3::int is null or d.version = $3::int)
       returning version`,
      [id, json, expectedVersion ?? null],
    );
    if (rows[0]) return rows[0].version;
    throw new RillflowError(
      "DOCUMENT_VERSION_CONFLICT",
      `Cannot put document "${id}" in "${this.collection}": expected version ${
        expectedVersion ?? "any"
      } does not match the stored document`,
      { details: { id, collection: this.collection, expectedVersion } },
    );
  }

  /**
   * Loads a document and its version; soft-deleted documents are not returned.
   *
   * SQL: `select doc, version from "schema"."docs" where id = $1 and deleted_at is null`.
   *
   * @param id The document id.
   * @returns The document and its version, or `null`.
   * @throws {TypeError} When the id is not a UUID.
   */
  get(id: string): Promise<{ doc: T; version: number } | null> {
    return instrumentDocumentRead(this.collection, () => this.#get(id));
  }

  async #get(id: string): Promise<{ doc: T; version: number } | null> {
    assertUuid(id, "document id");
    const [row] = await this.#context.executor.query<{ doc: T; version: number }>(
      `select doc, version from ${this.#context.table(this.collection)}
        where id = $1 and deleted_at is null`,
      [id],
    );
    return row ? { doc: row.doc, version: row.version } : null;
  }
}
