/**
 * Options of `store.subscriptions.subscribe(name, options)`, their defaults
 * and checks.
 *
 * @module
 */
import {
  type BackoffOptions,
  resolveBackoff,
  type ResolvedBackoff,
} from "../processing/backoff.ts";
import { positiveInteger, resolveWorkerName } from "../processing/worker_options.ts";
import { validateName } from "./filter.ts";
import type { GroupMode } from "./groups.ts";

/** Options of {@linkcode Subscriptions.subscribe}. */
export interface SubscribeOptions {
  /** The consumer group (default `"default"`); each group has its own checkpoint. */
  group?: string;
  /**
   * `"exclusive"` (default): one active member, the others stand by and take
   * over within the lease TTL. `"shared"`: members split the streams by hash.
   * Fixed when the group is first used.
   */
  members?: GroupMode;
  /**
   * `"auto"` (default): an event counts as acknowledged when the next one is
   * requested or the subscription closes (break, return or an exception
   * leaving the loop included); the checkpoint is written once per batch.
   * `"manual"`: only `ack`/`ackInTx` acknowledge.
   */
  ackMode?: "auto" | "manual";
  /** Events read per round trip (default 500). */
  batchSize?: number;
  /**
   * The most events the group may hold delivered and unacknowledged at once, a
   * hard bound. A value stored with `set-group-max-in-flight` takes precedence
   * and applies without a restart. Unbounded by default.
   */
  maxInFlight?: number;
  /** Closes the subscription when aborted; the iteration then ends. */
  signal?: AbortSignal;
  /** How long a member and its leases live without a heartbeat (default 10 000 ms). */
  leaseTtlMs?: number;
  /** Retry delays after a nack without `retryAfterMs`, and nacks before dead-lettering (default 5). */
  backoff?: BackoffOptions;
  /** How often an idle member looks for events without a notification (default 1 000 ms). */
  pollIntervalMs?: number;
  /** LISTEN for appends to wake up at once (default true); polling stays as the fallback. */
  useNotify?: boolean;
  /** Partitions of a new shared group (default 16; at most 1024). More partitions, finer balance. */
  partitions?: number;
  /** This member's id (default `<hostname>:<pid>:<random>`). */
  memberId?: string;
  /** End the iteration once every event up to the head is delivered (default false: wait for more). */
  stopWhenCaughtUp?: boolean;
  /**
   * Called with errors the background heartbeat survives, and with the failure of a close the
   * member starts itself: on `signal`, when the store closes, after a failed iteration
   * (default: one line on `console.error`).
   */
  onError?: (error: unknown, context: { during: string }) => void;
}

/** Options with defaults applied. */
export interface ResolvedSubscribeOptions {
  readonly group: string;
  readonly mode: GroupMode;
  readonly ackMode: "auto" | "manual";
  readonly batchSize: number;
  readonly maxInFlight: number | null;
  readonly signal?: AbortSignal;
  readonly leaseTtlMs: number;
  readonly backoff: ResolvedBackoff;
  readonly pollIntervalMs: number;
  readonly useNotify: boolean;
  readonly partitions: number;
  readonly memberId: string;
  readonly stopWhenCaughtUp: boolean;
  readonly onError: (error: unknown, context: { during: string }) => void;
}

/** The bound of options stored in `int` columns. */
const INT_MAX = 2 ** 31 - 1;

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new TypeError(`${name} must be ${allowed.map((a) => `"${a}"`).join(" or ")}`);
  }
  return value as T;
}

function defaultOnError(error: unknown, context: { during: string }): void {
  console.error(
    `rillflow subscription: ${context.during} failed: ${
      error instanceof Error ? error.message : String(error)
    }`,
  );
}

/**
 * Reports an error to a member's `onError`; when the handler itself throws,
 * the default one prints the error, so it is never dropped.
 *
 * @param onError The member's handler.
 * @param error The error.
 * @param during What was going on.
 */
export function reportError(
  onError: ResolvedSubscribeOptions["onError"],
  error: unknown,
  during: string,
): void {
  try {
    onError(error, { during });
  } catch {
    defaultOnError(error, { during });
  }
}

/**
 * Checks options and fills in defaults.
 *
 * @param options The caller's options.
 * @returns The resolved options.
 * @throws {TypeError} For an invalid group name, mode, ack mode or member id.
 * @throws {RangeError} For out-of-range sizes, bounds and intervals.
 */
export function resolveSubscribeOptions(options: SubscribeOptions = {}): ResolvedSubscribeOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Subscribe options must be an object");
  }
  const memberId = resolveWorkerName(options.memberId, "memberId");
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError("signal must be an AbortSignal");
  }
  return {
    group: validateName(options.group ?? "default", "group"),
    mode: oneOf(options.members ?? "exclusive", "members", ["exclusive", "shared"]),
    ackMode: oneOf(options.ackMode ?? "auto", "ackMode", ["auto", "manual"]),
    batchSize: positiveInteger(options.batchSize, "batchSize", 500, 100_000),
    maxInFlight: options.maxInFlight === undefined
      ? null
      : positiveInteger(options.maxInFlight, "maxInFlight", 1, INT_MAX),
    signal: options.signal,
    leaseTtlMs: positiveInteger(options.leaseTtlMs, "leaseTtlMs", 10_000, INT_MAX),
    backoff: resolveBackoff(options.backoff),
    pollIntervalMs: positiveInteger(options.pollIntervalMs, "pollIntervalMs", 1_000, INT_MAX),
    useNotify: options.useNotify ?? true,
    partitions: positiveInteger(options.partitions, "partitions", 16, 1024),
    memberId,
    stopWhenCaughtUp: options.stopWhenCaughtUp ?? false,
    onError: options.onError ?? defaultOnError,
  };
}
