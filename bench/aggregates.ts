/** Aggregate workloads: commits, loads with and without snapshots, compaction. */
import { type Aggregate, AggregateRepository, event, Expected, Snapshotter } from "../mod.ts";
import type postgres from "postgres";
import { timed, type Workload } from "./harness.ts";
import { pairedWorkload } from "./paired.ts";

const Counter: Aggregate<{ count: number }> = {
  name: "counter",
  initialState: () => ({ count: 0 }),
  evolve: (state) => ({ count: state.count + 1 }),
};

const COMMITS = 2_000;
const STREAM = 1_000;
const LOADS = 50;

/**
 * Commits of one event each to one stream, interleaved with their floor: one
 * INSERT per event (the stream's next version, known to the floor).
 */
function commits(name: string, every?: number): Workload {
  return pairedWorkload({
    name,
    unit: "events",
    target: "≥ 0.9×",
    ops: COMMITS,
    prepare: ({ store, raw }) => {
      const repo = new AggregateRepository(store, Counter);
      const ours = crypto.randomUUID();
      const floor = crypto.randomUUID();
      let loaded = { state: Counter.initialState(), version: 0 };
      let seq = 0;
      return Promise.resolve({
        ours: async () => {
          const events = [event("Ticked", { i: 1 })];
          const { streamVersion } = every === undefined
            ? await repo.commitFor(ours, loaded, events)
            : await repo.commitAndSnapshot(ours, loaded, events, { every });
          loaded = { state: { count: loaded.state.count + 1 }, version: streamVersion };
        },
        floor: async () =>
          void await raw`insert into events (stream_id, stream_seq, type, data)
                         values (${floor}, ${++seq}, 'Ticked', ${'{"i":1}'}::jsonb)`,
      });
    },
  });
}

/** The floor of a load: reading the whole stream's rows `loads` times. */
async function rawLoads(raw: postgres.Sql, loads: number, unit: "events" | "loads") {
  const streamId = crypto.randomUUID();
  await raw`insert into events (stream_id, stream_seq, type, data)
            select ${streamId}, s, 'Ticked', '{"i":1}'::jsonb from generate_series(1, ${STREAM}) s`;
  return timed(unit === "events" ? loads * STREAM : loads, async () => {
    for (let i = 0; i < loads; i++) {
      await raw`select global_seq, stream_id, stream_seq, type, data, headers, causation_id,
                       correlation_id, event_version, tenant_id, user_id, created_at
                  from events where stream_id = ${streamId} order by stream_seq`;
    }
  });
}

async function seededStream(repo: AggregateRepository<{ count: number }>, snapshotAt?: number) {
  const id = crypto.randomUUID();
  const batch = Array.from({ length: 100 }, () => event("Ticked", { i: 1 }));
  for (let version = 0; version < STREAM; version += 100) {
    await repo.commit(id, Expected.exact(version), batch);
  }
  if (snapshotAt !== undefined) {
    const tail = STREAM - snapshotAt;
    await repo.commitAndSnapshot(id, await repo.load(id), [event("Ticked", {})], { every: 1 });
    await repo.commit(id, Expected.any, Array.from({ length: tail }, () => event("Ticked", {})));
  }
  return id;
}

/** The workloads of aggregates and snapshots (issue #4). */
export const aggregateWorkloads: Workload[] = [
  commits("aggregate commitFor 1 event, sequential, one stream"),
  commits("aggregate commitAndSnapshot every 100, sequential", 100),
  {
    name: "aggregate load, 1,000-event stream (full fold)",
    unit: "events",
    target: "≤ 1.2× raw read",
    rillflow: async ({ store, scale }) => {
      const repo = new AggregateRepository(store, Counter);
      const id = await seededStream(repo);
      return timed(LOADS * scale * STREAM, async () => {
        for (let i = 0; i < LOADS * scale; i++) await repo.load(id);
      });
    },
    floor: ({ raw, scale }) => rawLoads(raw, LOADS * scale, "events"),
  },
  {
    name: "loadWithSnapshot, 1,000 events, 10-event tail (vs raw full read)",
    unit: "loads",
    rillflow: async ({ store, scale }) => {
      const repo = new AggregateRepository(store, Counter);
      const id = await seededStream(repo, 990);
      return timed(LOADS * scale, async () => {
        for (let i = 0; i < LOADS * scale; i++) await repo.loadWithSnapshot(id);
      });
    },
    floor: ({ raw, scale }) => rawLoads(raw, LOADS * scale, "loads"),
  },
  {
    name: "snapshotter runUntilIdle, 200 streams × 50 events",
    unit: "streams",
    rillflow: async ({ store, scale }) => {
      const repo = new AggregateRepository(store, Counter);
      const batch = Array.from({ length: 50 }, () => event("Ticked", {}));
      const n = 200 * scale;
      for (let i = 0; i < n; i++) await repo.commit(crypto.randomUUID(), Expected.noStream, batch);
      const snapshotter = new Snapshotter(store, [Counter], { threshold: 50, batch: 100 });
      const measured = await timed(n, async () => void await snapshotter.runUntilIdle());
      return measured;
    },
  },
];
