import { runBench } from "/work/wt-daemon/bench/harness.ts";
import { projectionWorkloads } from "/work/wt-daemon/bench/projections.ts";
await runBench(projectionWorkloads);
