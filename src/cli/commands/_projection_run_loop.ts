/**
 * `rillflow projections run-loop`: run the config module's projections until
 * SIGINT/SIGTERM, in one schema (or one tenant with `--tenant`) or, with
 * `--all-tenants`, for every tenant of a schema-per-tenant database.
 *
 * @module
 */
import type { Command } from "commander";
import { type CliContext, UsageError } from "../context.ts";
import {
  healthHandler,
  type HealthServeOptions,
  parseBind,
  whileServingHealth,
} from "../../observability/health_server.ts";
import { runAllTenants } from "../../tenant_runner.ts";
import {
  daemonOptions,
  integerFlag,
  loadProjectionConfig,
  registerProjections,
  type RunFlags,
  withDaemon,
  withRunFlags,
} from "./_projection_daemon.ts";

interface RunLoopFlags extends RunFlags {
  useNotify: string;
  healthBind?: string;
  allTenants?: boolean;
  discoverIntervalMs: string;
  waitForDb: string;
  logFormat: string;
}

/** Runs `work` with a signal that aborts on SIGINT or SIGTERM. */
async function untilSignal(work: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  try {
    await work(controller.signal);
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, stop);
  }
}

function healthOptions(cli: CliContext, flags: RunLoopFlags): HealthServeOptions | undefined {
  if (flags.healthBind === undefined) return undefined;
  return {
    ...parseBind(flags.healthBind),
    onListen: ({ hostname, port }) =>
      cli.log.line(
        "info",
        `Health and metrics on http://${hostname}:${port}/ (/health/live, /health/ready, /metrics)`,
        { hostname, port },
      ),
  };
}

async function runOneSchema(cli: CliContext, command: Command, flags: RunLoopFlags) {
  const health = healthOptions(cli, flags);
  await withDaemon(cli, command, true, async (daemon, store) => {
    // Said once SIGINT/SIGTERM are handled: a stop right after this line still stops cleanly.
    await untilSignal((signal) => {
      cli.log.line(
        "info",
        `Running ${daemon.names.length} projection(s) as "${daemon.node}"; stop with Ctrl-C.`,
        { node: daemon.node, projections: daemon.names },
      );
      return whileServingHealth(
        () => healthHandler(store, { daemon }),
        health && { ...health, signal },
        () => daemon.run({ signal, useNotify: flags.useNotify === "true" }),
      );
    });
    cli.log.line("info", "Stopped.");
  }, flags);
}

async function runEveryTenant(cli: CliContext, command: Command, flags: RunLoopFlags) {
  if (cli.tenant(command) !== undefined) {
    throw new UsageError("Pass either --tenant or --all-tenants, not both");
  }
  const discoverIntervalMs = integerFlag(flags.discoverIntervalMs, "--discover-interval-ms", 1)!;
  const health = healthOptions(cli, flags);
  const config = await loadProjectionConfig(cli, command, true);
  await cli.withTenants(command, async (store) => {
    await untilSignal((signal) => {
      cli.log.line(
        "info",
        `Running ${
          Object.keys(config?.projections ?? {}).length
        } projection(s) for every tenant (new tenants every ${discoverIntervalMs} ms); stop with Ctrl-C.`,
      );
      return runAllTenants(store, (daemon) => registerProjections(daemon, config), {
        signal,
        useNotify: flags.useNotify === "true",
        discoverIntervalMs,
        migrate: flags.migrate,
        daemon: daemonOptions(cli, config, flags),
        health,
        onTenantStart: (tenant, daemon) =>
          cli.log.line("info", `Tenant "${tenant}": running as "${daemon.node}".`, { tenant }),
        onTenantStop: (tenant) => cli.log.line("info", `Tenant "${tenant}": stopped.`, { tenant }),
      });
    });
    cli.log.line("info", "Stopped.");
  }, config);
}

/**
 * Registers `projections run-loop`.
 *
 * @param group The `projections` command.
 * @param cli The shared CLI context.
 */
export function registerRunLoop(group: Command, cli: CliContext): void {
  withRunFlags(
    group.command("run-loop").description("run every projection until SIGINT/SIGTERM")
      .option("--use-notify <bool>", "LISTEN for appends (true|false)", "true")
      .option("--health-bind <host:port>", "serve /, /health/live, /health/ready, /metrics")
      .option(
        "--all-tenants",
        "run the projections of every tenant (schema-per-tenant), picking up new tenants",
      )
      .option("--log-format <format>", "how log lines are written on stderr: text or json", "text")
      .option(
        "--wait-for-db <seconds>",
        "keep retrying a database that does not answer at start this long (0: fail at once)",
        "0",
      )
      .option(
        "--discover-interval-ms <ms>",
        "with --all-tenants: how often to look for new or dropped tenants",
        "5000",
      ),
  ).action(async (flags: RunLoopFlags, command: Command) => {
    if (flags.useNotify !== "true" && flags.useNotify !== "false") {
      throw new UsageError(`--use-notify must be true or false, got "${flags.useNotify}"`);
    }
    if (flags.logFormat !== "text" && flags.logFormat !== "json") {
      throw new UsageError(`--log-format must be text or json, got "${flags.logFormat}"`);
    }
    cli.log.format = flags.logFormat;
    cli.waitForDbMs = integerFlag(flags.waitForDb, "--wait-for-db", 0)! * 1000;
    if (flags.allTenants) await runEveryTenant(cli, command, flags);
    else await runOneSchema(cli, command, flags);
  });
}
