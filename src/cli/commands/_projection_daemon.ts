/**
 * What the projection commands that run handlers share: the run flags, the
 * config module's projections and a connected daemon.
 *
 * @module
 */
import type { Command } from "commander";
import { type CliContext, UsageError } from "../context.ts";
import { RillflowError } from "../../errors.ts";
import type { RillflowConfig } from "../../config.ts";
import type { Store } from "../../store.ts";
import type { ProjectionDaemon } from "../../projections/daemon.ts";
import type { ProjectionDaemonOptions } from "../../projections/daemon_options.ts";

/** Daemon flags shared by the commands that run handlers. */
export interface RunFlags {
  batchSize?: string;
  leaseTtlMs?: string;
  pollIntervalMs?: string;
  node?: string;
  migrate?: boolean;
}

/** Parses an integer flag of at least `min`. */
export function integerFlag(
  value: string | undefined,
  flag: string,
  min: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag} must be an integer of at least ${min}, got "${value}"`);
  }
  return n;
}

/** The daemon options the run flags set. */
export function daemonFlags(flags: RunFlags): ProjectionDaemonOptions {
  const options: ProjectionDaemonOptions = {};
  const batchSize = integerFlag(flags.batchSize, "--batch-size", 1);
  const leaseTtlMs = integerFlag(flags.leaseTtlMs, "--lease-ttl-ms", 1);
  const pollIntervalMs = integerFlag(flags.pollIntervalMs, "--poll-interval-ms", 1);
  if (batchSize !== undefined) options.batchSize = batchSize;
  if (leaseTtlMs !== undefined) options.leaseTtlMs = leaseTtlMs;
  if (pollIntervalMs !== undefined) options.pollIntervalMs = pollIntervalMs;
  if (flags.node !== undefined) options.node = flags.node;
  return options;
}

/** Adds the run flags to a command. */
export function withRunFlags(command: Command): Command {
  return command
    .option("--batch-size <n>", "events per batch (default: config, else 500)")
    .option("--lease-ttl-ms <ms>", "lease duration (default: config, else 30000)")
    .option("--poll-interval-ms <ms>", "idle polling interval (default: config, else 1000)")
    .option("--node <name>", "this worker's name in leases (default: host:pid:random)")
    .option("--migrate", "apply pending migrations first");
}

/** Loads the config module; optional for commands that do not run handlers. */
export async function loadProjectionConfig(
  cli: CliContext,
  command: Command,
  needsHandlers: boolean,
): Promise<RillflowConfig | undefined> {
  const explicit = command.getOptionValueSourceWithGlobals("config") !== "default";
  let config: RillflowConfig;
  try {
    config = await cli.config(command);
  } catch (error) {
    const missing = error instanceof TypeError && error.message.startsWith("No config module");
    if (missing && !needsHandlers && !explicit) return undefined;
    if (needsHandlers && error instanceof Error) {
      throw new UsageError(
        `"projections ${command.name()}" runs projection handlers, which come from the config ` +
          `module. ${error.message}`,
      );
    }
    throw error;
  }
  if (needsHandlers && Object.keys(config.projections ?? {}).length === 0) {
    const path = cli.globals(command).config ?? "rillflow.config.ts";
    throw new UsageError(
      `Config module ${path} declares no projections: add projections: { name: projection } ` +
        `to its defineConfig({ … })`,
    );
  }
  return config;
}

/** Connects, builds a daemon with the config's projections and runs `work`. */
export async function withDaemon<T>(
  cli: CliContext,
  command: Command,
  needsHandlers: boolean,
  work: (daemon: ProjectionDaemon, store: Store) => Promise<T>,
  flags: RunFlags = {},
): Promise<T> {
  const config = await loadProjectionConfig(cli, command, needsHandlers);
  return await cli.withStore(command, async (store) => {
    if (flags.migrate) await store.schema.sync();
    const pending = await store.schema.plan();
    if (pending.length > 0) {
      throw new RillflowError(
        "INVALID_INPUT",
        `Schema "${store.schema.schemaName}" has ${pending.length} pending migration(s): run ` +
          `"rillflow schema-sync" first (the run commands also take --migrate)`,
      );
    }
    const daemon = store.projections(daemonOptions(cli, config, flags));
    registerProjections(daemon, config);
    try {
      return await work(daemon, store);
    } finally {
      // A one-shot command must not keep other workers waiting for its leases to expire.
      await daemon.releaseLeases().catch(() => {});
    }
  }, config);
}

/** The daemon options of a run: errors on stderr, then the config's, then the flags. */
export function daemonOptions(
  cli: CliContext,
  config: RillflowConfig | undefined,
  flags: RunFlags,
): ProjectionDaemonOptions {
  return {
    onError: (error, where) =>
      cli.log.line(
        "error",
        `${where.projection ? `projection "${where.projection}": ` : ""}${where.during} failed: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { ...where, code: (error as { code?: unknown })?.code },
      ),
    onRecovered: ({ downMs, failedTicks }) =>
      cli.log.line(
        "info",
        `Recovered: the database answers again after ${
          Math.round(downMs / 100) / 10
        } s (${failedTicks} failed ticks)`,
        { downMs: Math.round(downMs), failedTicks },
      ),
    ...config?.daemon,
    ...daemonFlags(flags),
  };
}

/** Registers the config module's projections on a daemon. */
export function registerProjections(
  daemon: ProjectionDaemon,
  config: RillflowConfig | undefined,
): void {
  for (const [name, projection] of Object.entries(config?.projections ?? {})) {
    daemon.register(name, projection);
  }
}
