/**
 * A bounded soak (issue #17): appends, document writes, a projection daemon
 * and a two-member shared subscription group, all at once for
 * `RILLFLOW_SOAK_SECONDS` (default 180), against RILLFLOW_TEST_DATABASE_URL.
 * It reports throughput and the process's RSS, and fails when RSS after the
 * warm-up grows by more than 10 % (the lowest RSS of the last third against
 * that of the second: the floors the garbage collector returns to, not its
 * sawtooth), or when an event is
 * lost (the projection applies each exactly once, the group delivers each at
 * least once). Part of `deno task test:faults`.
 */
import { assert, assertEquals } from "../_assert.ts";
import { waitFor } from "../_wait.ts";
import { event, Expected, Store } from "../../mod.ts";
import { contextOf } from "../../src/_context.ts";

const URL = Deno.env.get("RILLFLOW_TEST_DATABASE_URL");
const SECONDS = Number(Deno.env.get("RILLFLOW_SOAK_SECONDS") ?? 180);

if (!URL && Deno.env.get("CI") === "true") {
  throw new Error("CI=true needs RILLFLOW_TEST_DATABASE_URL for the soak");
}

Deno.test({
  name: `soak: appends, documents, a daemon and a shared group for ${SECONDS} s`,
  ignore: !URL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const schema = `soak_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const store = await Store.connect(URL!, { schema, autoMigrate: true, maxConnections: 16 });
    const { executor } = contextOf(store);
    await executor.query(`create table "${schema}".applied (global_seq bigint not null)`);
    const stop = new AbortController();
    const daemon = store.projections({ pollIntervalMs: 100, batchSize: 200 });
    daemon.register("applied", {
      eventTypes: ["Soak"],
      apply: async (envelope, tx) =>
        void await tx.query("insert into applied values ($1)", [envelope.globalSeq]),
    });
    await store.subscriptions.create("soak", { eventTypes: ["Soak"] });
    // Positions seen by the group, in constant memory (positions stay far below the size).
    const seen = new Uint8Array(4_000_000);
    let deliveries = 0;
    const consume = async (memberId: string) => {
      const member = await store.subscriptions.subscribe("soak", {
        group: "workers",
        members: "shared",
        memberId,
        ackMode: "auto",
        batchSize: 200,
        pollIntervalMs: 100,
        signal: stop.signal,
      });
      for await (const envelope of member) {
        seen[envelope.globalSeq] = 1;
        deliveries++;
      }
    };
    const streams = Array.from({ length: 200 }, () => crypto.randomUUID());
    const appended: number[] = [];
    let appends = 0;
    let documents = 0;
    const until = performance.now() + SECONDS * 1000;
    const writer = async (w: number) => {
      for (let i = 0; performance.now() < until; i++) {
        const size = 1 + (i % 10);
        const stream = streams[(w * 31 + i) % streams.length]!;
        const batch = Array.from({ length: size }, (_, k) => event("Soak", { w, i, k }));
        const result = await store.events.append(stream, Expected.any, batch);
        appended.push(result.globalSeqs[0]!, result.globalSeqs.at(-1)!);
        appends += size;
        // A steady load the daemon keeps up with, not a flood: the soak is about staying well.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const documentWriter = async () => {
      const docs = store.docs<{ n: number }>("soak_docs");
      const ids = Array.from({ length: 500 }, () => crypto.randomUUID());
      for (let i = 0; performance.now() < until; i++) {
        const id = ids[i % ids.length]!;
        const found = await docs.get(id);
        await docs.put(id, { n: (found?.doc.n ?? 0) + 1 }, found?.version ?? 0);
        documents++;
      }
    };
    const samples: Array<{ at: number; rss: number; appends: number; documents: number }> = [];
    const started = performance.now();
    const sampler = setInterval(() => {
      samples.push({
        at: Math.round((performance.now() - started) / 1000),
        rss: Deno.memoryUsage().rss,
        appends,
        documents,
      });
    }, 1_000);
    try {
      const running = daemon.run({ signal: stop.signal, useNotify: true });
      running.catch(() => {}); // awaited below
      const members = Promise.all(["m1", "m2"].map(consume));
      members.catch(() => {}); // awaited below
      await Promise.all([...[0, 1, 2, 3].map(writer), documentWriter(), documentWriter()]);
      clearInterval(sampler);
      const total = appends;
      await waitFor("every event applied", async () => {
        const [row] = await executor.query<{ n: number }>(
          `select count(*)::int as n from "${schema}".applied`,
        );
        return row!.n >= total;
      }, { timeoutMs: 120_000, intervalMs: 200 });
      await waitFor("every event delivered", () => deliveries >= total, {
        timeoutMs: 120_000,
        intervalMs: 200,
      });
      stop.abort();
      await running;
      await members;
      const [counts] = await executor.query<{ n: number; distinct_n: number }>(
        `select count(*)::int as n, count(distinct global_seq)::int as distinct_n
           from "${schema}".applied`,
      );
      assertEquals(counts, { n: total, distinct_n: total }, "the projection applied each once");
      const missed = appended.filter((seq) => seen[seq] !== 1);
      assertEquals(missed.length, 0, "the group delivered every event");
      const floor = (from: number, to: number) =>
        Math.min(...samples.filter((s) => s.at >= from && s.at < to).map((s) => s.rss));
      const middle = floor(SECONDS / 3, (2 * SECONDS) / 3);
      const end = floor((2 * SECONDS) / 3, SECONDS + 1);
      const growth = end / middle - 1;
      const mb = (bytes: number) => `${Math.round(bytes / 1_048_576)} MB`;
      console.log(
        `  ${Math.round(total / SECONDS)} events/s, ${Math.round(documents / SECONDS)} docs/s, ` +
          `${deliveries - total} redeliveries; lowest RSS of the second third ${mb(middle)}, ` +
          `of the last ${mb(end)} (${(growth * 100).toFixed(1)} %); every 10 s: ${
            samples.filter((s) => s.at % 10 === 0).map((s) => `${s.at}s ${mb(s.rss)}`).join(", ")
          }`,
      );
      assert(growth <= 0.1, `RSS grew ${(growth * 100).toFixed(1)} % after warm-up`);
    } finally {
      clearInterval(sampler);
      stop.abort();
      await executor.query(`drop schema "${schema}" cascade`);
      await store.close();
    }
  },
});
