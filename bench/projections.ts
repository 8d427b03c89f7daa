/**
 * Projection daemon workloads: apply throughput beside a raw batch loop doing
 * the same inserts, and append-to-applied latency with NOTIFY.
 */
import type postgres from "postgres";
import { event, Expected, type Projection, type Store } from "../mod.ts";
import { eventsChannel as EVENTS_CHANNEL } from "../src/events/notify.ts";
import { contextOf } from "../src/_context.ts";
import { type Measured, timed, type Workload } from "./harness.ts";

const EVENTS = 20_000;
const BATCH = 500;
const LATENCY_SAMPLES = 200;

const SEED_SQL = (events: string) =>
  `insert into ${events} (stream_id, stream_seq, type, data)
   select gen_random_uuid(), 1, 'Ping', jsonb_build_object('k', i % 100)
     from generate_series(1, $1::int) as i`;

/** A read model with one insert per event: what the floor does by hand. */
const readModel = (onApplied?: (globalSeq: number) => void): Projection => ({
  async setup(tx) {
    await tx.query("create table if not exists bench_rm (global_seq bigint primary key, k int)");
  },
  async apply(envelope, tx) {
    await tx.query("insert into bench_rm values ($1, $2)", [
      envelope.globalSeq,
      (envelope.data as { k: number }).k,
    ]);
    onApplied?.(envelope.globalSeq);
  },
});

function latencyNote(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return `p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms`;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Terminates the daemon's LISTEN connection and waits until it listens again. */
async function killListener(store: Store): Promise<void> {
  const { executor } = contextOf(store);
  const listen = `listen "${EVENTS_CHANNEL}"`;
  const pids = async () =>
    (await executor.query<{ pid: number }>(
      "select pid from pg_stat_activity where query = $1",
      [listen],
    )).map((row) => row.pid);
  const killed = await pids();
  if (killed.length === 0) throw new Error("no LISTEN connection to kill");
  await executor.query("select pg_terminate_backend(pid) from unnest($1::int[]) as pid", [killed]);
  while (!(await pids()).some((pid) => !killed.includes(pid))) await pause(5);
}

/** Append → applied latency of an idle daemon woken by NOTIFY, after `disrupt` if given. */
async function notifiedLatency(
  store: Store,
  scale: number,
  disrupt?: (daemonStore: Store) => Promise<void>,
): Promise<Measured> {
  const applied = new Map<number, number>();
  let waiting: { seq: number; resolve: () => void } | null = null;
  const daemon = store.projections({ pollIntervalMs: 60_000, leaseTtlMs: 600_000 })
    .register(
      "latency",
      readModel((seq) => {
        applied.set(seq, performance.now());
        if (waiting?.seq === seq) waiting.resolve();
      }),
    );
  const controller = new AbortController();
  const running = daemon.run({ signal: controller.signal, useNotify: true });
  await daemon.runUntilIdle().catch(() => {});
  await pause(200);
  if (disrupt) {
    await disrupt(store);
    await pause(200);
  }
  const samples: number[] = [];
  const n = LATENCY_SAMPLES * scale;
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const [seq] = (await store.events.append(crypto.randomUUID(), Expected.any, [
      event("Ping", { k: i }),
    ])).globalSeqs;
    if (!applied.has(seq!)) {
      await new Promise<void>((resolve) => waiting = { seq: seq!, resolve });
    }
    samples.push(applied.get(seq!)! - t0);
    await pause(5); // idle between appends
  }
  const ms = performance.now() - started;
  controller.abort();
  await running;
  return { ops: n, ms, note: latencyNote(samples) };
}

/**
 * Each floor call runs this many times and keeps its fastest run (the machine
 * is shared); the harness calls the floor twice, so the Rillflow side runs
 * twice as many times to keep the same number of samples.
 */
const REPEATS = 3;

async function bestOf(times: number, run: () => Promise<Measured>): Promise<Measured> {
  let best: Measured | undefined;
  for (let i = 0; i < times; i++) {
    const measured = await run();
    if (!best || measured.ms < best.ms) best = measured;
  }
  return best!;
}

