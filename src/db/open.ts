/**
 * The URL dispatcher: opens the adapter a database URL names.
 *
 * @module
 */
import type { ConnectOptions, Executor } from "./executor.ts";
import { RillflowError } from "../errors.ts";

/**
 * Opens an executor for a URL: `postgres://`/`postgresql://` through
 * postgres.js, `pglite://memory` or `pglite:<dir>` through embedded PGlite.
 *
 * @param url The database URL.
 * @param options Pool size and connect timeout.
 * @returns A connected executor.
 * @throws {RillflowError} `CONNECTION_ERROR` for an unsupported URL or a failed connection.
 */
export async function openExecutor(url: string, options: ConnectOptions = {}): Promise<Executor> {
  if (typeof url !== "string" || url.length === 0) {
    throw new RillflowError("CONNECTION_ERROR", "A database URL is required", {
      retryable: false,
    });
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { connectPostgres } = await import("./postgres_js.ts");
    return connectPostgres(url, options);
  }
  if (url.startsWith("pglite:")) {
    const { openPglite } = await import("./pglite.ts");
    return openPglite(url);
  }
  const scheme = url.includes(":") ? url.slice(0, url.indexOf(":") + 1) : url.slice(0, 20);
  throw new RillflowError(
    "CONNECTION_ERROR",
    `Unsupported database URL scheme "${scheme}": use postgres://, postgresql://, ` +
      `pglite://memory or pglite:<directory>`,
    { retryable: false },
  );
}
