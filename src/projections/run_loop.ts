/**
 * The daemon's long-running loop: tick every projection while there is work,
 * sleep until a notification, a due retry or the poll interval when idle,
 * and release the leases on a clean stop.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { isRillflowError } from "../errors.ts";
import { NotifyListener, Wakeup } from "../db/notify_listener.ts";
import type { ResolvedDaemonOptions } from "./daemon_options.ts";
import type { TickResult } from "./tick.ts";

/** Progress of `ProjectionDaemon.runUntilIdle` and {@linkcode ProjectionDaemon.rebuild}. */
export interface ProgressUpdate extends TickResult {
  /** The projection ticked. */
  readonly name: string;
}

/** Options of `ProjectionDaemon.runUntilIdle`. */
export interface RunUntilIdleOptions {
  /** Only these projections (default: every registered one). */
  names?: string[];
  /** Stops early. */
  signal?: AbortSignal;
  /** Called after every tick. */
  onProgress?: (update: ProgressUpdate) => void;
}

/** What `ProjectionDaemon.runUntilIdle` did. */
export interface RunUntilIdleResult {
  /** Events applied, all projections together. */
  readonly applied: number;
  /** Events dead-lettered. */
  readonly deadLettered: number;
}

/** What the loop needs from its daemon. */
export interface LoopHost {
  readonly context: StoreContext;
  readonly options: ResolvedDaemonOptions;
  /** Ticks every projection once; a failing one yields its error instead of a result. */
  tickEach(): Promise<Array<{ name: string; result?: TickResult; error?: unknown }>>;
  /** Releases every lease this worker holds. */
  releaseLeases(): Promise<void>;
}

/** How wake-ups reach the loop, for health reports. */
export type NotifyState = "listening" | "polling" | "stopped";

/** A running loop's live state. */
export interface LoopState {
  /** How wake-ups arrive right now. */
  notify: NotifyState;
  /** Ticks that failed since the loop started. */
  failedTicks: number;
}

/**
 * How long an idle loop may sleep: the poll interval, at most a third of the
 * lease (to renew it), and no longer than the earliest due retry.
 */
function idleSleepMs(
  options: ResolvedDaemonOptions,
  results: Array<{ result?: TickResult }>,
): number {
  let ms = Math.min(options.pollIntervalMs, Math.floor(options.leaseTtlMs / 3));
  for (const { result } of results) {
    if (result?.status === "backoff" && result.retryInMs !== undefined) {
      ms = Math.min(ms, result.retryInMs);
    }
  }
  return Math.max(ms, 1);
}

async function startListener(
  host: LoopHost,
  wakeup: Wakeup,
): Promise<NotifyListener | null> {
  const { options, context } = host;
  try {
    return await NotifyListener.start(context.executor, {
      channel: options.notifyChannel,
      accept: (payload) => payload === context.schema,
      onWake: () => wakeup.wake(),
      probeIntervalMs: Math.min(60_000, Math.max(1_000, options.pollIntervalMs * 10)),
      probeTimeoutMs: Math.min(10_000, Math.max(500, options.pollIntervalMs * 5)),
    });
  } catch (error) {
    // A store that cannot LISTEN at all (a transaction pooler without directUrl) fails the
    // start: polling forever would hide a configuration mistake.
    if (isRillflowError(error, "INVALID_INPUT")) throw error;
    options.onError(error, { during: "LISTEN (falling back to polling)" });
    return null;
  }
}

/** While the database is unreachable: since when, and how many ticks failed. */
interface Outage {
  readonly since: number;
  failedTicks: number;
}

/**
 * Reports a round of ticks: each failure to `onError`, except that the
 * connection errors of one outage are reported once and then counted, until
 * a round with none of them ends the outage through `onRecovered`.
 */
function reportTicks(
  host: LoopHost,
  state: LoopState,
  results: ReadonlyArray<{ name: string; error?: unknown }>,
  outage: Outage | null,
): Outage | null {
  let unreachable = false;
  for (const { name, error } of results) {
    if (error === undefined) continue;
    state.failedTicks++;
    if (!isRillflowError(error, "CONNECTION_ERROR")) {
      host.options.onError(error, { projection: name, during: "tick" });
      continue;
    }
    unreachable = true;
    if (outage) outage.failedTicks++;
    else {
      outage = { since: performance.now(), failedTicks: 1 };
      host.options.onError(error, {
        projection: name,
        during: "tick (the database is unreachable; reporting once until it answers again)",
      });
    }
  }
  if (outage && !unreachable) {
    host.options.onRecovered({
      downMs: performance.now() - outage.since,
      failedTicks: outage.failedTicks,
    });
    return null;
  }
  return outage;
}

/**
 * Runs until `signal` aborts.
 *
 * @param host The daemon.
 * @param signal Stops the loop; the current batch finishes first.
 * @param useNotify Whether to LISTEN for appends (polling stays as the fallback).
 * @param state Updated as the loop runs.
 */
export async function runLoop(
  host: LoopHost,
  signal: AbortSignal,
  useNotify: boolean,
  state: LoopState,
): Promise<void> {
  const wakeup = new Wakeup();
  const listener = useNotify ? await startListener(host, wakeup) : null;
  let outage: Outage | null = null;
  try {
    while (!signal.aborted) {
      state.notify = listener?.listening ? "listening" : "polling";
      const results = await host.tickEach();
      outage = reportTicks(host, state, results, outage);
      if (results.some(({ result }) => result?.status === "processed")) continue;
      await wakeup.wait(idleSleepMs(host.options, results), signal);
      await listener?.check();
    }
  } finally {
    state.notify = "stopped";
    await listener?.close();
    await host.releaseLeases().catch((error) =>
      host.options.onError(error, { during: "releasing leases" })
    );
  }
}

/**
 * Ticks the named projections until each is idle, paused or leased by another
 * worker, sleeping out retry backoffs on the way.
 *
 * @param names The projections.
 * @param tick Runs one batch of one projection.
 * @param options A stop signal and a progress callback.
 * @returns How many events were applied and dead-lettered.
 */
export async function runUntilIdle(
  names: readonly string[],
  tick: (name: string) => Promise<TickResult>,
  options: RunUntilIdleOptions,
): Promise<RunUntilIdleResult> {
  const pending = new Set(names);
  const sleeper = new Wakeup();
  let applied = 0, deadLettered = 0;
  while (pending.size > 0 && !options.signal?.aborted) {
    let progressed = false, waitMs = Infinity;
    for (const name of [...pending]) {
      const result = await tick(name);
      applied += result.count;
      deadLettered += result.deadLettered;
      options.onProgress?.({ name, ...result });
      if (result.status === "processed") progressed = true;
      else if (result.status === "backoff") waitMs = Math.min(waitMs, result.retryInMs ?? 1);
      else pending.delete(name);
    }
    if (!progressed && waitMs < Infinity) await sleeper.wait(waitMs, options.signal);
  }
  return { applied, deadLettered };
}
