/**
 * LISTEN for the postgres.js adapter on a connection of its own, re-established
 * after every loss with growing delays until it succeeds.
 *
 * postgres.js's own `listen` re-listens once when its connection closes; when
 * that attempt fails (the server is still away) the channel stays bound to the
 * failed attempt and every later `listen` on it fails too. Here each listener
 * owns a one-connection client and retries until it is listening again.
 *
 * @module
 */
import postgres from "postgres";
import type { Listener } from "./executor.ts";
import { mapDatabaseError } from "./_pg_errors.ts";
import { quoteIdent } from "./identifiers.ts";

/** Where and how to connect. */
export interface ListenTarget {
  /** The server URL. */
  readonly url: string;
  /** How long one connection attempt may take. */
  readonly connectTimeoutMs: number;
}

let epoch = 0;

/**
 * Counts the LISTENs this process has established (first ones and
 * re-established ones), so that a writer that found nobody listening knows to
 * ask again.
 *
 * @returns The number of LISTENs established so far.
 */
export function listenEpoch(): number {
  return epoch;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

function timeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Starts listening; the first attempt's failure is thrown (the caller may fall
 * back to polling), later losses are retried in the background.
 *
 * @param target The server.
 * @param channel The channel (a valid identifier).
 * @param onPayload Called with each notification's payload.
 * @param onReconnect Called each time listening resumes after a loss.
 * @returns A handle to stop listening.
 * @throws {RillflowError} When the first LISTEN fails.
 */
export async function listenWithReconnect(
  target: ListenTarget,
  channel: string,
  onPayload: (payload: string) => void,
  onReconnect?: () => void,
): Promise<Listener> {
  const statement = `listen ${quoteIdent(channel, "channel")}`;
  let stopped = false;
  let client: postgres.Sql | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let retryMs = RETRY_MIN_MS;

  const open = async (): Promise<void> => {
    const options = {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      onnotice: () => {},
      // Parsed by postgres.js (its own listen uses it) though missing from its types.
      onnotify: (name: string, payload: string) => {
        if (!stopped && current === client && name === channel) onPayload(payload);
      },
      onclose: () => {
        if (!stopped && current === client) scheduleReopen();
      },
    };
    const current = postgres(target.url, options as postgres.Options<Record<string, never>>);
    client = current;
    try {
      await timeout(current.unsafe(statement), target.connectTimeoutMs);
      epoch++;
    } catch (error) {
      if (client === current) client = null;
      current.end({ timeout: 0 }).catch(() => {});
      throw error;
    }
  };

  const scheduleReopen = () => {
    const stale = client;
    client = null;
    stale?.end({ timeout: 0 }).catch(() => {});
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      if (stopped) return;
      // A failed attempt, or an onReconnect that throws, is retried later; the last handler
      // cannot throw, so nothing is left to reject.
      open()
        .then(() => {
          retryMs = RETRY_MIN_MS;
          if (!stopped) onReconnect?.();
        })
        .catch(() => {
          retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
          if (!stopped) scheduleReopen();
        });
    }, retryMs);
  };

  try {
    await open();
  } catch (error) {
    throw mapDatabaseError(error);
  }
  return {
    unlisten: async () => {
      stopped = true;
      clearTimeout(retryTimer);
      const current = client;
      client = null;
      await current?.end({ timeout: 1 }).catch(() => {});
    },
  };
}
