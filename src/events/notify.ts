/**
 * Wake-up notifications for readers of the global order (projection daemon,
 * subscriptions): after an append commits, Rillflow sends
 * `NOTIFY rillflow_events, '<schema>'` on a pooled connection.
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
 * once, later ones within the interval coalesced into one), but a crash
 * between commit and notify loses it, as does a dropped LISTEN connection.
 * Listeners must keep polling on a timer as well.
 *
 * @module
 */
import type { Executor } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";

/**
 * The NOTIFY channel appends are announced on; the payload is the name of the
 * schema whose events table was appended to.
 */
export const eventsChannel = "rillflow_events";

/** At most one notification statement per this many milliseconds per store process. */
export const NOTIFY_INTERVAL_MS = 10;

class Notifier {
  readonly #executor: Executor;
  readonly #pending = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastSentAt = -Infinity;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(executor: Executor) {
    this.#executor = executor;
  }

  schedule(schema: string): void {
    this.#pending.add(schema);
    if (this.#timer !== undefined) return;
    const waitMs = this.#lastSentAt + NOTIFY_INTERVAL_MS - performance.now();
    if (waitMs <= 0) this.#send();
    else {
      this.#timer = setTimeout(() => this.#send(), waitMs);
      waiting.add(this);
    }
  }

  #send(): void {
    this.#timer = undefined;
    waiting.delete(this);
    this.#lastSentAt = performance.now();
    const payloads = [...this.#pending];
    this.#pending.clear();
    const sent = this.#executor.query(
      "select set_config('synchronous_commit', 'off', true), pg_notify($1, p) from unnest($2::text[]) as p",
      [
        eventsChannel,
        payloads,
      ],
    ).then(() => {}, () => {}); // a lost hint is covered by the listeners' polling
    this.#inFlight = Promise.all([this.#inFlight, sent]).then(() => {});
  }

  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#pending.size > 0) this.#send();
    return this.#inFlight;
  }
}

const notifiers = new WeakMap<Executor, Notifier>();
/** Notifiers holding a coalesced notification behind a timer. */
const waiting = new Set<Notifier>();

/**
 * Announces committed appends on {@linkcode eventsChannel}. Call it after the
 * transaction that appended has committed (never inside it).
 *
 * @param context The store context.
 */
export function notifyAppended(context: StoreContext): void {
  let notifier = notifiers.get(context.executor);
  if (!notifier) notifiers.set(context.executor, notifier = new Notifier(context.executor));
  notifier.schedule(context.schema);
}

/**
 * Sends any coalesced notification now and waits for those in flight
 * (called by `Store.close()` before the connections close). Views of a store
 * (tenants) may wrap its executor, so every waiting notification of the
 * process is sent: sending a hint early is harmless.
 *
 * @param executor The closing store's executor.
 */
export async function flushEventNotifications(executor: Executor): Promise<void> {
  await Promise.all([...waiting].map((notifier) => notifier.flush()));
  await notifiers.get(executor)?.flush();
}
