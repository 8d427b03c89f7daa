/**
 * Instrumentation for tests that must show HOW Rillflow talks to the
 * database (how many statements, how many rows at once): an Events view over
 * the same database whose executor counts. Not a mock: every query runs.
 */
import type { Store } from "../mod.ts";
import { contextOf, StoreContext } from "../src/_context.ts";
import type { Executor } from "../src/db/executor.ts";
import { Events } from "../src/events/events.ts";

/** What the counting executor saw. */
export interface QueryStats {
  /** Statements run outside transactions. */
  queries: number;
  /** The most rows one statement returned. */
  maxRows: number;
  /** The texts run, in order. */
  texts: string[];
}

/**
 * An Events view of `store` whose statements are counted.
 *
 * @param store The store.
 * @returns The view and its live statistics.
 */
export function countingEvents(store: Store): { events: Events; stats: QueryStats } {
  const base = contextOf(store);
  const stats: QueryStats = { queries: 0, maxRows: 0, texts: [] };
  const executor: Executor = Object.create(base.executor, {
    query: {
      value: async <R>(text: string, params?: readonly unknown[]): Promise<R[]> => {
        // Counted when sent: a statement that fails (a missed guess) was work too.
        stats.queries++;
        stats.texts.push(text);
        const rows = await base.executor.query<R>(text, params);
        stats.maxRows = Math.max(stats.maxRows, rows.length);
        return rows;
      },
    },
  });
  return { events: new Events(new StoreContext(executor, base.schema, base.settings)), stats };
}

/**
 * The statements counted, without the wake-up work an append does after it
 * commits (the NOTIFY and the check whether anybody listens, see notify.ts).
 */
export function appendWork(stats: QueryStats): string[] {
  return stats.texts.filter((t) => !t.includes("pg_notify") && !t.includes("pg_stat_activity"));
}
