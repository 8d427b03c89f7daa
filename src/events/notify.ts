/**
 * Wake-up notifications for readers of the global order (projection daemon,
 * subscriptions): after an append commits, Rillflow sends
 * `NOTIFY rillflow_events, '<schema>:<globalSeq>'` on a pooled connection.
 *
 * Why after the commit and not in the append's own statement: a NOTIFY inside
 * a transaction takes a database-wide lock at commit, so writers that notify
 * commit one at a time (no group commit); with 8 concurrent writers that
 * halved throughput in our bench. Sent afterwards, outside the writers'
 * transactions and coalesced to at most one statement per
 * {@linkcode NOTIFY_INTERVAL_MS} per store process, it costs nothing
 * measurable.
 *
 * Notifications are hints: one is sent after every append (the first one at
 * once, later ones coalesced, the payload carrying the highest position
 * appended so far), but a crash between commit and notify loses it, as does a
 * dropped LISTEN connection. Listeners must keep polling on a timer as well.
 *
 * @module
 */
import type { Executor } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";

/**
 * The NOTIFY channel appends are announced on. The payload is
 * `<schema>:<globalSeq>`: the store's schema and the highest position appended
 * since the previous notification from the same process.
 */
export const eventsChannel = "rillflow_events";

/** At most one notification statement per this many milliseconds per store process. */
export const NOTIFY_INTERVAL_MS = 10;

class Notifier {
  readonly #executor: Executor;
  readonly #pending = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastSentAt = -Infinity;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(executor: Executor) {
    this.#executor = executor;
  }

  schedule(schema: string, position: number): void {
    this.#pending.set(schema, Math.max(this.#pending.get(schema) ?? 0, position));
    if (this.#timer !== undefined) return;
    const waitMs = this.#lastSentAt + NOTIFY_INTERVAL_MS - performance.now();
    if (waitMs <= 0) this.#send();
    else this.#timer = setTimeout(() => this.#send(), waitMs);
  }

  #send(): void {
    this.#timer = undefined;
    this.#lastSentAt = performance.now();
    const payloads = [...this.#pending].map(([schema, position]) => `${schema}:${position}`);
    this.#pending.clear();
    const sent = this.#executor.query("select pg_notify($1, p) from unnest($2::text[]) as p", [
      eventsChannel,
      payloads,
    ]).then(() => {}, () => {}); // a lost hint is covered by the listeners' polling
    this.#inFlight = Promise.all([this.#inFlight, sent]).then(() => {});
  }

  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#pending.size > 0) this.#send();
    return this.#inFlight;
  }
}

const notifiers = new WeakMap<Executor, Notifier>();

/**
 * Announces committed appends on {@linkcode eventsChannel}. Call it after the
 * transaction that appended has committed (never inside it).
 *
 * @param context The store context.
 * @param position The highest global position appended.
 */
export function notifyAppended(context: StoreContext, position: number): void {
  let notifier = notifiers.get(context.executor);
  if (!notifier) notifiers.set(context.executor, notifier = new Notifier(context.executor));
  notifier.schedule(context.schema, position);
}

/**
 * Sends any coalesced notification now and waits for the ones in flight
 * (called by `Store.close()` before the connections close).
 *
 * @param executor The store's executor.
 */
export function flushEventNotifications(executor: Executor): Promise<void> {
  return notifiers.get(executor)?.flush() ?? Promise.resolve();
}

/**
 * Parses a payload received on {@linkcode eventsChannel}.
 *
 * @example
 * ```ts
 * import { parseEventsNotification } from "@rillflow/rillflow";
 *
 * console.log(parseEventsNotification("public:42")); // { schema: "public", position: 42 }
 * ```
 *
 * @param payload The notification payload.
 * @returns The schema and position, or `null` when the payload is not Rillflow's.
 */
export function parseEventsNotification(
  payload: string,
): { schema: string; position: number } | null {
  const match = /^([a-z_][a-z0-9_]{0,62}):(\d+)$/.exec(payload);
  return match ? { schema: match[1]!, position: Number(match[2]) } : null;
}
