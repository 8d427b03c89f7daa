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
 * On a PostgreSQL server nothing is sent while nobody listens: at most once
 * per {@linkcode LISTENERS_RECHECK_MS} a store asks `pg_stat_activity`
 * whether some connection of the database last ran `LISTEN rillflow_events`
 * (what every Rillflow listener's own connection runs, and nothing else) or
 * hides its statement from us; while the answer is no, appends send nothing.
 * A notification statement costs every writer about a tenth of a one-event
 * append (bench/README.md), which write-only deployments and daemons that
 * poll need not pay. A listener started in this process is noticed at once;
 * one started elsewhere within the recheck interval, its first wake-up
 * possibly a poll late. Embedded PGlite always notifies.
 *
 * @module
 */
import type { Executor } from "../db/executor.ts";
import { listenEpoch } from "../db/postgres_listener.ts";
import type { StoreContext } from "../_context.ts";

/**
 * The NOTIFY channel appends are announced on; the payload is the name of the
 * schema whose events table was appended to.
 */
export const eventsChannel = "rillflow_events";

/** At most one notification statement per this many milliseconds per store process. */
export const NOTIFY_INTERVAL_MS = 10;

/** How often a store asks the server again whether anybody listens. */
export const LISTENERS_RECHECK_MS = 1_000;

/**
 * Whether a connection of the database may be listening on the channel: its
 * last statement was that LISTEN, or we may not see its statements (another
 * role's, or statements not tracked at all).
 */
const LISTENERS_SQL = `select not current_setting('track_activities')::bool or exists (
    select 1 from pg_stat_activity
     where datname = current_database() and pid <> pg_backend_pid()
       and (query ~* '^\\s*listen\\s+"?${eventsChannel}"?\\s*;?\\s*$'
            or query = '<insufficient privilege>')) as listening`;

class Notifier {
  readonly #executor: Executor;
  readonly #pending = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastSentAt = -Infinity;
  #inFlight: Promise<void> = Promise.resolve();
  /** The last answer to "does anybody listen?" (PostgreSQL only), and when it was asked. */
  #listening = true;
  #checkedAt = -Infinity;
  #checkedEpoch = -1;
  #checking = false;

  constructor(executor: Executor) {
    this.#executor = executor;
  }

  /** Nobody listened at the last check, which is recent and older than this process's listeners. */
  #nobodyListens(): boolean {
    if (this.#executor.kind !== "postgres") return false;
    const fresh = performance.now() - this.#checkedAt < LISTENERS_RECHECK_MS &&
      this.#checkedEpoch === listenEpoch();
    if (!fresh && !this.#checking) this.#check();
    return fresh && !this.#listening;
  }

  #check(): void {
    this.#checking = true;
    const epoch = listenEpoch();
    this.#executor.query<{ listening: boolean }>(LISTENERS_SQL).then(
      ([row]) => {
        this.#listening = row?.listening !== false;
        this.#checkedAt = performance.now();
        this.#checkedEpoch = epoch;
      },
      () => {}, // unknown: keep notifying
    ).finally(() => this.#checking = false);
  }

  schedule(schema: string): void {
    if (this.#nobodyListens()) return;
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
