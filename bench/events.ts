/**
 * Event store workloads beside the raw postgres.js floor: one plain INSERT
 * per append (or one multi-row INSERT per batch), one plain SELECT per read,
 * measured in interleaved chunks ({@linkcode pairedWorkload}).
 */
import type postgres from "postgres";
import { event, Expected, type NewEvent, RillflowError, type Store } from "../mod.ts";
import type { BenchContext, Workload } from "./harness.ts";
import { type Op, type Pair, pairedWorkload } from "./paired.ts";

const N = 2_000;

const ping = '{"i":1}';
const insertOne = (raw: postgres.Sql, stream: string, seq: number, data = ping) =>
  raw`insert into events (stream_id, stream_seq, type, data)
      values (${stream}, ${seq}, 'Ping', ${data}::jsonb)`;

async function fillStream(store: Store, raw: postgres.Sql) {
  const ours = crypto.randomUUID();
  const floor = crypto.randomUUID();
  for (let b = 0; b < 10; b++) {
    const batch: NewEvent[] = Array.from({ length: 1_000 }, (_, i) => event("Read", { i, b }));
    await store.events.append(ours, Expected.any, batch);
    await raw`insert into events (stream_id, stream_seq, type, data)
      select ${floor}, s, 'Read', d::jsonb
        from unnest(${batch.map((_, i) => b * 1_000 + i + 1)}::int[],
                    ${batch.map((e) => JSON.stringify(e.data))}::text[]) as t(s, d)`;
  }
  return { ours, floor };
}

/** One event to a new stream per op, on both sides. */
function newStreamEach({ store, raw }: BenchContext): Promise<{ ours: Op; floor: Op }> {
  return Promise.resolve({
    ours: async () =>
      void await store.events.append(crypto.randomUUID(), Expected.any, [event("Ping", { i: 1 })]),
    floor: async () => void await insertOne(raw, crypto.randomUUID(), 1),
  });
}

