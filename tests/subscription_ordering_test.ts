import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, testServer } from "./_backends.ts";
import { event, Expected, RillflowError, Store } from "../mod.ts";
import type { Subscription } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { take } from "./_subscriptions.ts";
import { appendOutOfOrder, openAppend } from "./_out_of_order.ts";

testServer("a subscriber never passes an append that commits late", async (url) => {
  const store = await Store.connect(url, { schema: freshSchema(), autoMigrate: true });
  const gate = Promise.withResolvers<void>();
  try {
    await store.subscriptions.create("late");
    const sub = await store.subscriptions.subscribe("late", { pollIntervalMs: 20 });
    const slow = openAppend(store, crypto.randomUUID(), gate.promise);
    const a = await slow.appended;
    const b = (await store.events.append(crypto.randomUUID(), Expected.any, [event("Fast", {})]))
      .globalSeqs[0]!;
    assert(b > a);
    const iterator = sub[Symbol.asyncIterator]();
    const first = iterator.next();
    // B is committed and notified, but A (lower) is still open: nothing may be delivered.
    // A bounded negative check: the member polls every 20 ms, so it had many chances.
    const early = await Promise.race([
      first.then(() => "delivered"),
      new Promise((resolve) => setTimeout(() => resolve("nothing"), 300)),
    ]);
    assertEquals(early, "nothing");
    gate.resolve();
    await slow.committed;
    assertEquals((await first).value?.globalSeq, a);
    assertEquals((await iterator.next()).value?.globalSeq, b);
    await sub.close();
  } finally {
    gate.resolve();
    await dropSchemaAndClose(store);
  }
});

testServer(
  "8 writers committing out of order: every member sees each event once, in order",
  async (url) => {
    const store = await Store.connect(url, {
      schema: freshSchema(),
      autoMigrate: true,
      maxConnections: 14,
    });
    const context = contextOf(store);
    try {
      await store.subscriptions.create("stress");
      const solo = await store.subscriptions.subscribe("stress", {
        group: "solo",
        pollIntervalMs: 10,
      });
      const shared = await Promise.all([1, 2].map((n) =>
        store.subscriptions.subscribe("stress", {
          group: "pair",
          members: "shared",
          ackMode: "manual",
          pollIntervalMs: 10,
          leaseTtlMs: 1_500,
          memberId: `p${n}`,
        })
      ));
      const total = 8 * 25;
      const writers = appendOutOfOrder(store, 8, 25);
      const soloSeen = take(solo, total, 30_000);
      const pairSeen: number[] = [];
      let pairDone = 0;
      const consume = async (sub: Subscription) => {
        for await (const env of sub) {
          pairSeen.push(env.globalSeq);
          await sub.ack(env.globalSeq);
          if (++pairDone >= total) await Promise.all(shared.map((s) => s.close()));
        }
      };
      const pair = Promise.all(shared.map(consume));
      await writers;
      const seen = (await soloSeen).map((e) => e.globalSeq);
      await Promise.race([
        pair,
        new Promise((_, reject) => setTimeout(() => reject(new Error("pair timed out")), 30_000)),
      ]);
      const all = (await context.executor.query<{ global_seq: number }>(
        `select global_seq from ${context.table("events")} order by global_seq`,
      )).map((r) => r.global_seq);
      assertEquals(seen, all, "the exclusive member saw every event once, in global order");
      assertEquals([...pairSeen].sort((x, y) => x - y), all, "the pair saw every event once");
      await Promise.all([solo, ...shared].map((s) => s.close()));
    } finally {
      await dropSchemaAndClose(store);
    }
  },
);

testServer("a deleted subscription ends its members with UNKNOWN_SUBSCRIPTION", async (url) => {
  const store = await Store.connect(url, { schema: freshSchema(), autoMigrate: true });
  try {
    await store.subscriptions.create("gone");
    const sub = await store.subscriptions.subscribe("gone", {
      pollIntervalMs: 10,
      leaseTtlMs: 400,
    });
    await store.subscriptions.delete("gone");
    await store.events.append(crypto.randomUUID(), Expected.any, [event("E", {})]);
    await assertRejects(() => take(sub, 1, 5_000), RillflowError, "Unknown subscription");
    await sub.close();
  } finally {
    await dropSchemaAndClose(store);
  }
});
