/**
 * Plans, applies, reverts and checks Rillflow's migrations in one schema.
 *
 * Migrations run in order, one transaction per file, each under a
 * transaction-level advisory lock keyed by the schema, with `search_path` set transaction-locally
 * to the target schema. A ledger table records version and checksum.
 *
 * @module
 */
import type { Executor, Queryable } from "../db/executor.ts";
import { qualify, quoteIdent } from "../db/identifiers.ts";
import { RillflowError } from "../errors.ts";
import { checksumOf, type Migration, MIGRATIONS } from "./migrations.ts";
import { type CatalogDifference, diffCatalogs, readCatalog } from "./catalog.ts";
import type { SchemaConfig } from "./schema_config.ts";
import { applySchemaConfig, duplicatedFieldObjects } from "./duplicated_fields.ts";

/** The ledger table's name, inside the target schema. */
export const LEDGER_TABLE = "rillflow_migrations";

/** A migration named by version and name. */
export interface MigrationRef {
  /** The migration's version. */
  readonly version: number;
  /** The migration's name. */
  readonly name: string;
}

/** One way a schema departs from what the current migrations define. */
export interface DriftItem {
  /** What kind of departure. */
  readonly kind:
    | "pending"
    | "checksum-mismatch"
    | "unknown-migration"
    | CatalogDifference["kind"];
  /** The migration (`0001_init`) or catalog object concerned. */
  readonly object: string;
  /** A sentence saying what differs. */
  readonly detail: string;
}

/** The result of {@linkcode SchemaManager.drift}. */
export interface DriftReport {
  /** The schema checked. */
  readonly schema: string;
  /** `true` when the schema matches the migrations exactly. */
  readonly ok: boolean;
  /** Every departure found. */
  readonly items: readonly DriftItem[];
}

interface LedgerRow {
  version: number;
  name: string;
  checksum: string;
}

const label = (m: MigrationRef) => `${String(m.version).padStart(4, "0")}_${m.name}`;

/** Rolls a transaction back while carrying a result out of it. */
class Rollback<T> {
  constructor(readonly value: T) {}
}

/**
 * Plans, applies and checks migrations for one schema. Reached as `store.schema`.
 *
 * @example Bring a schema up to date
 * ```ts
 * import { Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory", { autoMigrate: false });
 * console.log((await store.schema.plan()).map((m) => m.name)); // ["init"]
 * await store.schema.sync();
 * console.log(await store.schema.plan()); // []
 * ```
 */
export class SchemaManager {
  readonly #executor: Executor;
  /** The schema managed. */
  readonly schemaName: string;
  readonly #migrations: readonly Migration[];

  /**
   * Created by the store; use `store.schema`.
   *
   * @param executor The database.
   * @param schema The target schema (validated).
   * @param migrations The migrations to manage; the shipped ones by default.
   */
  constructor(executor: Executor, schema: string, migrations: readonly Migration[] = MIGRATIONS) {
    quoteIdent(schema, "schema");
    this.#executor = executor;
    this.schemaName = schema;
    this.#migrations = migrations;
  }

  /**
   * Lists the migrations not yet applied, in order; empty when up to date.
   *
   * @returns The pending migrations.
   */
  async plan(): Promise<MigrationRef[]> {
    const applied = new Set((await this.#ledger(this.#executor)).map((row) => row.version));
    return this.#migrations.filter((m) => !applied.has(m.version))
      .map(({ version, name }) => ({ version, name }));
  }

  /**
   * Applies every pending migration, each in its own transaction under an
   * advisory lock, so concurrent callers (other connections, other processes)
   * apply each migration exactly once. An applied
   * migration whose file has changed is never re-run: it shows in {@linkcode drift}.
   *
   * With a config, then creates its collections, duplicated fields (column,
   * trigger, index, batched backfill), search languages and history tables.
   *
   * @param config Collections and duplicated fields to set up.
   * @returns The migrations this call applied.
   */
  async sync(config?: SchemaConfig): Promise<MigrationRef[]> {
    await this.#executor.transaction(async (tx) => {
      await this.#lock(tx);
      await tx.query(`create schema if not exists ${quoteIdent(this.schemaName)}`);
      await tx.query(
        `create table if not exists ${this.#ledgerTable} (
           version integer primary key, name text not null, checksum text not null,
           applied_at timestamptz not null default now())`,
      );
    });
    const applied: MigrationRef[] = [];
    for (const migration of this.#migrations) {
      const checksum = await checksumOf(migration.up);
      const ran = await this.#executor.transaction(async (tx) => {
        await this.#lock(tx);
        if (await this.#isApplied(tx, migration.version)) return false;
        await tx.script(migration.up);
        await tx.query(
          `insert into ${this.#ledgerTable} (version, name, checksum) values ($1, $2, $3)`,
          [migration.version, migration.name, checksum],
        );
        return true;
      }, { searchPath: quoteIdent(this.schemaName) });
      if (ran) applied.push({ version: migration.version, name: migration.name });
    }
    if (config) await applySchemaConfig(this.#executor, this.schemaName, config);
    return applied;
  }

