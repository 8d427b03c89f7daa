/**
 * Progress lines on standard error for long CLI operations, shown only when
 * stderr is a terminal (never in pipes, logs or tests).
 *
 * @module
 */
import type { CliIo } from "./io.ts";

/** A progress line that rewrites itself. */
export interface Progress {
  /** Replaces the line with `text`. */
  update(text: string): void;
  /** Ends the line. */
  done(): void;
}

/**
 * Starts a progress line.
 *
 * @param io The CLI's output.
 * @returns A progress line; a silent one when stderr is not a terminal.
 */
export function startProgress(io: CliIo): Progress {
  if (!io.errIsTerminal?.()) return { update() {}, done() {} };
  let shown = false;
  let last = 0;
  return {
    update(text) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      shown = true;
      io.err(`\r\x1b[2K${text}`);
    },
    done() {
      if (shown) io.err("\r\x1b[2K");
    },
  };
}
