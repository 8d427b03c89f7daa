/**
 * Workloads measured as interleaved pairs: both sides run in 30 alternating
 * pairs of chunks inside one measurement. On a shared machine the load
 * changes from second to second, and measuring one side after the other
 * compares two different machines. The ratio is the MEDIAN of the 30 paired
 * chunk ratios (a burst of other work spoils a pair or two, not the result);
 * the floor's rate is its total rate and Rillflow's is that times the median
 * ratio. The harness asks for the floor, then Rillflow, then the floor again;
 * all three calls return the figures of that one interleaved run.
 *
 * @module
 */
import { type BenchContext, concurrently, type Measured, type Workload } from "./harness.ts";

/** One side's operation: the i-th op of the run. */
export type Op = (i: number) => Promise<void>;

/** The two sides of a paired workload. */
export interface Pair {
  name: string;
  unit: string;
  target: string;
  /** Ops per side (times BENCH_SCALE) and how many the unit counts per op. */
  ops: number;
  perOp?: number;
  /** Writers running the ops at once. */
  concurrency?: number;
  /** Builds both sides' operations (setup is not timed). */
  prepare(ctx: BenchContext): Promise<{ ours: Op; floor: Op; note?: () => string }>;
}

const runs = new WeakMap<BenchContext, Promise<{ ours: Measured; floor: Measured }>>();

const PAIRS = 30;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function interleaved(pair: Pair, ctx: BenchContext) {
  const { ours, floor, note: extra } = await pair.prepare(ctx);
  const total = pair.ops * ctx.scale;
  const chunk = Math.max(1, Math.ceil(total / PAIRS));
  await ours(-1);
  await floor(-1);
  const timeChunk = async (op: Op, from: number, size: number) => {
    const started = performance.now();
    await concurrently(pair.concurrency ?? 1, size, (i) => op(from + i));
    return performance.now() - started;
  };
  const ratios: number[] = [];
  let floorMs = 0;
  for (let done = 0, round = 0; done < total; done += chunk, round++) {
    const size = Math.min(chunk, total - done);
    // Alternate which side goes first so neither always follows the other.
    const oursFirst = round % 2 === 0;
    const a = await timeChunk(oursFirst ? ours : floor, done, size);
    const b = await timeChunk(oursFirst ? floor : ours, done, size);
    const [oursMs, chunkFloorMs] = oursFirst ? [a, b] : [b, a];
    ratios.push(chunkFloorMs / oursMs);
    floorMs += chunkFloorMs;
  }
  const ops = total * (pair.perOp ?? 1);
  const ratio = median(ratios);
  const sorted = [...ratios].sort((x, y) => x - y);
  const quartile = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const note = `median of ${ratios.length} paired chunks, quartiles ${quartile(0.25).toFixed(2)}–${
    quartile(0.75).toFixed(2)
  }×${extra ? `; ${extra()}` : ""}`;
  return {
    ours: { ops, ms: floorMs / ratio, note },
    floor: { ops, ms: floorMs },
  };
}

/**
 * A workload measured as interleaved pairs of chunks.
 *
 * @param pair Both sides' operations and how to run them.
 * @returns The workload.
 */
export function pairedWorkload(pair: Pair): Workload {
  const run = (ctx: BenchContext) => {
    let measured = runs.get(ctx);
    if (!measured) runs.set(ctx, measured = interleaved(pair, ctx));
    return measured;
  };
  return {
    name: pair.name,
    unit: pair.unit,
    target: pair.target,
    rillflow: async (ctx) => (await run(ctx)).ours,
    floor: async (ctx) => (await run(ctx)).floor,
  };
}
