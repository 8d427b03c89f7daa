/**
 * `deno task bench`: every workload beside a raw postgres.js floor.
 *
 * Environment: BENCH_DATABASE_URL (default: RILLFLOW_TEST_DATABASE_URL, then the local
 * server), BENCH_SCALE (default 1), BENCH_FILTER (substring of workload names).
 */
import { runBench } from "./harness.ts";
import { eventWorkloads } from "./events.ts";
import { documentWorkloads } from "./documents.ts";
import { aggregateWorkloads } from "./aggregates.ts";
import { projectionWorkloads } from "./projections.ts";
import { subscriptionWorkloads } from "./subscriptions.ts";

if (import.meta.main) {
  await runBench([
    ...eventWorkloads,
    ...documentWorkloads,
    ...aggregateWorkloads,
    ...projectionWorkloads,
    ...subscriptionWorkloads,
  ]);
}
