/**
 * Wake-ups on append: a LISTEN on `rillflow_events` (sent by the events
 * trigger of migration 0002 with the schema name as payload) that wakes an
 * idle worker at once, with a watchdog that notices a dead listener and
 * listens again. Workers keep polling on a timer as the fallback, so a lost
 * notification only costs latency. Shared by the projection daemon and
 * subscriptions.
 *
 * @module
 */
import type { Executor, Listener } from "./executor.ts";
import { isRillflowError, RillflowError } from "../errors.ts";

/**
 * A wake-up flag a single waiter sleeps on: `wake()` ends the current wait,
 * or the next one at once when nobody is waiting.
 */
export class Wakeup {
  #pending = false;
  #resolve: (() => void) | null = null;

  /** Wakes the waiter (or the next one). */
  wake(): void {
    this.#pending = true;
    this.#resolve?.();
  }

  /**
   * Sleeps until woken, `ms` elapse or `signal` aborts.
   *
   * @param ms The longest sleep.
   * @param signal Ends the sleep when aborted.
   * @returns `true` when woken, `false` on timeout or abort.
   */
  wait(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve(true);
    }
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (woken: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#resolve = null;
        this.#pending = false;
        resolve(woken);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), Math.max(0, ms));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#resolve = () => done(true);
    });
  }
}

/** Options of {@linkcode NotifyListener.start}. */
export interface NotifyListenerOptions {
  /** The channel (a validated identifier). */
  readonly channel: string;
  /** Whether a payload concerns this worker (e.g. equals its schema). */
  readonly accept: (payload: string) => boolean;
  /** Called for each accepted notification, and after listening again (to catch up). */
  readonly onWake: () => void;
  /** Probe the listener after this long without any notification (default 30 000 ms). */
  readonly probeIntervalMs?: number;
  /** Listen again when a probe is not heard back within this (default 5 000 ms). */
  readonly probeTimeoutMs?: number;
}

/** A LISTEN registration with a watchdog; call {@linkcode NotifyListener.check} on every idle timer. */
export class NotifyListener {
  readonly #executor: Executor;
  readonly #options: Required<NotifyListenerOptions>;
  #handle: Listener | null = null;
  #listening = false;
  #closed = false;
  #lastHeard = performance.now();
  #probe: { payload: string; sentAt: number } | null = null;
  #reconnects = 0;

  private constructor(executor: Executor, options: NotifyListenerOptions) {
    this.#executor = executor;
    this.#options = { probeIntervalMs: 30_000, probeTimeoutMs: 5_000, ...options };
  }

  /**
   * Starts listening.
   *
   * @param executor The database.
   * @param options Channel, payload filter, wake-up callback and watchdog timing.
   * @returns The listener.
   * @throws {RillflowError} When LISTEN fails (the caller falls back to polling);
   *   `INVALID_INPUT` when the store cannot LISTEN at all (a transaction pooler without
   *   `directUrl`), which callers let fail their start.
   */
  static async start(executor: Executor, options: NotifyListenerOptions): Promise<NotifyListener> {
    const listener = new NotifyListener(executor, options);
    try {
      listener.#handle = await listener.#listen();
    } catch (error) {
      if (!isRillflowError(error, "INVALID_INPUT")) throw error;
      throw new RillflowError(
        "INVALID_INPUT",
        `${error.message}, or pass useNotify: false to poll`,
        {
          cause: error,
          retryable: false,
          details: error.details,
        },
      );
    }
    listener.#listening = true;
    return listener;
  }

  /** Whether notifications are believed to arrive (false after a failed probe until listening again). */
  get listening(): boolean {
    return this.#listening && !this.#closed;
  }

  /** How many times the listener was re-established (by the driver or the watchdog). */
  get reconnects(): number {
    return this.#reconnects;
  }

  #listen(): Promise<Listener> {
    return this.#executor.listen(
      this.#options.channel,
      (payload) => this.#onPayload(payload),
      () => this.#onReconnect(),
    );
  }

  #onPayload(payload: string): void {
    if (this.#closed) return;
    this.#lastHeard = performance.now();
    if (this.#probe && payload === this.#probe.payload) {
      this.#probe = null;
      this.#listening = true;
      return;
    }
    if (this.#options.accept(payload)) this.#options.onWake();
  }

  #onReconnect(): void {
    if (this.#closed) return;
    this.#lastHeard = performance.now();
    this.#listening = true;
    this.#reconnects++;
    this.#options.onWake();
  }

  /**
   * The watchdog: after `probeIntervalMs` of silence, sends a probe
   * notification to itself; when a probe is not heard back within
   * `probeTimeoutMs`, listens again (and wakes the worker to catch up).
   */
  async check(): Promise<void> {
    if (this.#closed) return;
    const now = performance.now();
    if (this.#probe) {
      if (now - this.#probe.sentAt >= this.#options.probeTimeoutMs) await this.#relisten();
      return;
    }
    if (now - this.#lastHeard < this.#options.probeIntervalMs) return;
    const payload = `rillflow:probe:${crypto.randomUUID()}`;
    this.#probe = { payload, sentAt: now };
    try {
      await this.#executor.query("select pg_notify($1, $2)", [this.#options.channel, payload]);
    } catch {
      this.#listening = false;
    }
  }

  async #relisten(): Promise<void> {
    const old = this.#handle;
    this.#handle = null;
    this.#listening = false;
    await old?.unlisten().catch(() => {});
    try {
      this.#handle = await this.#listen();
      this.#probe = null;
      this.#onReconnect();
    } catch {
      // Still unreachable: the next check tries again at once.
      this.#probe = { payload: "", sentAt: -Infinity };
    }
  }

  /** Stops listening; later notifications are ignored. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle?.unlisten().catch(() => {});
    this.#handle = null;
  }
}
