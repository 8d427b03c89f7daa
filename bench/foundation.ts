/** Foundation workloads: document inserts, beside the raw floor (events: bench/events.ts). */
import { timed, type Workload } from "./harness.ts";

const N = 2_000;

/** The workloads of the foundation issue (the event workloads moved to bench/events.ts). */
export const foundationWorkloads: Workload[] = [
  {
    name: "document insert, one by one",
    unit: "docs",
    target: "≥ 0.9×",
    rillflow: ({ store, scale }) => {
      const n = N * scale;
      const docs = store.docs();
      return timed(n, async () => {
        for (let i = 0; i < n; i++) {
          await docs.put(crypto.randomUUID(), { email: `u${i}@x.io`, age: i % 90 });
        }
      });
    },
    floor: ({ raw, scale }) => {
      const n = N * scale;
      return timed(n, async () => {
        for (let i = 0; i < n; i++) {
          await raw`insert into docs (id, doc)
                    values (${crypto.randomUUID()}, ${
            JSON.stringify({ email: `u${i}@x.io`, age: i % 90 })
          }::jsonb)`;
        }
      });
    },
  },
];
