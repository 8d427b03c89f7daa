/**
 * Options of the projection daemon, their defaults and checks.
 *
 * @module
 */
import { validateIdentifier } from "../db/identifiers.ts";
import {
  type BackoffOptions,
  resolveBackoff,
  type ResolvedBackoff,
} from "../processing/backoff.ts";
import { eventsChannel as EVENTS_CHANNEL } from "../events/notify.ts";
import { positiveInteger, resolveWorkerName } from "../processing/worker_options.ts";

/** Options of `store.projections(options)`. */
export interface ProjectionDaemonOptions {
  /** The schema whose events and projections to use (default: the store's). */
  schema?: string;
  /** Events per batch (default 500). */
  batchSize?: number;
  /** How long a lease lasts unless renewed; another worker takes over after it (default 30 000 ms). */
  leaseTtlMs?: number;
  /** Retry of failing events: delays and attempts before dead-lettering. */
  backoff?: BackoffOptions;
  /** How often an idle `run` checks for work without a notification (default 1 000 ms). */
  pollIntervalMs?: number;
  /** The NOTIFY channel `run({ useNotify: true })` listens on (default `rillflow_events`). */
  notifyChannel?: string;
  /** This worker's name in leases (default `<hostname>:<pid>:<random>`). */
  node?: string;
  /**
   * Called with errors `run` survives (a failed tick, a lost lease, a listener
   * failure). Default: one line on `console.error`.
   */
  onError?: (error: unknown, context: { projection?: string; during: string }) => void;
  /**
   * Called once when the database answers again after an outage. While it is
   * unreachable, the first connection error of an outage goes to `onError`
   * and the rest are only counted, so an outage is two lines, not one per
   * projection per poll. Default: one line on `console.error`.
   */
  onRecovered?: (outage: { downMs: number; failedTicks: number }) => void;
}

/** Options with defaults applied. */
export interface ResolvedDaemonOptions {
  readonly batchSize: number;
  readonly leaseTtlMs: number;
  readonly backoff: ResolvedBackoff;
  readonly pollIntervalMs: number;
  readonly notifyChannel: string;
  readonly node: string;
  readonly onError: NonNullable<ProjectionDaemonOptions["onError"]>;
  readonly onRecovered: NonNullable<ProjectionDaemonOptions["onRecovered"]>;
}

function defaultOnError(error: unknown, context: { projection?: string; during: string }): void {
  const where = context.projection ? ` projection "${context.projection}"` : "";
  console.error(
    `rillflow daemon:${where} ${context.during} failed: ${
      error instanceof Error ? error.message : String(error)
    }`,
  );
}

function defaultOnRecovered(outage: { downMs: number; failedTicks: number }): void {
  console.error(
    `rillflow daemon: the database answers again after ${
      Math.round(outage.downMs / 100) / 10
    } s (${outage.failedTicks} failed ticks)`,
  );
}

/**
 * Checks options and fills in defaults.
 *
 * @param options The caller's options.
 * @returns The resolved options.
 * @throws {RangeError} For a non-positive size, interval or TTL, or bad backoff values.
 * @throws {TypeError} For an invalid channel or an empty node name.
 */
export function resolveDaemonOptions(options: ProjectionDaemonOptions = {}): ResolvedDaemonOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Projection daemon options must be an object");
  }
  const node = resolveWorkerName(options.node, "node");
  return {
    batchSize: positiveInteger(options.batchSize, "batchSize", 500),
    leaseTtlMs: positiveInteger(options.leaseTtlMs, "leaseTtlMs", 30_000),
    backoff: resolveBackoff(options.backoff),
    pollIntervalMs: positiveInteger(options.pollIntervalMs, "pollIntervalMs", 1_000),
    notifyChannel: validateIdentifier(options.notifyChannel ?? EVENTS_CHANNEL, "notify channel"),
    node,
    onError: options.onError ?? defaultOnError,
    onRecovered: options.onRecovered ?? defaultOnRecovered,
  };
}

/**
 * Checks a projection name: 1 to 200 characters, no control characters.
 *
 * @param name The candidate.
 * @returns The name.
 * @throws {TypeError} When it breaks the rule.
 */
export function validateProjectionName(name: string): string {
  const control = typeof name === "string" &&
    [...name].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f);
  if (typeof name !== "string" || name.length === 0 || name.length > 200 || control) {
    throw new TypeError(
      `Invalid projection name ${
        JSON.stringify(name)
      }: use 1 to 200 characters without control characters`,
    );
  }
  return name;
}
