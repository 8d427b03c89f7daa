/**
 * The bench harness: each workload runs through Rillflow and through a raw
 * postgres.js "floor" doing the same writes with plain SQL, in the same run,
 * on fresh schemas of the same server.
 */
import postgres from "postgres";
import { Store } from "../mod.ts";

/** What a workload's side reports. */
export interface Measured {
  /** Operations done (events, documents, reads…). */
  ops: number;
  /** Wall time in milliseconds. */
  ms: number;
  /** Extra figures (latency percentiles, …) printed beside the row. */
  note?: string;
}

/** Resources a workload side may use; both sides get fresh, migrated schemas. */
export interface BenchContext {
  /** A Rillflow store on its own schema. */
  store: Store;
  /** A raw postgres.js client whose search_path is the floor's schema (same tables). */
  raw: postgres.Sql;
  /** The floor's schema name. */
  rawSchema: string;
  /** Scale factor from BENCH_SCALE (default 1). */
  scale: number;
}

/** One workload: the Rillflow side and the raw floor. */
export interface Workload {
  /** Row label. */
  name: string;
  /** What an op is ("events", "docs", "reads"). */
  unit: string;
  /** Target ratio to the floor, shown beside the result (from the issue). */
  target?: string;
  /** Runs through Rillflow. */
  rillflow(ctx: BenchContext): Promise<Measured>;
  /** Runs the same work through raw postgres.js; omitted when the row is absolute. */
  floor?(ctx: BenchContext): Promise<Measured>;
}

/** Times `fn`, returning ops and ms. */
export async function timed(ops: number, fn: () => Promise<void>): Promise<Measured> {
  const started = performance.now();
  await fn();
  return { ops, ms: performance.now() - started };
}

/** Runs `count` tasks with at most `concurrency` in flight. */
export async function concurrently(
  concurrency: number,
  count: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

const url = Deno.env.get("BENCH_DATABASE_URL") ?? Deno.env.get("RILLFLOW_TEST_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/test";

async function freshContext(): Promise<BenchContext & { cleanup(): Promise<void> }> {
  const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  const schema = `bench_rf_${suffix}`;
  const rawSchema = `bench_raw_${suffix}`;
  const store = await Store.connect(url, { schema, autoMigrate: true, maxConnections: 10 });
  const floorStore = await Store.connect(url, { schema: rawSchema, autoMigrate: true });
  await floorStore.close();
  const raw = postgres(url, {
    max: 10,
    onnotice: () => {},
    connection: { search_path: rawSchema },
  });
  return {
    store,
    raw,
    rawSchema,
    scale: Number(Deno.env.get("BENCH_SCALE") ?? "1"),
    async cleanup() {
      await raw.unsafe(`drop schema ${schema} cascade; drop schema ${rawSchema} cascade`).simple();
      await raw.end();
      await store.close();
    },
  };
}

/**
 * The server and the kind of URL measured, without the password: a password URL
 * authenticates each connection (SCRAM in CI), a trust URL does not, and bench/README.md
 * records runs of both kinds.
 */
function describeUrl(serverUrl: string): string {
  const parsed = new URL(serverUrl);
  const kind = parsed.password ? "password URL" : "trust URL";
  parsed.password = "";
  return `${parsed.href} (${kind})`;
}

const rate = (m: Measured) => (m.ops / m.ms) * 1000;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/**
 * Runs workloads (each side on fresh schemas, floor first, then Rillflow, then
 * the floor again and the better floor kept) and prints a Markdown table.
 *
 * @param workloads The workloads, filtered by BENCH_FILTER (substring).
 */
export async function runBench(workloads: readonly Workload[]): Promise<void> {
  const filter = Deno.env.get("BENCH_FILTER");
  const rows: string[] = [
    "| workload | rillflow | raw floor | ratio | target | notes |",
    "| --- | ---: | ---: | ---: | --- | --- |",
  ];
  console.log(`Rillflow bench against ${describeUrl(url)}`);
  for (const workload of workloads) {
    if (filter && !workload.name.includes(filter)) continue;
    const ctx = await freshContext();
    try {
      const floor = workload.floor ? await workload.floor(ctx) : undefined;
      const ours = await workload.rillflow(ctx);
      const floorAgain = workload.floor ? await workload.floor(ctx) : undefined;
      const bestFloor = floor && floorAgain
        ? (rate(floor) >= rate(floorAgain) ? floor : floorAgain)
        : undefined;
      const ratio = bestFloor ? (rate(ours) / rate(bestFloor)).toFixed(2) + "×" : "—";
      const notes = [ours.note, bestFloor?.note ? `floor: ${bestFloor.note}` : undefined]
        .filter(Boolean).join("; ");
      const row = `| ${workload.name} | ${fmt(rate(ours))} ${workload.unit}/s | ${
        bestFloor ? `${fmt(rate(bestFloor))} ${workload.unit}/s` : "—"
      } | ${ratio} | ${workload.target ?? ""} | ${notes} |`;
      rows.push(row);
      console.error(row);
    } finally {
      await ctx.cleanup();
    }
  }
  console.log(rows.join("\n"));
}
