/**
 * Event store workloads beside the raw postgres.js floor: one plain INSERT
 * per append (or one multi-row INSERT per batch), one plain SELECT per read.
 *
 * Each Rillflow side runs twice and keeps the better run, as the harness does
 * for the floor (which it runs before and after), so noise does not favour
 * one side.
 */
import { event, Expected } from "../mod.ts";
import { concurrently, type Measured, timed, type Workload } from "./harness.ts";

const N = 2_000;

async function bestOf(run: () => Promise<Measured>): Promise<Measured> {
  const first = await run();
  const second = await run();
  return first.ops / first.ms >= second.ops / second.ms ? first : second;
}

const ping = '{"i":1}';

/** The event store workloads (issue #4). */
export const eventWorkloads: Workload[] = [
  {
    name: "append 1 event, sequential",
    unit: "events",
    target: "≥ 0.9×",
    rillflow: ({ store, scale }) =>
      bestOf(() => {
        const streams = Array.from({ length: N * scale }, () => crypto.randomUUID());
        return timed(streams.length, async () => {
          for (const id of streams) {
            await store.events.append(id, Expected.any, [event("Ping", { i: 1 })]);
          }
        });
      }),
    floor: ({ raw, scale }) =>
      timed(N * scale, async () => {
        for (let i = 0; i < N * scale; i++) {
          await raw`insert into events (stream_id, stream_seq, type, data)
                    values (${crypto.randomUUID()}, 1, 'Ping', ${ping}::jsonb)`;
        }
      }),
  },
  {
    name: "append 1 event, 8 concurrent writers",
    unit: "events",
    target: "≥ 0.9×",
    rillflow: ({ store, scale }) =>
      bestOf(() =>
        timed(2 * N * scale, () =>
          concurrently(8, 2 * N * scale, async () => {
            await store.events.append(crypto.randomUUID(), Expected.any, [event("Ping", { i: 1 })]);
          }))
      ),
    floor: ({ raw, scale }) =>
      timed(2 * N * scale, () =>
        concurrently(8, 2 * N * scale, async () => {
          await raw`insert into events (stream_id, stream_seq, type, data)
                    values (${crypto.randomUUID()}, 1, 'Ping', ${ping}::jsonb)`;
        })),
  },
  {
    name: "append 1 event, 8 writers on one stream",
    unit: "events",
    target: "≥ 0.9×",
    rillflow: ({ store, scale }) =>
      bestOf(() => {
        const stream = crypto.randomUUID();
        return timed(2 * N * scale, () =>
          concurrently(8, 2 * N * scale, async () => {
            await store.events.append(stream, Expected.any, [event("Ping", { i: 1 })]);
          }));
      }),
    floor: ({ raw, scale }) => {
      const stream = crypto.randomUUID();
      let seq = 0;
      return timed(2 * N * scale, () =>
        concurrently(8, 2 * N * scale, async () => {
          await raw`insert into events (stream_id, stream_seq, type, data)
                    values (${stream}, ${++seq}, 'Ping', ${ping}::jsonb)`;
        }));
    },
  },
  {
    name: "append 50 events per call",
    unit: "events",
    target: "≥ 0.9×, ≥ 20,000/s",
    rillflow: ({ store, scale }) => {
      const batch = Array.from({ length: 50 }, (_, i) => event("Ping", { i }));
      return bestOf(() =>
        timed((N / 10) * scale * 50, async () => {
          for (let c = 0; c < (N / 10) * scale; c++) {
            await store.events.append(crypto.randomUUID(), Expected.any, batch);
          }
        })
      );
    },
    floor: ({ raw, scale }) => {
      const datas = Array.from({ length: 50 }, (_, i) => JSON.stringify({ i }));
      const seqs = Array.from({ length: 50 }, (_, i) => i + 1);
      return timed((N / 10) * scale * 50, async () => {
        for (let c = 0; c < (N / 10) * scale; c++) {
          await raw`insert into events (stream_id, stream_seq, type, data)
            select ${crypto.randomUUID()}, s, 'Ping', d::jsonb
              from unnest(${seqs}::int[], ${datas}::text[]) as t(s, d)`;
        }
      });
    },
  },
  {
    name: "500 short streams (4 appends each, Expected.exact)",
    unit: "events",
    target: "≥ 0.9×",
    rillflow: ({ store, scale }) =>
      bestOf(() => {
        const streams = Array.from({ length: 500 * scale }, () => crypto.randomUUID());
        return timed(streams.length * 4, async () => {
          for (const id of streams) {
            for (let v = 0; v < 4; v++) {
              await store.events.append(id, Expected.exact(v), [event("Step", { v })]);
            }
          }
        });
      }),
    floor: ({ raw, scale }) =>
      timed(500 * scale * 4, async () => {
        for (let s = 0; s < 500 * scale; s++) {
          const id = crypto.randomUUID();
          for (let v = 1; v <= 4; v++) {
            await raw`insert into events (stream_id, stream_seq, type, data)
                      values (${id}, ${v}, 'Step', ${JSON.stringify({ v: v - 1 })}::jsonb)`;
          }
        }
      }),
  },
  {
    name: "read one 10,000-event stream",
    unit: "events",
    target: "≥ 0.83× (within 1.2×)",
    rillflow: async ({ store, scale }) => {
      const stream = crypto.randomUUID();
      for (let b = 0; b < 10; b++) {
        const batch = Array.from({ length: 1_000 }, (_, i) => event("Read", { i, b, pad: "x" }));
        await store.events.append(stream, Expected.any, batch);
      }
      return bestOf(() =>
        timed(10_000 * 10 * scale, async () => {
          for (let r = 0; r < 10 * scale; r++) {
            const read = await store.events.readStream(stream);
            if (read.length !== 10_000) throw new Error(`read ${read.length} events`);
          }
        })
      );
    },
    floor: async ({ raw, scale }) => {
      const stream = crypto.randomUUID();
      for (let b = 0; b < 10; b++) {
        const datas = Array.from({ length: 1_000 }, (_, i) => JSON.stringify({ i, b, pad: "x" }));
        const seqs = Array.from({ length: 1_000 }, (_, i) => b * 1_000 + i + 1);
        await raw`insert into events (stream_id, stream_seq, type, data)
          select ${stream}, s, 'Read', d::jsonb
            from unnest(${seqs}::int[], ${datas}::text[]) as t(s, d)`;
      }
      return timed(10_000 * 10 * scale, async () => {
        for (let r = 0; r < 10 * scale; r++) {
          const read = await raw`select * from events where stream_id = ${stream}
                                 order by stream_seq`;
          if (read.length !== 10_000) throw new Error(`read ${read.length} events`);
        }
      });
    },
  },
  {
    name: "design check: NOTIFY inside the INSERT, 8 writers (not used)",
    unit: "events",
    target: "(why notify is sent after commit)",
    rillflow: ({ raw, rawSchema, scale }) =>
      timed(2 * N * scale, () =>
        concurrently(8, 2 * N * scale, async () => {
          await raw`with e as (insert into events (stream_id, stream_seq, type, data)
                    values (${crypto.randomUUID()}, 1, 'Ping', ${ping}::jsonb) returning 1)
                    select pg_notify('rillflow_bench', ${rawSchema}) from e`;
        })),
    floor: ({ raw, scale }) =>
      timed(2 * N * scale, () =>
        concurrently(8, 2 * N * scale, async () => {
          await raw`insert into events (stream_id, stream_seq, type, data)
                    values (${crypto.randomUUID()}, 1, 'Ping', ${ping}::jsonb)`;
        })),
  },
];
