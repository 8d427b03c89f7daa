/**
 * An executor view for one tenant: the same pool, with "relation or schema
 * does not exist" failures turned into `TENANT_NOT_FOUND` when the tenant's
 * schema is missing. The check costs nothing on the success path and sees
 * tenants provisioned by other processes at once (no cache to go stale).
 *
 * @module
 */
import type { Executor, InternalTx, Queryable } from "../db/executor.ts";
import { RillflowError } from "../errors.ts";

const MISSING_OBJECT_STATES = new Set(["42P01", "3F000", "42883"]);

async function schemaExists(db: Queryable, schema: string): Promise<boolean> {
  const rows = await db.query("select 1 from pg_namespace where nspname = $1", [schema]);
  return rows.length > 0;
}

/**
 * Wraps an executor so that work in a missing tenant schema fails with `TENANT_NOT_FOUND`.
 *
 * @param executor The shared executor.
 * @param tenant The tenant's name.
 * @param schema The tenant's schema.
 * @returns The wrapped executor.
 */
export function tenantExecutor(executor: Executor, tenant: string, schema: string): Executor {
  async function translate<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (
        error instanceof RillflowError &&
        MISSING_OBJECT_STATES.has(String(error.details.sqlState)) &&
        !(await schemaExists(executor, schema))
      ) {
        throw new RillflowError(
          "TENANT_NOT_FOUND",
          `Tenant "${tenant}" does not exist: provision it with tenants.ensure("${tenant}")`,
          { cause: error, details: { tenant, schema } },
        );
      }
      throw error;
    }
  }
  return {
    kind: executor.kind,
    description: executor.description,
    maxConnections: executor.maxConnections,
    query: (text, params) => translate(() => executor.query(text, params)),
    transaction: <T>(
      fn: (tx: InternalTx) => Promise<T>,
      options?: Parameters<Executor["transaction"]>[1],
    ) => translate(() => executor.transaction(fn, options)),
    listen: (channel, onPayload, onReconnect) => executor.listen(channel, onPayload, onReconnect),
    dedicated: () => executor.dedicated(),
    close: () => Promise.resolve(),
  };
}
