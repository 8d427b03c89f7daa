/**
 * The embedded PGlite adapter of {@linkcode Executor}: real PostgreSQL
 * compiled to WASM, in-process, one connection.
 *
 * @module
 */
import { PGlite, types } from "@electric-sql/pglite";
import type {
  DedicatedConnection,
  Executor,
  InternalTx,
  Listener,
  TransactionOptions,
} from "./executor.ts";
import { normalizeParams, sqlTagFor } from "./executor.ts";
import { mapDatabaseError } from "./_pg_errors.ts";
import { RillflowError } from "../errors.ts";
import { type DirectoryLock, lockDataDirectory } from "./pglite_lock.ts";

type Runner = Pick<PGlite, "query" | "exec">;

async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw mapDatabaseError(error);
  }
}

function queryOn(runner: Runner) {
  return async <R>(text: string, params?: readonly unknown[]): Promise<R[]> =>
    (await mapped(() => runner.query<R>(text, normalizeParams(params)))).rows;
}

let savepoints = 0;

function txHandle(runner: Runner): InternalTx {
  const query = queryOn(runner);
  const handle: InternalTx = {
    query,
    sql: sqlTagFor(query),
    script: (text) => mapped(async () => void await runner.exec(text)),
    copyIn: (table, columns, data) =>
      mapped(async () =>
        void await runner.query(`copy ${table} (${columns.join(", ")}) from '/dev/blob'`, [], {
          blob: new Blob([data]),
        })
      ),
    savepoint: async (fn) => {
      const name = `rillflow_sp_${savepoints++}`;
      await query(`savepoint ${name}`);
      try {
        const result = await fn(handle);
        await query(`release savepoint ${name}`);
        return result;
      } catch (error) {
        await query(`rollback to savepoint ${name}`);
        await query(`release savepoint ${name}`);
        throw error;
      }
    },
  };
  return handle;
}

class PgliteExecutor implements Executor {
  readonly kind = "pglite" as const;
  readonly maxConnections = 1;
  readonly query: Executor["query"];
  constructor(
    readonly db: PGlite,
    readonly description: string,
    readonly lock: DirectoryLock | null,
  ) {
    this.query = queryOn(db);
  }

  async transaction<T>(
    fn: (tx: InternalTx) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    try {
      return await this.db.transaction(async (t) => {
        if (options.isolation) {
          await t.query(`set transaction isolation level ${options.isolation}`);
        }
        if (options.searchPath !== undefined) {
          await t.query("select set_config('search_path', $1, true)", [options.searchPath]);
        }
        return await fn(txHandle(t));
      });
    } catch (error) {
      throw error instanceof Error && typeof (error as { code?: unknown }).code === "string" &&
          !(error instanceof RillflowError)
        ? mapDatabaseError(error)
        : error;
    }
  }

  async listen(channel: string, onPayload: (payload: string) => void): Promise<Listener> {
    const unsubscribe = await mapped(() => this.db.listen(channel, onPayload));
    return { unlisten: () => mapped(() => unsubscribe()) };
  }

  dedicated(): Promise<DedicatedConnection> {
    // One in-process connection: a "dedicated" handle shares it.
    return Promise.resolve({ query: this.query, release: () => Promise.resolve() });
  }

  async close(): Promise<void> {
    try {
      await this.db.close();
    } finally {
      this.lock?.release();
    }
  }
}

/**
 * Opens an embedded database: `pglite://memory` in memory, `pglite:<dir>` persisted in a directory.
 *
 * @param url The PGlite URL.
 * @returns A ready executor.
 * @throws {RillflowError} `CONNECTION_ERROR` when the database cannot be opened, or another
 *   opener (this process or another) holds the directory.
 */
export async function openPglite(url: string): Promise<Executor> {
  const rest = url.slice("pglite:".length);
  const dataDir = rest === "//memory" || rest === "memory" || rest === ""
    ? undefined
    : rest.replace(/^\/\/(?=\/)/, "");
  let lock: DirectoryLock | null = null;
  try {
    if (dataDir) {
      await Deno.mkdir(dataDir, { recursive: true });
      lock = await lockDataDirectory(dataDir);
    }
    const db = new PGlite(dataDir, {
      parsers: { [types.INT8]: (x: string) => Number(x) },
      serializers: { [types.INT8]: (x: unknown) => String(x) },
    });
    await db.waitReady;
    return new PgliteExecutor(db, dataDir ? `pglite:${dataDir}` : "pglite://memory", lock);
  } catch (error) {
    lock?.release();
    if (error instanceof RillflowError) throw error;
    throw new RillflowError(
      "CONNECTION_ERROR",
      `Cannot open embedded database ${dataDir ?? "in memory"}: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}
