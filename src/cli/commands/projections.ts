/**
 * `rillflow projections …`: inspect, administer and run projections. The
 * commands that run handlers (run-once, run-until-idle, run-loop, rebuild,
 * dlq-requeue) load them from the config module.
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
import { parseBind } from "../../observability/health_server.ts";
import { startProgress } from "../progress.ts";
import {
  formatDeadLetters,
  formatMetrics,
  formatStatus,
  formatStatusTable,
} from "./_projection_text.ts";

/** Daemon flags shared by the commands that run handlers. */
interface RunFlags {
  batchSize?: string;
  leaseTtlMs?: string;
  pollIntervalMs?: string;
  node?: string;
  migrate?: boolean;
}

function integerFlag(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag} must be an integer of at least ${min}, got "${value}"`);
  }
  return n;
}

function daemonFlags(flags: RunFlags): ProjectionDaemonOptions {
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

function withRunFlags(command: Command): Command {
  return command
    .option("--batch-size <n>", "events per batch (default: config, else 500)")
    .option("--lease-ttl-ms <ms>", "lease duration (default: config, else 30000)")
    .option("--poll-interval-ms <ms>", "idle polling interval (default: config, else 1000)")
    .option("--node <name>", "this worker's name in leases (default: host:pid:random)")
    .option("--migrate", "apply pending migrations first");
}

/** Loads the config module; optional for commands that do not run handlers. */
async function loadProjectionConfig(
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
async function withDaemon<T>(
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
    const daemon = store.projections({
      onError: (error, where) =>
        cli.io.err(
          `${where.projection ? `projection "${where.projection}": ` : ""}${where.during} failed: ${
            error instanceof Error ? error.message : String(error)
          }\n`,
        ),
      ...config?.daemon,
      ...daemonFlags(flags),
    });
    for (const [name, projection] of Object.entries(config?.projections ?? {})) {
      daemon.register(name, projection);
    }
    try {
      return await work(daemon, store);
    } finally {
      // A one-shot command must not keep other workers waiting for its leases to expire.
      await daemon.releaseLeases().catch(() => {});
    }
  }, config);
}

function idFlag(value: string | undefined): number {
  if (value === undefined) throw new UsageError("--id <id> is required");
  return integerFlag(value, "--id", 1)!;
}

/**
 * Registers the projection commands.
 *
 * @param program The root command.
 * @param cli The shared CLI context.
 */
export function registerProjectionCommands(program: Command, cli: CliContext): void {
  const group = program.command("projections").description(
    "inspect, administer and run projections (handlers come from the config module)",
  );

  group.command("list").description("every projection with state, checkpoint, head and lag")
    .action(async (_options, command: Command) => {
      const list = await withDaemon(cli, command, false, (daemon) => daemon.list());
      cli.print(command, list, () => formatStatusTable(list));
    });

  group.command("status <name>").description("one projection's checkpoint, lease and retry state")
    .action(async (name: string, _options, command: Command) => {
      const status = await withDaemon(cli, command, false, (daemon) => daemon.status(name));
      cli.print(command, status, () => formatStatus(status));
    });

  for (
    const [verb, description] of [["pause", "stop applying a projection"], [
      "resume",
      "resume a paused projection",
    ]] as const
  ) {
    group.command(`${verb} <name>`).description(description)
      .action(async (name: string, _options, command: Command) => {
        await withDaemon(cli, command, false, (daemon) => daemon[verb](name));
        cli.print(
          command,
          { name, paused: verb === "pause" },
          () => `${verb === "pause" ? "Paused" : "Resumed"} projection "${name}".`,
        );
      });
  }

  group.command("reset-checkpoint <name> <seq>")
    .description("move the checkpoint: events after <seq> are applied next")
    .action(async (name: string, seq: string, _options, command: Command) => {
      const position = integerFlag(seq, "<seq>", 0)!;
      await withDaemon(cli, command, false, (daemon) => daemon.resetCheckpoint(name, position));
      cli.print(
        command,
        { name, checkpoint: position },
        () => `Projection "${name}" now resumes after position ${position}.`,
      );
    });

  withRunFlags(
    group.command("rebuild <name>")
      .description(
        "clear the read model, checkpoint and dead letters in one transaction, then replay",
      ),
  ).action(async (name: string, flags: RunFlags, command: Command) => {
    const progress = startProgress(cli.io);
    const result = await withDaemon(cli, command, true, (daemon) =>
      daemon.rebuild(name, {
        onProgress: (p) =>
          progress.update(`rebuild ${name}: position ${p.checkpoint ?? "?"} of ${p.head ?? "?"}`),
      }), flags);
    progress.done();
    cli.print(
      command,
      { name, ...result },
      () =>
        `Rebuilt projection "${name}": applied ${result.applied} event(s), ${result.deadLettered} dead-lettered.`,
    );
  });

  withRunFlags(
    group.command("run-once").description("run one batch of every projection (or --name)")
      .option("--name <name>", "only this projection"),
  ).action(async (flags: RunFlags & { name?: string }, command: Command) => {
    const results = await withDaemon(cli, command, true, async (daemon) => {
      if (flags.name) return { [flags.name]: await daemon.tickOnce(flags.name) };
      return await daemon.tickAll();
    }, flags);
    cli.print(
      command,
      results,
      () =>
        Object.entries(results).map(([name, r]) =>
          `${name}: ${r.status}, applied ${r.count}${
            r.deadLettered ? `, dead-lettered ${r.deadLettered}` : ""
          }${r.checkpoint !== undefined ? `, checkpoint ${r.checkpoint}` : ""}`
        ).join("\n") || "No projections.",
    );
  });

  withRunFlags(
    group.command("run-until-idle").description("apply events until every projection is caught up")
      .option("--name <name>", "only this projection"),
  ).action(async (flags: RunFlags & { name?: string }, command: Command) => {
    const progress = startProgress(cli.io);
    const result = await withDaemon(cli, command, true, (daemon) =>
      daemon.runUntilIdle({
        names: flags.name ? [flags.name] : undefined,
        onProgress: (p) =>
          progress.update(`${p.name}: position ${p.checkpoint ?? "?"} of ${p.head ?? "?"}`),
      }), flags);
    progress.done();
    cli.print(
      command,
      result,
      () => `Caught up: applied ${result.applied} event(s), ${result.deadLettered} dead-lettered.`,
    );
  });

  group.command("dlq-list <name>").description("a projection's dead letters, oldest first")
    .option("--limit <n>", "at most this many", "100")
    .action(async (name: string, flags: { limit: string }, command: Command) => {
      const limit = integerFlag(flags.limit, "--limit", 1)!;
      const list = await withDaemon(
        cli,
        command,
        false,
        (daemon) => daemon.dlqList(name, { limit }),
      );
      cli.print(command, list, () => formatDeadLetters(name, list));
    });

  group.command("dlq-requeue <name>").description(
    "apply one dead letter again (alone) and remove it",
  )
    .option("--id <id>", "the dead letter's id")
    .action(async (name: string, flags: { id?: string }, command: Command) => {
      const id = idFlag(flags.id);
      await withDaemon(cli, command, true, (daemon) => daemon.dlqRequeue(name, id));
      cli.print(
        command,
        { name, id, requeued: true },
        () => `Applied dead letter ${id} of "${name}" and removed it.`,
      );
    });

  group.command("dlq-delete <name>").description("delete one dead letter")
    .option("--id <id>", "the dead letter's id")
    .action(async (name: string, flags: { id?: string }, command: Command) => {
      const id = idFlag(flags.id);
      await withDaemon(cli, command, false, (daemon) => daemon.dlqDelete(name, id));
      cli.print(
        command,
        { name, id, deleted: true },
        () => `Deleted dead letter ${id} of "${name}".`,
      );
    });

  group.command("metrics <name>").description(
    "checkpoint, head, lag, dead-letter count, last error",
  )
    .action(async (name: string, _options, command: Command) => {
      const s = await withDaemon(cli, command, false, (daemon) => daemon.status(name));
      const metrics = {
        name: s.name,
        checkpoint: s.checkpoint,
        head: s.head,
        lag: s.lag,
        deadLetters: s.deadLetters,
        lastError: s.lastError,
        lastErrorAt: s.lastErrorAt,
      };
      cli.print(command, metrics, () => formatMetrics(metrics));
    });

  withRunFlags(
    group.command("run-loop").description("run every projection until SIGINT/SIGTERM")
      .option("--use-notify <bool>", "LISTEN for appends (true|false)", "true")
      .option("--health-bind <host:port>", "serve /, /health/live, /health/ready, /metrics"),
  ).action(
    async (flags: RunFlags & { useNotify: string; healthBind?: string }, command: Command) => {
      if (flags.useNotify !== "true" && flags.useNotify !== "false") {
        throw new UsageError(`--use-notify must be true or false, got "${flags.useNotify}"`);
      }
      const bind = flags.healthBind === undefined ? undefined : parseBind(flags.healthBind);
      await withDaemon(cli, command, true, async (daemon) => {
        const controller = new AbortController();
        const stop = () => controller.abort();
        const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
        for (const signal of signals) Deno.addSignalListener(signal, stop);
        cli.io.err(
          `Running ${daemon.names.length} projection(s) as "${daemon.node}"; stop with Ctrl-C.\n`,
        );
        try {
          await daemon.run({
            signal: controller.signal,
            useNotify: flags.useNotify === "true",
            health: bind && {
              ...bind,
              onListen: ({ hostname, port }) =>
                cli.io.err(
                  `Health and metrics on http://${hostname}:${port}/ (/health/live, /health/ready, /metrics)\n`,
                ),
            },
          });
        } finally {
          for (const signal of signals) Deno.removeSignalListener(signal, stop);
        }
        cli.io.err("Stopped.\n");
      }, flags);
    },
  );
}
