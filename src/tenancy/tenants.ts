/**
 * Schema-per-tenant lifecycle: provisioning, listing, status, drop, archive
 * and restore. Reached as `store.tenants`.
 *
 * @module
 */
import type { Executor } from "../db/executor.ts";
import { quoteIdent } from "../db/identifiers.ts";
import { RillflowError } from "../errors.ts";
import { type DriftReport, type MigrationRef, SchemaManager } from "../schema/schema_manager.ts";
import { type ArchiveManifest, archiveSchema, readArchive, restoreSchema } from "./archive.ts";
import { TENANT_SCHEMA_PREFIX, tenantSchema, validateTenantName } from "./tenant_name.ts";

/** What {@linkcode Tenants.status} reports. */
export interface TenantStatus {
  /** The tenant. */
  readonly tenant: string;
  /** Its schema. */
  readonly schema: string;
  /** Whether the schema exists. */
  readonly exists: boolean;
  /** Migrations applied. */
  readonly applied: MigrationRef[];
  /** Migrations pending. */
  readonly pending: MigrationRef[];
  /** Drift of the schema (null when it does not exist). */
  readonly drift: DriftReport | null;
}

/**
 * Tenant provisioning and lifecycle under the schema-per-tenant strategy.
 *
 * @example Provision a tenant and use it
 * ```ts
 * import { Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory", {
 *   tenancy: { strategy: "schema-per-tenant" },
 * });
 * await store.tenants.ensure("acme");
 * await store.forTenant("acme").docs().put(crypto.randomUUID(), { name: "Ada" });
 * console.log(await store.tenants.list()); // ["acme"]
 * ```
 */
export class Tenants {
  readonly #executor: Executor;
  readonly #ensured = new Set<string>();
  readonly #driftIgnore: () => Promise<ReadonlySet<string>>;

  /**
   * Created by the store; use `store.tenants`.
   *
   * @param executor The shared executor.
   * @param driftIgnore Columns and indexes a tenant may have beyond the migrations.
   */
  constructor(
    executor: Executor,
    driftIgnore: () => Promise<ReadonlySet<string>> = () => Promise.resolve(new Set()),
  ) {
    this.#executor = executor;
    this.#driftIgnore = driftIgnore;
  }

  /**
   * Provisions a tenant: creates its schema and applies every migration. Idempotent and
   * safe from many processes at once (migrations run under an advisory lock); cached
   * in-process after success.
   *
   * @param name The tenant name.
   * @returns The migrations this call applied (empty when already provisioned).
   * @throws {TypeError} When the name breaks the tenant name rule.
   */
  async ensure(name: string): Promise<MigrationRef[]> {
    const schema = tenantSchema(name);
    if (this.#ensured.has(name)) return [];
    const applied = await new SchemaManager(this.#executor, schema).sync();
    this.#ensured.add(name);
    return applied;
  }

  /**
   * Lists provisioned tenants (schemas `tenant_*` holding a migration ledger).
   *
   * @returns Tenant names, sorted.
   */
  async list(): Promise<string[]> {
    const rows = await this.#executor.query<{ schema: string }>(
      `select n.nspname as schema from pg_namespace n
        where n.nspname like 'tenant\\_%' and to_regclass(quote_ident(n.nspname) || '.rillflow_migrations') is not null
        order by 1`,
    );
    return rows.map((r) => r.schema.slice(TENANT_SCHEMA_PREFIX.length));
  }

  /**
   * Tells whether a tenant's schema exists (asks the database: tenants provisioned by
   * other processes count).
   *
   * @param name The tenant name.
   * @returns `true` when provisioned.
   */
  async exists(name: string): Promise<boolean> {
    const rows = await this.#executor.query("select 1 from pg_namespace where nspname = $1", [
      tenantSchema(name),
    ]);
    return rows.length > 0;
  }

  /**
   * Reports a tenant's schema: present, migrations applied and pending, drift.
   *
   * @param name The tenant name.
   * @returns The status.
   */
  async status(name: string): Promise<TenantStatus> {
    const schema = tenantSchema(name);
    const manager = new SchemaManager(this.#executor, schema);
    const exists = await this.exists(name);
    return {
      tenant: name,
      schema,
      exists,
      applied: exists ? await this.#applied(schema) : [],
      pending: await manager.plan(),
      drift: exists ? await manager.drift(await this.#driftIgnore()) : null,
    };
  }

  /**
   * Drops a tenant's schema and everything in it. Irreversible.
   *
   * @param name The tenant name.
   * @throws {RillflowError} `TENANT_NOT_FOUND` when it does not exist.
   */
  async drop(name: string): Promise<void> {
    const schema = tenantSchema(name);
    await this.#mustExist(name);
    await this.#executor.query(`drop schema ${quoteIdent(schema)} cascade`);
    this.#ensured.delete(name);
  }

  /**
   * Writes a tenant's tables (documents, events, snapshots, checkpoints, …) as JSON
   * Lines with a manifest of counts and checksums, from one consistent snapshot.
   *
   * @param name The tenant name.
   * @param dir The output directory.
   * @returns The manifest.
   * @throws {RillflowError} `TENANT_NOT_FOUND` when it does not exist.
   */
  async archive(name: string, dir: string): Promise<ArchiveManifest> {
    await this.#mustExist(name);
    return await archiveSchema(this.#executor, name, tenantSchema(name), dir);
  }

  /**
   * Loads an archive into a fresh tenant (provisioned now, or existing and empty),
   * verifying checksums and counts first; all or nothing.
   *
   * @param name The tenant to restore into.
   * @param dir The archive directory.
   * @returns The manifest, whose counts match what was loaded.
   * @throws {RillflowError} `INVALID_INPUT` for a damaged archive or a tenant holding data.
   */
  async restore(name: string, dir: string): Promise<ArchiveManifest> {
    validateTenantName(name);
    const archive = await readArchive(dir);
    await this.ensure(name);
    const schema = tenantSchema(name);
    if (await this.#hasRows(schema)) {
      throw new RillflowError(
        "INVALID_INPUT",
        `Cannot restore into tenant "${name}": it already holds data; restore into a fresh tenant`,
      );
    }
    const loaded = await restoreSchema(this.#executor, schema, archive);
    for (const table of archive.manifest.tables) {
      if (loaded[table.name] !== table.rows) {
        throw new RillflowError(
          "INVALID_INPUT",
          `Restored ${loaded[table.name]} rows of ${table.name}, expected ${table.rows}`,
        );
      }
    }
    return archive.manifest;
  }

  async #hasRows(schema: string): Promise<boolean> {
    for (const table of ["docs", "events", "streams", "snapshots"]) {
      const rows = await this.#executor.query(
        `select 1 from ${quoteIdent(schema)}.${quoteIdent(table)} limit 1`,
      );
      if (rows.length > 0) return true;
    }
    return false;
  }

  async #applied(schema: string): Promise<MigrationRef[]> {
    const [ledger] = await this.#executor.query<{ found: boolean }>(
      "select to_regclass($1) is not null as found",
      [`${quoteIdent(schema)}.rillflow_migrations`],
    );
    if (!ledger?.found) return [];
    const rows = await this.#executor.query<MigrationRef>(
      `select version, name from ${quoteIdent(schema)}.rillflow_migrations order by version`,
    );
    return rows.map(({ version, name }) => ({ version, name }));
  }

  async #mustExist(name: string): Promise<void> {
    if (!(await this.exists(name))) {
      throw new RillflowError("TENANT_NOT_FOUND", `Tenant "${name}" does not exist`, {
        details: { tenant: name },
      });
    }
  }
}
