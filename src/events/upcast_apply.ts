/**
 * Applies an {@linkcode UpcasterRegistry} to envelopes: the `settings.upcast`
 * hook every read path calls.
 *
 * @module
 */
import type { Executor } from "../db/executor.ts";
import { sqlTagFor } from "../db/executor.ts";
import { RillflowError } from "../errors.ts";
import type { EventEnvelope } from "./envelope.ts";
import { nodeLabel, type ReadOnlyDb } from "./upcaster.ts";
import { type UpcasterRegistry, type UpcastStep, upcastStepFor } from "./upcast_registry.ts";

/**
 * A database handle whose every statement runs in its own READ ONLY
 * transaction with `search_path` set to the store's schema.
 *
 * Every read path calls the hook outside any transaction of its own; on PGlite
 * (one connection) an async upcaster's query issued from inside a transaction
 * callback would wait forever, so readers that run inside a transaction must
 * upcast after it ends.
 *
 * @param executor The store's executor.
 * @param schema The store's schema.
 * @returns The handle.
 */
export function readOnlyDb(executor: Executor, schema: string): ReadOnlyDb {
  const query = <R>(text: string, params?: readonly unknown[]): Promise<R[]> =>
    executor.transaction(async (tx) => {
      await tx.query("set transaction read only");
      return tx.query<R>(text, params);
    }, { searchPath: schema });
  return { query, sql: sqlTagFor(query) };
}

function failure(envelope: EventEnvelope, step: UpcastStep, cause: unknown): RillflowError {
  const { toType, toVersion } = step.upcaster;
  const from = nodeLabel([envelope.type, envelope.eventVersion]);
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new RillflowError(
    "UPCASTING_FAILED",
    `Cannot upcast event at position ${envelope.globalSeq} (stream "${envelope.streamId}", ` +
      `${from} → ${nodeLabel([toType, toVersion])}): ${reason}`,
    {
      cause,
      retryable: false,
      details: {
        globalSeq: envelope.globalSeq,
        streamId: envelope.streamId,
        streamSeq: envelope.streamSeq,
        type: envelope.type,
        eventVersion: envelope.eventVersion,
        toType,
        toVersion,
      },
    },
  );
}

async function upcastOne(
  registry: UpcasterRegistry,
  db: () => ReadOnlyDb,
  envelope: EventEnvelope,
  first: UpcastStep,
): Promise<EventEnvelope> {
  let current = envelope;
  for (
    let step: UpcastStep | undefined = first;
    step;
    step = upcastStepFor(registry, current.type, current.eventVersion)
  ) {
    let data: unknown;
    try {
      data = step.async
        ? await step.upcaster.upcast(current.data, db(), current)
        : step.upcaster.upcast(current.data, current);
    } catch (error) {
      throw failure(current, step, error);
    }
    if (data === undefined) throw failure(current, step, "the upcaster returned undefined");
    current = {
      ...current,
      type: step.upcaster.toType,
      eventVersion: step.upcaster.toVersion,
      data,
    };
  }
  return current;
}

/**
 * Builds the upcast hook of a store: envelopes whose stored shape has an
 * upcaster are brought to their current shape, in place of the stored one;
 * the others are returned untouched.
 *
 * @param registry The registry (read live: upcasters registered later apply too).
 * @param executor The store's executor, for async upcasters' read-only handle.
 * @param schema The store's schema.
 * @returns The hook.
 * @throws {RillflowError} `UPCASTING_FAILED` (from the hook) naming the event's
 *   position, stream and shapes when an upcaster throws or returns undefined.
 */
export function upcastHook(
  registry: UpcasterRegistry,
  executor: Executor,
  schema: string,
): (envelopes: EventEnvelope[]) => Promise<EventEnvelope[]> {
  let handle: ReadOnlyDb | undefined;
  const db = () => handle ??= readOnlyDb(executor, schema);
  return async (envelopes) => {
    if (registry.size === 0) return envelopes;
    let result: EventEnvelope[] | undefined;
    for (let i = 0; i < envelopes.length; i++) {
      const envelope = envelopes[i]!;
      const step = upcastStepFor(registry, envelope.type, envelope.eventVersion);
      if (!step) continue;
      result ??= envelopes.slice();
      result[i] = await upcastOne(registry, db, envelope, step);
    }
    return result ?? envelopes;
  };
}
