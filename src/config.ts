/**
 * The config module the CLI loads (`rillflow.config.ts` by default, `--config PATH`):
 * its default export is `defineConfig({ … })`, naming the user code the CLI runs.
 *
 * @module
 */
import { validateIdentifier } from "./db/identifiers.ts";
import { type Aggregate, assertAggregate } from "./events/aggregate.ts";
import { UpcasterRegistry } from "./events/upcast_registry.ts";
import { assertProjection, type Projection } from "./events/projection.ts";
import type { ProjectionDaemonOptions } from "./projections/daemon_options.ts";

/** What a config module declares. Parts add their own fields (projections, upcasters, …). */
export interface RillflowConfig {
  /** The database URL; `--database-url` and `DATABASE_URL` take precedence. */
  databaseUrl?: string;
  /** The schema; `--schema` takes precedence. */
  schema?: string;
  /** A connection pooler in front of the server (`StoreOptions.pooler`); `--pooler` takes precedence. */
  pooler?: "none" | "transaction";
  /**
   * A URL straight to the server, for what needs a session behind a transaction pooler
   * (`StoreOptions.directUrl`); `--direct-url` and `DIRECT_DATABASE_URL` take precedence.
   */
  directUrl?: string;
  /** The upcasters (`rillflow upcasters list|path`; stores the CLI opens apply them). */
  upcasters?: UpcasterRegistry;
  /** The aggregates whose streams `rillflow snapshots …` compacts. */
  // deno-lint-ignore no-explicit-any -- each aggregate has its own state type
  aggregates?: readonly Aggregate<any>[];
  /** The projections `rillflow projections run-…` registers, by name. */
  projections?: Record<string, Projection>;
  /** Options of the projection daemon the CLI runs; command-line flags take precedence. */
  daemon?: ProjectionDaemonOptions;
}

/**
 * Declares a config module's content, with type checking.
 *
 * @example rillflow.config.ts
 * ```ts
 * import { defineConfig } from "@rillflow/rillflow";
 *
 * export default defineConfig({ databaseUrl: "postgres://postgres@127.0.0.1:5432/app" });
 * ```
 *
 * @param config The configuration.
 * @returns The same configuration.
 * @throws {TypeError} When the config is not an object or its schema name is invalid.
 */
export function defineConfig<C extends RillflowConfig>(config: C): C {
  if (config === null || typeof config !== "object") {
    throw new TypeError("defineConfig() takes an object");
  }
  if (config.schema !== undefined) validateIdentifier(config.schema, "schema");
  if (config.upcasters !== undefined && !(config.upcasters instanceof UpcasterRegistry)) {
    throw new TypeError("Config upcasters must be an UpcasterRegistry");
  }
  if (config.aggregates !== undefined) {
    if (!Array.isArray(config.aggregates)) {
      throw new TypeError("Config aggregates must be an array of aggregates");
    }
    config.aggregates.forEach(assertAggregate);
  }
  if (config.projections !== undefined) {
    if (config.projections === null || typeof config.projections !== "object") {
      throw new TypeError("projections must map names to projections");
    }
    for (const [name, projection] of Object.entries(config.projections)) {
      assertProjection(name, projection);
    }
  }
  return config;
}

/**
 * Loads a config module and returns its default export.
 *
 * @param path A file path (relative to the working directory) or URL.
 * @returns The configuration.
 * @throws {TypeError} When the module is missing or has no `defineConfig` default export.
 */
export async function loadConfig(path: string): Promise<RillflowConfig> {
  let url: URL;
  try {
    url = /^[a-z]+:\/\//i.test(path) ? new URL(path) : new URL(path, `file://${Deno.cwd()}/`);
  } catch {
    throw new TypeError(`Invalid config path "${path}"`);
  }
  let module: { default?: unknown };
  try {
    module = await import(url.href);
  } catch (error) {
    const missing = error instanceof Error && /Module not found|No such file/i.test(error.message);
    throw new TypeError(
      missing
        ? `No config module at ${path}: create rillflow.config.ts exporting defineConfig({ … }) or pass --config PATH`
        : `Cannot load config module ${path}: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
  const config = module.default;
  if (config === null || typeof config !== "object") {
    throw new TypeError(`Config module ${path} must export default defineConfig({ … })`);
  }
  return defineConfig(config as RillflowConfig);
}
