/**
 * Human-readable text for `rillflow subscriptions …`.
 *
 * @module
 */
import type { EventEnvelope } from "../../events/envelope.ts";
import type { SubscriptionInfo } from "../../subscriptions/definitions.ts";
import type { SubscriptionDeadLetter } from "../../subscriptions/dead_letters.ts";
import { describeFilter } from "../../subscriptions/filter.ts";
import type { GroupStatus } from "../../subscriptions/groups.ts";
import type { SubscriptionStatus } from "../../subscriptions/subscriptions.ts";

/** Aligns rows of cells into columns. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd())
    .join("\n");
}

/** `list`: one line per subscription. */
export function formatList(subscriptions: readonly SubscriptionInfo[]): string {
  if (subscriptions.length === 0) return "No subscriptions.";
  return table([
    ["NAME", "STATE", "GROUPS", "START", "FILTER"],
    ...subscriptions.map((s) => [
      s.name,
      s.paused ? "paused" : "active",
      String(s.groupCount),
      String(s.startFrom),
      describeFilter(s.filter),
    ]),
  ]);
}

/** `groups`: one line per group. */
export function formatGroups(groups: readonly GroupStatus[]): string {
  if (groups.length === 0) return "No groups yet: subscribe() creates them.";
  return table([
    ["GROUP", "MODE", "CHECKPOINT", "HEAD", "LAG", "IN FLIGHT", "MAX", "MEMBERS", "DLQ"],
    ...groups.map((g) => [
      g.group,
      g.mode,
      String(g.checkpoint),
      String(g.head),
      String(g.lag),
      String(g.inFlight),
      g.maxInFlight === null ? "-" : String(g.maxInFlight),
      String(g.members.length),
      String(g.deadLetters),
    ]),
  ]);
}

/** `status`: the definition and its groups. */
export function formatStatus(status: SubscriptionStatus): string {
  return [
    `Subscription "${status.name}" (${status.paused ? "paused" : "active"})`,
    `  filter:     ${describeFilter(status.filter)}`,
    `  start from: ${status.startFrom}`,
    `  head:       ${status.head}`,
    "",
    formatGroups(status.groups),
  ].join("\n");
}

const time = (date: Date | null) => date === null ? "-" : date.toISOString();

/** `group-status`: positions, members and leases of one group. */
export function formatGroupStatus(g: GroupStatus): string {
  const lines = [
    `Group "${g.group}" of subscription "${g.subscription}" (${g.mode}, ${g.partitionCount} partition(s))`,
    `  last position: ${g.checkpoint}`,
    `  head:          ${g.head}`,
    `  lag:           ${g.lag}`,
    `  in flight:     ${g.inFlight}${g.maxInFlight === null ? "" : ` of at most ${g.maxInFlight}`}`,
    `  retrying:      ${g.retrying}`,
    `  dead letters:  ${g.deadLetters}`,
    "",
    g.members.length === 0 ? "No live members." : table([
      ["MEMBER", "IN FLIGHT", "PARTITIONS", "EXPIRES"],
      ...g.members.map((m) => [
        m.memberId,
        String(m.inFlight),
        m.partitions.join(",") || "-",
        time(m.expiresAt),
      ]),
    ]),
    "",
    table([
      ["PARTITION", "CHECKPOINT", "LEASE OWNER", "EXPIRES", "TOKEN"],
      ...g.leases.map((l) => [
        String(l.partition),
        String(l.checkpoint),
        l.owner ?? "-",
        time(l.expiresAt),
        String(l.fencingToken),
      ]),
    ]),
  ];
  return lines.join("\n");
}

/** `dlq-list`: one line per dead letter. */
export function formatDeadLetters(entries: readonly SubscriptionDeadLetter[]): string {
  if (entries.length === 0) return "No dead letters.";
  return table([
    ["ID", "GROUP", "POSITION", "TYPE", "ATTEMPTS", "ERROR"],
    ...entries.map((d) => [
      String(d.id),
      d.group,
      String(d.globalSeq),
      d.envelope.type,
      String(d.attempts),
      d.error,
    ]),
  ]);
}

/** `tail`: one line per event: position, stream id, stream sequence, type. */
export function formatTailLine(envelope: EventEnvelope): string {
  return `${envelope.globalSeq}\t${envelope.streamId}\t${envelope.streamSeq}\t${envelope.type}`;
}
