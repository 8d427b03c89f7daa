/**
 * `rillflow subscriptions …`: create, inspect, pause, reset and tail
 * subscriptions, their consumer groups and dead letters.
 *
 * @module
 */
import type { Command } from "commander";
import { type CliContext, UsageError } from "../context.ts";
import type { Store } from "../../store.ts";
import type { GroupMode } from "../../subscriptions/groups.ts";
import {
  formatDeadLetters,
  formatGroups,
  formatGroupStatus,
  formatList,
  formatStatus,
  formatTailLine,
} from "./_subscription_text.ts";

function integer(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag} must be an integer of at least ${min}, got "${value}"`);
  }
  return n;
}

interface TailFlags {
  group: string;
  limit?: string;
  follow?: boolean;
  members: string;
  leaseTtlMs?: string;
}

/**
 * Registers the subscription commands.
 *
 * @param program The root command.
 * @param cli The shared CLI context.
 */
export function registerSubscriptionCommands(program: Command, cli: CliContext): void {
  const group = program.command("subscriptions").description(
    "filtered event feeds with consumer groups",
  );
  const run = <T>(command: Command, work: (store: Store) => Promise<T>) =>
    cli.withStore(command, work);

  group.command("create <name>")
    .description("create a subscription, or change its filter (groups keep their checkpoints)")
    .option("--event-type <types...>", "only these event types")
    .option("--stream-id <ids...>", "only these streams")
    .option("--category <categories...>", "only streams of these categories")
    .option("--start-from <position>", "new groups start after this position", "0")
    .action(async (
      name: string,
      flags: { eventType?: string[]; streamId?: string[]; category?: string[]; startFrom: string },
      command: Command,
    ) => {
      const startFrom = integer(flags.startFrom, "--start-from", 0);
      const filter = { eventTypes: flags.eventType, streamIds: flags.streamId };
      await run(
        command,
        (store) =>
          store.subscriptions.create(name, { ...filter, categories: flags.category, startFrom }),
      );
      cli.print(command, { name, created: true }, () => `Subscription "${name}" saved.`);
    });

  group.command("list").description("list subscriptions")
    .action(async (_flags, command: Command) => {
      const list = await run(command, (store) => store.subscriptions.list());
      cli.print(command, list, () => formatList(list));
    });

  group.command("status <name>").description("a subscription's filter and groups")
    .action(async (name: string, _flags, command: Command) => {
      const status = await run(command, (store) => store.subscriptions.status(name));
      cli.print(command, status, () => formatStatus(status));
    });

  for (const [verb, done] of [["pause", "paused"], ["resume", "resumed"]] as const) {
    group.command(`${verb} <name>`).description(`${verb} delivery to every group`)
      .action(async (name: string, _flags, command: Command) => {
        await run(command, (store) => store.subscriptions[verb](name));
        cli.print(command, { name, [done]: true }, () => `Subscription "${name}" ${done}.`);
      });
  }

  group.command("reset <name> <position>")
    .description("move the checkpoint of every group (or --group) to a position")
    .option("--group <group>", "reset only this group")
    .action(async (name: string, position: string, flags: { group?: string }, command: Command) => {
      const at = integer(position, "position", 0);
      await run(command, (store) => store.subscriptions.reset(name, at, { group: flags.group }));
      cli.print(
        command,
        { name, group: flags.group ?? null, position: at },
        () =>
          `Subscription "${name}"${flags.group ? ` group "${flags.group}"` : ""} reset to ${at}.`,
      );
    });

  group.command("delete <name>").description("delete a subscription with its groups")
    .action(async (name: string, _flags, command: Command) => {
      await run(command, (store) => store.subscriptions.delete(name));
      cli.print(command, { name, deleted: true }, () => `Subscription "${name}" deleted.`);
    });

  registerTail(group, cli);
  registerGroupCommands(group, cli);
  registerDeadLetterCommands(group, cli);
}

function registerTail(group: Command, cli: CliContext): void {
  group.command("tail <name>")
    .description("consume as a group member and print position, stream id, sequence and type")
    .option("--group <group>", "the consumer group (its checkpoint advances)", "tail")
    .option("--limit <n>", "stop after this many events")
    .option("--follow", "keep waiting for new events until Ctrl-C")
    .option("--members <mode>", "exclusive or shared", "exclusive")
    .option("--lease-ttl-ms <ms>", "lease time to live")
    .action(async (name: string, flags: TailFlags, command: Command) => {
      const limit = flags.limit === undefined ? Infinity : integer(flags.limit, "--limit", 1);
      if (flags.members !== "exclusive" && flags.members !== "shared") {
        throw new UsageError(`--members must be exclusive or shared, got "${flags.members}"`);
      }
      const leaseTtlMs = flags.leaseTtlMs === undefined
        ? undefined
        : integer(flags.leaseTtlMs, "--lease-ttl-ms", 1);
      const json = cli.globals(command).json;
      const controller = new AbortController();
      const stop = () => controller.abort();
      const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
      if (flags.follow) { for (const signal of signals) Deno.addSignalListener(signal, stop); }
      try {
        await cli.withStore(command, async (store) => {
          const sub = await store.subscriptions.subscribe(name, {
            group: flags.group,
            members: flags.members as GroupMode,
            leaseTtlMs,
            signal: controller.signal,
            stopWhenCaughtUp: !flags.follow,
            batchSize: Number.isFinite(limit) ? Math.min(limit, 500) : 500,
          });
          if (flags.follow) cli.io.err(`Tailing "${name}" as "${sub.memberId}"; Ctrl-C stops.\n`);
          let count = 0;
          for await (const envelope of sub) {
            cli.io.out((json ? JSON.stringify(envelope) : formatTailLine(envelope)) + "\n");
            if (++count >= limit) break;
          }
          await sub.close();
          if (flags.follow) cli.io.err(`Stopped after ${count} event(s); lease released.\n`);
        });
      } finally {
        if (flags.follow) { for (const signal of signals) Deno.removeSignalListener(signal, stop); }
      }
    });
}

function registerGroupCommands(group: Command, cli: CliContext): void {
  group.command("groups <name>").description("the consumer groups of a subscription")
    .action(async (name: string, _flags, command: Command) => {
      const groups = await cli.withStore(command, (store) => store.subscriptions.groups(name));
      cli.print(command, groups, () => formatGroups(groups));
    });

  group.command("group-status <name>")
    .description("last position, head, lag, members and leases of a group")
    .requiredOption("--group <group>", "the group")
    .action(async (name: string, flags: { group: string }, command: Command) => {
      const status = await cli.withStore(
        command,
        (store) => store.subscriptions.groupStatus(name, flags.group),
      );
      cli.print(command, status, () => formatGroupStatus(status));
    });

  group.command("set-group-max-in-flight <name>")
    .description("bound the group's delivered-but-unacked events at runtime (no --value unsets)")
    .requiredOption("--group <group>", "the group")
    .option("--value <n>", "the bound")
    .action(async (name: string, flags: { group: string; value?: string }, command: Command) => {
      const value = flags.value === undefined ? null : integer(flags.value, "--value", 1);
      await cli.withStore(
        command,
        (store) => store.subscriptions.setGroupMaxInFlight(name, flags.group, value),
      );
      cli.print(
        command,
        { name, group: flags.group, maxInFlight: value },
        () =>
          value === null
            ? `Group "${flags.group}" of "${name}": in-flight bound unset.`
            : `Group "${flags.group}" of "${name}": at most ${value} event(s) in flight.`,
      );
    });
}

function registerDeadLetterCommands(group: Command, cli: CliContext): void {
  group.command("dlq-list <name>").description("list dead letters, oldest first")
    .option("--group <group>", "only this group")
    .option("--limit <n>", "at most this many", "100")
    .action(async (name: string, flags: { group?: string; limit: string }, command: Command) => {
      const limit = integer(flags.limit, "--limit", 1);
      const entries = await cli.withStore(
        command,
        (store) => store.subscriptions.dlqList(name, { group: flags.group, limit }),
      );
      cli.print(command, entries, () => formatDeadLetters(entries));
    });

  for (const [verb, done] of [["requeue", "requeued"], ["delete", "deleted"]] as const) {
    group.command(`dlq-${verb} <name> <id>`)
      .description(verb === "requeue" ? "deliver a dead letter again" : "drop a dead letter")
      .action(async (name: string, id: string, _flags, command: Command) => {
        const n = integer(id, "id", 1);
        await cli.withStore(
          command,
          (store) =>
            verb === "requeue"
              ? store.subscriptions.dlqRequeue(name, n)
              : store.subscriptions.dlqDelete(name, n),
        );
        cli.print(command, { name, id: n, [done]: true }, () => `Dead letter ${n} ${done}.`);
      });
  }
}
