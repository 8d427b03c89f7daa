/**
 * Human-readable output of the `projections` commands.
 *
 * @module
 */
import type { ProjectionStatus } from "../../projections/admin.ts";
import type { DeadLetter } from "../../processing/dead_letters.ts";

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

const oneLine = (text: string | null, max = 80) => {
  if (text === null) return "-";
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
};

/**
 * A table of projections.
 *
 * @param list The statuses.
 * @returns The text.
 */
export function formatStatusTable(list: readonly ProjectionStatus[]): string {
  if (list.length === 0) return "No projections recorded or configured.";
  return table(
    ["name", "state", "checkpoint", "head", "lag", "dead letters", "lease owner"],
    list.map((p) => [
      p.name,
      p.state,
      String(p.checkpoint),
      String(p.head),
      String(p.lag),
      String(p.deadLetters),
      p.leaseOwner ?? "-",
    ]),
  );
}

/**
 * One projection's status.
 *
 * @param s The status.
 * @returns The text.
 */
export function formatStatus(s: ProjectionStatus): string {
  return [
    `Projection "${s.name}"${s.registered ? "" : " (no handler in the config module)"}`,
    `  state:         ${s.state}`,
    `  checkpoint:    ${s.checkpoint} (head ${s.head}, lag ${s.lag})`,
    `  lease:         ${
      s.leaseOwner ? `${s.leaseOwner} until ${s.leaseExpiresAt?.toISOString()}` : "none"
    } (fencing token ${s.fencingToken})`,
    `  retry:         ${
      s.nextAttemptAt
        ? `${s.attempts} failed attempt(s), next at ${s.nextAttemptAt.toISOString()}`
        : "none"
    }`,
    `  dead letters:  ${s.deadLetters}`,
    `  last error:    ${
      s.lastError ? `${oneLine(s.lastError)} (${s.lastErrorAt?.toISOString()})` : "none"
    }`,
  ].join("\n");
}

/**
 * The `metrics` command's lines.
 *
 * @param m The figures.
 * @returns The text.
 */
export function formatMetrics(m: {
  name: string;
  checkpoint: number;
  head: number;
  lag: number;
  deadLetters: number;
  lastError: string | null;
}): string {
  return [
    `checkpoint    ${m.checkpoint}`,
    `head          ${m.head}`,
    `lag           ${m.lag}`,
    `dead letters  ${m.deadLetters}`,
    `last error    ${oneLine(m.lastError)}`,
  ].join("\n");
}

/**
 * A projection's dead letters.
 *
 * @param name The projection.
 * @param list The entries.
 * @returns The text.
 */
export function formatDeadLetters(name: string, list: readonly DeadLetter[]): string {
  if (list.length === 0) return `Projection "${name}" has no dead letters.`;
  return table(
    ["id", "position", "type", "attempts", "error"],
    list.map((d) => [
      String(d.id),
      String(d.globalSeq),
      d.envelope.type,
      String(d.attempts),
      oneLine(d.error, 60),
    ]),
  );
}
