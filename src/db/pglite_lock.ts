/**
 * One process at a time opens a PGlite directory. Two processes writing the
 * same embedded database silently diverge (each has its own in-memory state;
 * the second's appends are invisible to the first), so the directory is
 * locked with an advisory file lock on `<dir>/rillflow.lock`, which the
 * operating system releases when the process ends, however it ends.
 *
 * @module
 */
import { RillflowError } from "../errors.ts";

/** A held directory lock. */
export interface DirectoryLock {
  /** Releases the lock (on close). */
  release(): void;
}

function whoAmI(): string {
  let host = "this host";
  try {
    host = Deno.hostname();
  } catch { /* no --allow-sys: the pid alone still names the holder */ }
  return `process ${Deno.pid} on ${host} since ${new Date().toISOString()}`;
}

/**
 * Takes the directory's lock, or fails at once naming its holder.
 *
 * @param dir The PGlite data directory (it exists).
 * @returns The held lock.
 * @throws {RillflowError} `CONNECTION_ERROR` (not retryable) when another opener holds it.
 */
export async function lockDataDirectory(dir: string): Promise<DirectoryLock> {
  const path = `${dir.replace(/\/+$/, "")}/rillflow.lock`;
  const file = await Deno.open(path, { read: true, write: true, create: true });
  if (!(await file.tryLock(true))) {
    file.close();
    const holder = (await Deno.readTextFile(path).catch(() => "")).trim() || "another opener";
    throw new RillflowError(
      "CONNECTION_ERROR",
      `Embedded database ${dir} is in use by ${holder}: one process at a time opens a PGlite ` +
        "directory (share a database between processes through a PostgreSQL server)",
      { retryable: false, details: { directory: dir, holder } },
    );
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${whoAmI()}\n`));
  return {
    release() {
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}
