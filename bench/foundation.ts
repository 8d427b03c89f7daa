/** Foundation workloads: appends beside the raw floor (document workloads: documents.ts). */
import { event, Expected } from "../mod.ts";
import { timed, type Workload } from "./harness.ts";

const N = 2_000;

/** The workloads of the foundation issue. */
export const foundationWorkloads: Workload[] = [
  {
    name: "append 1 event, sequential",
    unit: "events",
    target: "≥ 0.9×",
    rillflow: ({ store, scale }) => {
      const n = N * scale;
      const streams = Array.from({ length: n }, () => crypto.randomUUID());
      return timed(n, async () => {
        for (const id of streams) {
          await store.events.append(id, Expected.any, [event("Ping", { i: 1 })]);
        }
      });
    },
    floor: ({ raw, scale }) => {
      const n = N * scale;
      return timed(n, async () => {
        for (let i = 0; i < n; i++) {
          await raw`insert into events (stream_id, stream_seq, type, data)
                    values (${crypto.randomUUID()}, 1, 'Ping', ${'{"i":1}'}::jsonb)`;
        }
      });
    },
  },
  {
    name: "append 50 events per call",
    unit: "events",
    target: "≥ 20,000/s",
    rillflow: ({ store, scale }) => {
      const calls = (N / 10) * scale;
      const batch = Array.from({ length: 50 }, (_, i) => event("Ping", { i }));
      return timed(calls * 50, async () => {
        for (let c = 0; c < calls; c++) {
          await store.events.append(crypto.randomUUID(), Expected.any, batch);
        }
      });
    },
    floor: ({ raw, scale }) => {
      const calls = (N / 10) * scale;
      const datas = Array.from({ length: 50 }, (_, i) => JSON.stringify({ i }));
      const seqs = Array.from({ length: 50 }, (_, i) => i + 1);
      return timed(calls * 50, async () => {
        for (let c = 0; c < calls; c++) {
          await raw`insert into events (stream_id, stream_seq, type, data)
            select ${crypto.randomUUID()}, s, 'Ping', d::jsonb
              from unnest(${seqs}::int[], ${datas}::text[]) as t(s, d)`;
        }
      });
    },
  },
];
