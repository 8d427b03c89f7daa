/**
 * The lines long-running commands (`projections run-loop`) write on stderr:
 * timestamped and levelled, as text for people or as JSON for log shippers
 * (`--log-format text|json`).
 *
 * @module
 */
import type { CliIo } from "./io.ts";

/** How log lines are written. */
export type LogFormat = "text" | "json";

/** How much a line matters. */
export type LogLevel = "info" | "warn" | "error";

/** Writes timestamped, levelled lines on stderr. */
export class CliLog {
  /** `text` (the default) or `json`, one object a line. */
  format: LogFormat = "text";

  /** @param io Where the lines go (its `err`). */
  constructor(readonly io: Pick<CliIo, "err">) {}

  /**
   * Writes one line.
   *
   * @param level How much it matters.
   * @param message What happened, in a sentence.
   * @param fields Facts for the JSON form (the text form shows the message only).
   */
  line(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
    const time = new Date().toISOString();
    this.io.err(
      this.format === "json"
        ? `${JSON.stringify({ time, level, message, ...fields })}\n`
        : `${time} ${level.toUpperCase().padEnd(5)} ${message}\n`,
    );
  }
}
