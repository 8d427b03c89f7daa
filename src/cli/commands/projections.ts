/**
 * `rillflow projections …`: inspect, administer and run projections. The
 * commands that run handlers (run-once, run-until-idle, run-loop, rebuild,
 * dlq-requeue) load them from the config module.
 *
 * @module
 */
import type { Command } from "commander";
import { type CliContext, UsageError } from "../context.ts";
import { integerFlag, type RunFlags, withDaemon, withRunFlags } from "./_projection_daemon.ts";
import { registerRunLoop } from "./_projection_run_loop.ts";
import { startProgress } from "../progress.ts";
import {
  formatDeadLetters,
  formatMetrics,
  formatStatus,
  formatStatusTable,
} from "./_projection_text.ts";

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
  registerRunLoop(group, cli);
}