  /**
   * Reverts applied migrations above `toVersion`, newest first, each with its
   * `.down.sql` in its own transaction. Destroys data: callers confirm first.
   *
   * @param toVersion The version to keep (0 reverts everything).
   * @returns The migrations reverted.
   * @throws {RangeError} When `toVersion` is not a non-negative integer.
   */
  async down(toVersion = 0): Promise<MigrationRef[]> {
    if (!Number.isInteger(toVersion) || toVersion < 0) {
      throw new RangeError(`toVersion must be a non-negative integer, got ${toVersion}`);
    }
    const reverted: MigrationRef[] = [];
    const applied = (await this.#ledger(this.#executor)).filter((row) => row.version > toVersion)
      .sort((a, b) => b.version - a.version);
    for (const row of applied) {
      const migration = this.#migrations.find((m) => m.version === row.version);
      if (!migration) {
        throw new RillflowError(
          "INVALID_INPUT",
          `Cannot revert migration ${label(row)}: this version of Rillflow does not know it`,
        );
      }
      const ran = await this.#executor.transaction(async (tx) => {
        await this.#lock(tx);
        if (!(await this.#isApplied(tx, row.version))) return false;
        await tx.script(migration.down);
        await tx.query(`delete from ${this.#ledgerTable} where version = $1`, [row.version]);
        return true;
      }, { searchPath: quoteIdent(this.schemaName) });
      if (ran) reverted.push({ version: row.version, name: row.name });
    }
    return reverted;
  }

  /**
   * Lists applied migrations whose file changed after they were applied, or that this
   * version of Rillflow does not know: the ledger part of {@linkcode drift}, without the
   * catalog comparison (cheap enough to run on every connect).
   *
   * @returns The `checksum-mismatch` and `unknown-migration` items; empty when consistent.
   */
  async changedMigrations(): Promise<DriftItem[]> {
    return await this.#ledgerDrift(await this.#ledger(this.#executor));
  }

  async #ledgerDrift(ledger: readonly LedgerRow[]): Promise<DriftItem[]> {
    const byVersion = new Map(this.#migrations.map((m) => [m.version, m]));
    const items: DriftItem[] = [];
    for (const row of ledger) {
      const migration = byVersion.get(row.version);
      if (!migration) {
        items.push({
          kind: "unknown-migration",
          object: label(row),
          detail: "applied in the database but unknown to this version of Rillflow",
        });
      } else if ((await checksumOf(migration.up)) !== row.checksum) {
        items.push({
          kind: "checksum-mismatch",
          object: label(migration),
          detail: "the migration file changed after it was applied",
        });
      }
    }
    return items;
  }

  /**
   * Compares the ledger with the migration files (pending, edited or unknown
   * migrations) and the catalog with what the applied migrations create
   * (missing, extra or altered tables, columns and indexes).
   *
   * Columns and indexes of registered duplicated fields are expected, not drift.
   *
   * @param ignore Columns (`table.column`) and indexes allowed beyond the migrations.
   * @returns The report; `ok` is `true` when nothing differs.
   */
  async drift(ignore: ReadonlySet<string> = new Set()): Promise<DriftReport> {
    const ledger = await this.#ledger(this.#executor);
    const byVersion = new Map(this.#migrations.map((m) => [m.version, m]));
    const items: DriftItem[] = await this.#ledgerDrift(ledger);
    for (const pending of await this.plan()) {
      items.push({ kind: "pending", object: label(pending), detail: "not applied" });
    }
    if (ledger.length > 0) {
      const applied = ledger.map((row) => byVersion.get(row.version)).filter((m) =>
        m !== undefined
      );
      const expected = await this.#expectedCatalog(applied);
      const actual = await readCatalog(this.#executor, this.schemaName);
      actual.tables.delete(LEDGER_TABLE);
      const allowed = new Set([
        ...ignore,
        ...await duplicatedFieldObjects(this.#executor, this.schemaName),
      ]);
      for (const difference of diffCatalogs(expected, actual, allowed)) items.push(difference);
    }
    return { schema: this.schemaName, ok: items.length === 0, items };
  }

  /** Applies migrations to a scratch schema in a transaction that is rolled back. */
  async #expectedCatalog(migrations: readonly Migration[]) {
    const scratch = `rillflow_drift_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
    try {
      await this.#executor.transaction(async (tx) => {
        await tx.query(`create schema ${quoteIdent(scratch)}`);
        await tx.query("select set_config('search_path', $1, true)", [quoteIdent(scratch)]);
        for (const migration of migrations) await tx.script(migration.up);
        throw new Rollback(await readCatalog(tx, scratch));
      });
    } catch (error) {
      if (error instanceof Rollback) return error.value as Awaited<ReturnType<typeof readCatalog>>;
      throw error;
    }
    throw new Error("unreachable: the scratch transaction always rolls back");
  }

  async #ledger(db: Queryable): Promise<LedgerRow[]> {
    const [exists] = await db.query<{ found: boolean }>(
      "select to_regclass($1) is not null as found",
      [this.#ledgerTable],
    );
    if (!exists?.found) return [];
    return await db.query<LedgerRow>(
      `select version, name, checksum from ${this.#ledgerTable} order by version`,
    );
  }

  get #ledgerTable(): string {
    return qualify(this.schemaName, LEDGER_TABLE);
  }

  async #isApplied(tx: Queryable, version: number): Promise<boolean> {
    const rows = await tx.query(`select 1 from ${this.#ledgerTable} where version = $1`, [version]);
    return rows.length > 0;
  }

  /** Serialises migration work on this schema across connections and processes. */
  async #lock(tx: Queryable): Promise<void> {
    await tx.query("select pg_advisory_xact_lock(hashtextextended($1, 0))", [
      `rillflow:migrate:${this.schemaName}`,
    ]);
  }
}
