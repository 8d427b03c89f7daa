/**
 * `deno task bench`: every workload beside a raw postgres.js floor.
 *
 * Environment: BENCH_DATABASE_URL (default: RILLFLOW_TEST_DATABASE_URL, then the local
 * server), BENCH_SCALE (default 1), BENCH_FILTER (substring of workload names).
 */
import { runBench } from "./harness.ts";
import { foundationWorkloads } from "./foundation.ts";
import { eventWorkloads } from "./events.ts";

if (import.meta.main) {
  await runBench([...foundationWorkloads, ...eventWorkloads]);
}
