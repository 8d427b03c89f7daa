/**
 * What every CLI command shares: global options, output, exit codes and a
 * connected store.
 *
 * @module
 */
import type { Command } from "commander";
import { Store } from "../store.ts";
import type { StoreOptions } from "../store_options.ts";
import { RillflowError } from "../errors.ts";
import { loadConfig, type RillflowConfig } from "../config.ts";
import type { CliIo } from "./io.ts";
import { CliLog } from "./log.ts";

/** Exit codes (STYLE.md): success, domain error, usage error, connection error. */
export const EXIT = { ok: 0, domain: 1, usage: 2, connection: 3 } as const;

/** The global options every command accepts. */
export interface GlobalOptions {
  databaseUrl?: string;
  /** A pooler in front of the server (`none` or `transaction`). */
  pooler?: string;
  /** A URL straight to the server, for sessions behind a transaction pooler. */
  directUrl?: string;
  schema: string;
  json?: boolean;
  config?: string;
  /** Route every command to this tenant's schema (schema-per-tenant). */
  tenant?: string;
}

/** A usage error: bad flags or arguments (exit code 2). */
export class UsageError extends Error {
  /** @param message What is wrong and how to fix it. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The state a command run shares with its actions. */
export class CliContext {
  /** The exit code actions may raise to `domain` (1) without throwing. */
  exitCode: number = EXIT.ok;

  /**
   * How long the next connects keep retrying a database that does not answer
   * (`run-loop --wait-for-db`); 0: fail at once.
   */
  waitForDbMs = 0;

  /** Timestamped, levelled lines on stderr, for long-running commands. */
  readonly log: CliLog;

  /** @param io Where to write and read the environment. */
  constructor(readonly io: CliIo) {
    this.log = new CliLog(io);
  }

  /** The global options as seen by `command`. */
  globals(command: Command): GlobalOptions {
    return command.optsWithGlobals() as GlobalOptions;
  }

  /** Prints `value` as JSON when `--json` is set, else the human text. */
  print(command: Command, value: unknown, human: () => string): void {
    if (this.globals(command).json) this.io.out(JSON.stringify(value, null, 2) + "\n");
    else this.io.out(human() + "\n");
  }

  /** Loads the config module named by `--config` (default `rillflow.config.ts`). */
  config(command: Command): Promise<RillflowConfig> {
    return loadConfig(this.globals(command).config ?? "rillflow.config.ts");
  }

  /**
   * Like {@linkcode withStore}, on a schema-per-tenant store that is not routed to a
   * tenant (for tenant commands and `run-loop --all-tenants`).
   */
  withTenants<T>(
    command: Command,
    work: (store: Store) => Promise<T>,
    config?: RillflowConfig,
  ): Promise<T> {
    return this.withStore(command, work, config, { strategy: "schema-per-tenant" });
  }

  /**
   * The global `--tenant`, read from the root command: a sub-command's own
   * `--tenant` option (`health schema --tenant`) is parsed by the root too.
   */
  tenant(command: Command): string | undefined {
    let root = command;
    while (root.parent) root = root.parent;
    return (root.opts() as GlobalOptions).tenant;
  }

  /**
   * Connects with the global options, runs `work` and closes the store. With the global
   * `--tenant T` (and no explicit `tenancy`), the store is schema-per-tenant and `work`
   * gets `store.forTenant(T)`, so every command runs in the tenant's schema.
   *
   * @param command The running command.
   * @param work What to do with the store.
   * @param config A loaded config module, whose databaseUrl/schema apply when the flags are absent.
   * @param tenancy The tenancy strategy to connect with (tenant commands: no routing).
   * @throws {UsageError} Without a database URL, or with both `--tenant` and `--schema`.
   * @throws {RillflowError} `TENANT_NOT_FOUND` when `--tenant` names no provisioned tenant.
   */
  async withStore<T>(
    command: Command,
    work: (store: Store) => Promise<T>,
    config?: RillflowConfig,
    tenancy?: StoreOptions["tenancy"],
  ): Promise<T> {
    const options = this.globals(command);
    const schemaSource = command.getOptionValueSourceWithGlobals("schema");
    const schema = schemaSource === "default" && config?.schema ? config.schema : options.schema;
    const url = options.databaseUrl ?? this.io.env("DATABASE_URL") ?? config?.databaseUrl;
    if (!url) throw new UsageError("No database: pass --database-url URL or set DATABASE_URL");
    const tenant = tenancy === undefined ? this.tenant(command) : undefined;
    if (tenant !== undefined && schemaSource !== "default") {
      throw new UsageError(
        "Pass either --tenant or --schema, not both: a tenant's schema is tenant_<name>",
      );
    }
    const pooler = options.pooler ?? config?.pooler;
    if (pooler !== undefined && pooler !== "none" && pooler !== "transaction") {
      throw new UsageError(`--pooler must be "none" or "transaction", not "${pooler}"`);
    }
    const directUrl = options.directUrl ?? this.io.env("DIRECT_DATABASE_URL") ?? config?.directUrl;
    const store = await this.#connect(url, {
      schema,
      ...(pooler === undefined ? {} : { pooler }),
      ...(directUrl === undefined ? {} : { directUrl }),
      autoMigrate: false,
      tenancy: tenant === undefined ? tenancy : { strategy: "schema-per-tenant" },
      upcasters: config?.upcasters,
    });
    try {
      return await work(tenant === undefined ? store : await tenantView(store, tenant));
    } finally {
      await store.close();
    }
  }

  /** Connects; with {@linkcode waitForDbMs}, retries a database that does not answer until then. */
  async #connect(url: string, options: StoreOptions): Promise<Store> {
    const deadline = performance.now() + this.waitForDbMs;
    for (let told = false;;) {
      try {
        return await Store.connect(url, options);
      } catch (error) {
        const left = deadline - performance.now();
        if (!(error instanceof RillflowError) || !error.retryable || left <= 0) throw error;
        if (!told) {
          this.log.line(
            "warn",
            `Waiting up to ${Math.ceil(left / 1000)} s for the database: ${error.message}`,
          );
          told = true;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, left)));
      }
    }
  }
}

/** The tenant's view, checked up front so no command reports a missing tenant as pending migrations. */
async function tenantView(store: Store, tenant: string): Promise<Store> {
  const view = store.forTenant(tenant);
  if (!(await store.tenants.exists(tenant))) {
    throw new RillflowError(
      "TENANT_NOT_FOUND",
      `Tenant "${tenant}" does not exist: provision it with "rillflow tenants ensure ${tenant}"`,
      { details: { tenant } },
    );
  }
  return view;
}

/**
 * Maps an error thrown by a command to its exit code and message.
 *
 * @param error The thrown value.
 * @returns The exit code and the line to print on stderr.
 */
export function exitFor(error: unknown): { code: number; message: string } {
  if (error instanceof RillflowError) {
    return {
      code: error.code === "CONNECTION_ERROR" ? EXIT.connection : EXIT.domain,
      message: `error[${error.code}]: ${error.message}`,
    };
  }
  if (error instanceof UsageError || error instanceof TypeError || error instanceof RangeError) {
    return { code: EXIT.usage, message: `error: ${error.message}` };
  }
  return {
    code: EXIT.domain,
    message: `error: ${error instanceof Error ? error.message : String(error)}`,
  };
}
