/**
 * `rillflow snapshots compact-once | run-until-idle`: snapshot the lagging
 * streams of the aggregates declared in the config module.
 *
 * @module
 */
import type { Command } from "commander";
import { type CliContext, EXIT, UsageError } from "../context.ts";
import { startProgress } from "../progress.ts";
import {
  type SnapshotFailure,
  Snapshotter,
  type SnapshotterProgress,
} from "../../events/snapshotter.ts";

interface CompactOptions {
  threshold: string;
  batch: string;
}

interface CompactResult {
  ticks: number;
  examined: number;
  written: number;
  failed: SnapshotFailure[];
}

function positive(value: string, flag: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < 1) {
    throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  }
  return parsed;
}

async function compact(
  cli: CliContext,
  command: Command,
  options: CompactOptions,
  untilIdle: boolean,
): Promise<void> {
  const threshold = positive(options.threshold, "--threshold");
  const batch = positive(options.batch, "--batch");
  const config = await cli.config(command);
  const aggregates = config.aggregates ?? [];
  if (aggregates.length === 0) {
    throw new UsageError(
      "The config module declares no aggregates: add aggregates: [ … ] to defineConfig({ … })",
    );
  }
  const progress = startProgress(cli.io);
  const onProgress = (p: SnapshotterProgress) =>
    progress.update(
      `snapshots: ${p.aggregate}: ${p.examined} examined, ${p.written} written, ${p.failed} failed`,
    );
  const result: CompactResult = await cli.withStore(command, async (store) => {
    const snapshotter = new Snapshotter(store, aggregates, { threshold, batch, onProgress });
    if (untilIdle) return await snapshotter.runUntilIdle();
    return { ticks: 1, ...await snapshotter.tickOnce() };
  }, config);
  progress.done();
  if (result.failed.length > 0) cli.exitCode = EXIT.domain;
  cli.print(command, result, () =>
    [
      `Examined ${result.examined} lagging stream(s), wrote ${result.written} snapshot(s) ` +
      `in ${result.ticks} tick(s); ${result.failed.length} failed.`,
      ...result.failed.map((f) => `  failed ${f.aggregate} ${f.streamId}: ${f.error}`),
    ].join("\n"));
}

/**
 * Registers the snapshot commands.
 *
 * @param program The root command.
 * @param cli The shared CLI context.
 */
export function registerSnapshotCommands(program: Command, cli: CliContext): void {
  const snapshots = program.command("snapshots")
    .description("snapshot aggregate streams (aggregates from the config module)");

  for (
    const [name, untilIdle, description] of [
      ["compact-once", false, "snapshot one batch of lagging streams"],
      ["run-until-idle", true, "snapshot every lagging stream, batch by batch, then stop"],
    ] as const
  ) {
    snapshots.command(name)
      .description(`${description} (exit 1 when some streams failed)`)
      .option(
        "--threshold <n>",
        "snapshot streams at least this many events past their snapshot",
        "100",
      )
      .option("--batch <n>", "streams per batch", "100")
      .action((options: CompactOptions, command: Command) =>
        compact(cli, command, options, untilIdle)
      );
  }
}