const pairs: Pair[] = [
  {
    name: "append 1 event, sequential",
    unit: "events",
    target: "≥ 0.9×",
    ops: N,
    prepare: newStreamEach,
  },
  {
    name: "append 1 event, 8 concurrent writers",
    unit: "events",
    target: "≥ 0.9×",
    ops: 2 * N,
    concurrency: 8,
    prepare: newStreamEach,
  },
  {
    name: "append 1 event, 8 writers on one stream",
    unit: "events",
    target: "≥ 0.9×",
    ops: 2 * N,
    concurrency: 8,
    prepare: ({ store, raw }) => {
      const ours = crypto.randomUUID();
      const floor = crypto.randomUUID();
      let seq = 0;
      return Promise.resolve({
        ours: async () =>
          void await store.events.append(ours, Expected.any, [event("Ping", { i: 1 })]),
        floor: async () => void await insertOne(raw, floor, ++seq),
      });
    },
  },
  {
    name: "contended appends: 8 writers, one stream, Expected.exact with re-read and retry",
    unit: "successes",
    target: "≥ 0.9×, conflicts per success ≤ the floor's",
    ops: 1_000,
    concurrency: 8,
    prepare: ({ store, raw }) => {
      const ours = crypto.randomUUID();
      const floor = crypto.randomUUID();
      const conflicts = { ours: 0, floor: 0, oursDone: 0, floorDone: 0 };
      return Promise.resolve({
        ours: async () => {
          for (;;) {
            const version = await store.events.streamVersion(ours);
            try {
              await store.events.append(ours, Expected.exact(version), [event("Ping", { i: 1 })]);
              conflicts.oursDone++;
              return;
            } catch (error) {
              if (!(error instanceof RillflowError) || error.code !== "CONCURRENCY_CONFLICT") {
                throw error;
              }
              conflicts.ours++;
            }
          }
        },
        floor: async () => {
          for (;;) {
            const [row] = await raw<{ v: number }[]>`
              select coalesce(max(stream_seq), 0)::int as v from events where stream_id = ${floor}`;
            try {
              await insertOne(raw, floor, row!.v + 1);
              conflicts.floorDone++;
              return;
            } catch (error) {
              if ((error as { code?: string }).code !== "23505") throw error;
              conflicts.floor++;
            }
          }
        },
        note: () =>
          `conflicts per success: ${(conflicts.ours / conflicts.oursDone).toFixed(2)}, floor ${
            (conflicts.floor / conflicts.floorDone).toFixed(2)
          }`,
      });
    },
  },
  {
    name: "append 50 events per call",
    unit: "events",
    target: "≥ 0.9×, ≥ 20,000/s",
    ops: N / 5,
    perOp: 50,
    prepare: ({ store, raw }) => {
      const batch = Array.from({ length: 50 }, (_, i) => event("Ping", { i }));
      const datas = batch.map((e) => JSON.stringify(e.data));
      const seqs = batch.map((_, i) => i + 1);
      return Promise.resolve({
        ours: async () => void await store.events.append(crypto.randomUUID(), Expected.any, batch),
        floor: async () =>
          void await raw`insert into events (stream_id, stream_seq, type, data)
            select ${crypto.randomUUID()}, s, 'Ping', d::jsonb
              from unnest(${seqs}::int[], ${datas}::text[]) as t(s, d)`,
      });
    },
  },
  {
    name: "500 short streams (4 appends each, Expected.exact)",
    unit: "events",
    target: "≥ 0.9×",
    ops: 500,
    perOp: 4,
    prepare: ({ store, raw }) =>
      Promise.resolve({
        ours: async () => {
          const id = crypto.randomUUID();
          for (let v = 0; v < 4; v++) {
            await store.events.append(id, Expected.exact(v), [event("Step", { v })]);
          }
        },
        floor: async () => {
          const id = crypto.randomUUID();
          for (let v = 0; v < 4; v++) await insertOne(raw, id, v + 1, JSON.stringify({ v }));
        },
      }),
  },
  {
    name: "read one 10,000-event stream",
    unit: "events",
    target: "≥ 0.83× (within 1.2×)",
    ops: 20,
    perOp: 10_000,
    prepare: async ({ store, raw }) => {
      const streams = await fillStream(store, raw);
      return {
        ours: async () => {
          const read = await store.events.readStream(streams.ours);
          if (read.length !== 10_000) throw new Error(`read ${read.length} events`);
        },
        floor: async () => {
          const read = await raw`select * from events where stream_id = ${streams.floor}
                                 order by stream_seq`;
          if (read.length !== 10_000) throw new Error(`read ${read.length} events`);
        },
      };
    },
  },
  {
    name: "design check: NOTIFY inside the INSERT, 8 writers (not used)",
    unit: "events",
    target: "(why notify is sent after commit)",
    ops: 2 * N,
    concurrency: 8,
    prepare: ({ raw, rawSchema }) =>
      Promise.resolve({
        ours: async () =>
          void await raw`with e as (insert into events (stream_id, stream_seq, type, data)
            values (${crypto.randomUUID()}, 1, 'Ping', ${ping}::jsonb) returning 1)
            select pg_notify('rillflow_bench', ${rawSchema}) from e`,
        floor: async () => void await insertOne(raw, crypto.randomUUID(), 1),
      }),
  },
  {
    name: "design check: NOTIFY from a statement trigger, 8 writers (not used)",
    unit: "events",
    target: "(why notify is sent after commit)",
    ops: 2 * N,
    concurrency: 8,
    prepare: async ({ raw }) => {
      await raw.unsafe(`
        create table events_notified (like events including all);
        create function notify_events() returns trigger language plpgsql as
          $$ begin perform pg_notify('rillflow_bench', tg_table_schema); return null; end $$;
        create trigger events_notified after insert on events_notified
          for each statement execute function notify_events();`).simple();
      return {
        ours: async () =>
          void await raw`insert into events_notified (stream_id, stream_seq, type, data)
            values (${crypto.randomUUID()}, 1, 'Ping', ${ping}::jsonb)`,
        floor: async () => void await insertOne(raw, crypto.randomUUID(), 1),
      };
    },
  },
];

/** The event store workloads (issue #4). */
export const eventWorkloads: Workload[] = pairs.map(pairedWorkload);
