/**
 * Where the CLI reads and writes: the process's streams and environment, or a
 * test's buffers.
 *
 * @module
 */

/** Where the CLI writes, and the environment it reads. */
export interface CliIo {
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** The environment (for `DATABASE_URL`). */
  env(name: string): string | undefined;
  /** Whether standard error is a terminal (progress is shown only then). */
  errIsTerminal?(): boolean;
}