/** The floor's loop: read 500 events, insert each into the read model, move a checkpoint. */
function floorBatches(raw: postgres.Sql, n: number): Promise<Measured> {
  return timed(n, async () => {
    let after = 0;
    for (;;) {
      const rows = await raw<{ global_seq: number; data: { k: number } }[]>`
        select global_seq, data from events where global_seq > ${after}
         order by global_seq limit ${BATCH}`;
      if (rows.length === 0) break;
      after = Number(rows[rows.length - 1]!.global_seq);
      await raw.begin(async (tx) => {
        for (const row of rows) {
          await tx`insert into bench_rm values (${row.global_seq}, ${row.data.k})`;
        }
        await tx`update bench_checkpoint set position = ${after} where id = 1`;
      });
    }
  });
}

/** The projection workloads. */
export const projectionWorkloads: Workload[] = [
  {
    name: "projection apply, batch 500 (one insert per event)",
    unit: "events",
    target: "≥ 0.8×",
    async rillflow({ store, scale }) {
      const n = EVENTS * scale;
      const { executor, table } = contextOf(store);
      await executor.query(SEED_SQL(table("events")), [n]);
      const daemon = store.projections({ batchSize: BATCH }).register("bench", readModel());
      return await bestOf(2 * REPEATS, async () => {
        await daemon.resetCheckpoint("bench", 0);
        await executor.query(`truncate ${table("bench_rm")}`).catch(() => {}); // absent at first
        return await timed(n, async () => {
          const { applied } = await daemon.runUntilIdle();
          if (applied !== n) throw new Error(`applied ${applied} of ${n}`);
        });
      });
    },
    async floor({ raw, scale }) {
      const n = EVENTS * scale;
      await raw`truncate events`;
      await raw.unsafe(SEED_SQL("events"), [n]);
      await raw`create table if not exists bench_rm (global_seq bigint primary key, k int)`;
      await raw`truncate bench_rm`;
      await raw`create table if not exists bench_checkpoint (id int primary key, position bigint)`;
      return await bestOf(REPEATS, async () => {
        await raw`truncate bench_rm`;
        await raw`insert into bench_checkpoint values (1, 0) on conflict (id) do update set position = 0`;
        return await floorBatches(raw, n);
      });
    },
  },
  {
    name: "append → applied latency, NOTIFY, idle daemon",
    unit: "events",
    target: "p99 < 100 ms",
    rillflow: ({ store, scale }) => notifiedLatency(store, scale),
    async floor({ raw, scale }) {
      // The floor: LISTEN, insert an event and notify, on notification read it
      // and write the read model — the least a notified consumer can do.
      await raw`create table if not exists bench_rm (global_seq bigint primary key, k int)`;
      const schema = (await raw<{ s: string }[]>`select current_schema() as s`)[0]!.s;
      let after = Number((await raw`select coalesce(max(global_seq), 0) as m from events`)[0]!.m);
      let done: (() => void) | null = null;
      const listener = await raw.listen("rillflow_events", async (payload) => {
        if (payload !== schema) return;
        const rows = await raw<{ global_seq: number; data: { k: number } }[]>`
          select global_seq, data from events where global_seq > ${after} order by global_seq`;
        for (const row of rows) {
          await raw`insert into bench_rm values (${row.global_seq}, ${row.data.k})`;
          after = Number(row.global_seq);
        }
        if (rows.length > 0) done?.();
      });
      const samples: number[] = [];
      const n = LATENCY_SAMPLES * scale;
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const applied = new Promise<void>((resolve) => done = resolve);
        await raw`insert into events (stream_id, stream_seq, type, data)
                  values (${crypto.randomUUID()}, 1, 'Ping', jsonb_build_object('k', ${i}::int))`;
        await raw`select pg_notify('rillflow_events', ${schema})`; // as appends do after commit
        await applied;
        samples.push(performance.now() - t0);
        await pause(5);
      }
      const ms = performance.now() - started;
      await listener.unlisten();
      return { ops: n, ms, note: latencyNote(samples) };
    },
  },
  {
    name: "append → applied latency, NOTIFY, after the LISTEN connection was killed",
    unit: "events",
    target: "p99 < 100 ms",
    rillflow: ({ store, scale }) => notifiedLatency(store, scale, killListener),
  },
];
