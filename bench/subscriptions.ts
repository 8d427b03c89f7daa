/**
 * Subscription workloads: delivery throughput for one consumer and for four
 * competing members, and append-to-delivery latency with NOTIFY.
 */
import { event, Expected, type Store } from "../mod.ts";
import type postgres from "postgres";
import { concurrently, type Measured, timed, type Workload } from "./harness.ts";

const EVENTS = 20_000;
const STREAMS = 200;

/** Appends `n` events over STREAMS streams, 50 per call (not timed). */
async function seedStore(store: Store, n: number): Promise<void> {
  const streams = Array.from({ length: STREAMS }, () => crypto.randomUUID());
  const batch = Array.from({ length: 50 }, (_, i) => event("Work", { i, pad: "x".repeat(40) }));
  await concurrently(
    8,
    n / 50,
    (i) => store.events.append(streams[i % STREAMS]!, Expected.any, batch).then(() => {}),
  );
}

/** The same rows for the floor, written with plain SQL. */
async function seedRaw(raw: postgres.Sql, n: number): Promise<void> {
  const data = JSON.stringify({ i: 0, pad: "x".repeat(40) });
  await raw`insert into events (stream_id, stream_seq, type, data)
    select s.id, g.n, 'Work', ${data}::jsonb
      from (select gen_random_uuid() as id from generate_series(1, ${STREAMS})) s,
           generate_series(1, ${n / STREAMS}) g(n)`;
}

/** Consumes `n` events with `members` members of one group (auto acks), timed. */
async function consume(store: Store, n: number, members: number): Promise<Measured> {
  await store.subscriptions.create("bench");
  const subs = await Promise.all(
    Array.from({ length: members }, (_, i) =>
      store.subscriptions.subscribe("bench", {
        group: "g",
        members: members > 1 ? "shared" : "exclusive",
        batchSize: 500,
        leaseTtlMs: 4_000,
        memberId: `bench-${i}`,
      })),
  );
  // Steady state: wait until the members have split the partitions before timing.
  for (let waited = 0; members > 1 && waited < 10_000; waited += 20) {
    const status = await store.subscriptions.groupStatus("bench", "g");
    if (status.members.filter((m) => m.partitions.length > 0).length === members) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  let seen = 0;
  const measured = await timed(n, async () => {
    await Promise.all(subs.map(async (sub) => {
      for await (const _ of sub) {
        if (++seen >= n) await Promise.all(subs.map((s) => s.close()));
      }
    }));
  });
  const status = await store.subscriptions.groupStatus("bench", "g");
  if (seen !== n || status.lag !== 0) {
    throw new Error(`delivered ${seen} of ${n}, lag ${status.lag}`);
  }
  return measured;
}

/** The floor: read in batches by position and write a checkpoint per batch, plain SQL. */
async function rawConsume(raw: postgres.Sql, n: number): Promise<Measured> {
  await raw`insert into subscriptions (name) values ('floor') on conflict do nothing`;
  return timed(n, async () => {
    let after = 0;
    let seen = 0;
    while (seen < n) {
      const rows = await raw`select global_seq, stream_id, stream_seq, type, data, headers,
          causation_id, correlation_id, event_version, tenant_id, user_id, created_at
          from events where global_seq > ${after} order by global_seq limit 500`;
      if (rows.length === 0) throw new Error("floor ran dry");
      seen += rows.length;
      after = Number(rows[rows.length - 1]!.global_seq);
      await raw`update subscriptions set start_from = ${after}, updated_at = now() where name = 'floor'`;
    }
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The workloads of the subscriptions issue. */
export const subscriptionWorkloads: Workload[] = [
  {
    name: "subscription delivery, one consumer",
    unit: "events",
    target: "≥ 20,000/s",
    async rillflow({ store, scale }) {
      await seedStore(store, EVENTS * scale);
      return consume(store, EVENTS * scale, 1);
    },
    async floor({ raw, scale }) {
      await raw`truncate events`;
      await seedRaw(raw, EVENTS * scale);
      return rawConsume(raw, EVENTS * scale);
    },
  },
  {
    name: "subscription delivery, 4 competing members",
    unit: "events",
    async rillflow({ store, scale }) {
      await seedStore(store, EVENTS * scale);
      return consume(store, EVENTS * scale, 4);
    },
  },
  {
    name: "subscription latency: append to delivery, NOTIFY, idle",
    unit: "events",
    target: "p99 < 50 ms",
    async rillflow({ store, scale }) {
      const n = 200 * scale;
      await store.subscriptions.create("latency");
      // A long poll interval: wake-ups come from NOTIFY.
      const sub = await store.subscriptions.subscribe("latency", { pollIntervalMs: 5_000 });
      const iterator = sub[Symbol.asyncIterator]();
      const stream = crypto.randomUUID();
      const latencies: number[] = [];
      const measured = await timed(n, async () => {
        for (let i = 0; i < n; i++) {
          const started = performance.now();
          const delivered = iterator.next();
          await store.events.append(stream, Expected.any, [event("Ping", { i })]);
          await delivered;
          latencies.push(performance.now() - started);
        }
      });
      await sub.close();
      latencies.sort((a, b) => a - b);
      const fmt = (ms: number) => ms.toFixed(1);
      return {
        ...measured,
        note: `p50 ${fmt(percentile(latencies, 50))} ms, p99 ${
          fmt(percentile(latencies, 99))
        } ms (append included)`,
      };
    },
  },
];
