import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, testBoth, testServer } from "./_backends.ts";
import { metricsRegistry, RillflowError, Store } from "../mod.ts";
import { acquireLease } from "../src/processing/lease.ts";
import { contextOf } from "../src/_context.ts";
import { appendOne, take } from "./_subscriptions.ts";
import { waitFor } from "./_wait.ts";

const fast = { useNotify: false, pollIntervalMs: 20, leaseTtlMs: 1_000 } as const;

testBoth("ackInTx commits or rolls back with the caller's writes", async (store) => {
  const { executor, schema } = contextOf(store);
  await executor.query(`create table "${schema}".side_effects (seq bigint primary key)`);
  const stream = crypto.randomUUID();
  const a = await appendOne(store, stream, "E", { n: 1 });
  const b = await appendOne(store, stream, "E", { n: 2 });
  await store.subscriptions.create("tx", { startFrom: 0 });
  const sub = await store.subscriptions.subscribe("tx", { ackMode: "manual", ...fast });
  const [first] = await take(sub, 1);
  assertEquals(first!.globalSeq, a);

  await assertRejects(
    () =>
      sub.transaction(async (tx) => {
        await tx.sql`insert into side_effects (seq) values (${first!.globalSeq})`;
        await sub.ackInTx(tx, first!.globalSeq);
        throw new Error("handler failed after its writes");
      }),
    Error,
    "handler failed",
  );
  const count = async () =>
    (await executor.query<{ n: number }>(
      `select count(*)::int as n from "${schema}".side_effects`,
    ))[0]!.n;
  assertEquals(await count(), 0, "the side effect rolled back");
  assertEquals((await store.subscriptions.groupStatus("tx", "default")).checkpoint, 0);

  // Same event again (still awaiting an ack): commit side effect and ack together.
  await sub.transaction(async (tx) => {
    await tx.sql`insert into side_effects (seq) values (${first!.globalSeq})`;
    await sub.ackInTx(tx, first!.globalSeq);
  });
  const [second] = await take(sub, 1);
  assertEquals(second!.globalSeq, b);
  await sub.close();
  assertEquals(await count(), 1);
  assertEquals((await store.subscriptions.groupStatus("tx", "default")).checkpoint, a);

  // After a restart the committed event is not delivered again; the un-acked one is.
  const again = await store.subscriptions.subscribe("tx", {
    ackMode: "manual",
    stopWhenCaughtUp: true,
    ...fast,
  });
  const redelivered = [];
  for await (const envelope of again) {
    redelivered.push(envelope.globalSeq);
    await again.ack(envelope.globalSeq);
  }
  assertEquals(redelivered, [b]);
});

testBoth(
  "nack retries after the delay, keeps the stream in order, then dead-letters",
  async (store) => {
    const s1 = crypto.randomUUID();
    const s2 = crypto.randomUUID();
    const e1 = await appendOne(store, s1, "E", { n: 1 });
    const e2 = await appendOne(store, s1, "E", { n: 2 });
    const e3 = await appendOne(store, s2, "E", { n: 3 });
    await store.subscriptions.create("retry");
    const sub = await store.subscriptions.subscribe("retry", {
      ackMode: "manual",
      backoff: { baseMs: 10, maxAttempts: 3 },
      batchSize: 1,
      ...fast,
    });
    const order: number[] = [];
    const [first] = await take(sub, 1);
    assertEquals(first!.globalSeq, e1);
    const nackedAt = Date.now();
    await sub.nack(e1, { retryAfterMs: 150, error: new Error("boom 1") });
    // e2 is in e1's stream: it waits behind e1; e3 (another stream) goes on.
    const [other] = await take(sub, 1);
    assertEquals(other!.globalSeq, e3);
    await sub.ack(e3);
    const [retried] = await take(sub, 1);
    assertEquals(retried!.globalSeq, e1);
    assert(Date.now() - nackedAt >= 140, "redelivered only after retryAfterMs");
    order.push(retried!.globalSeq);
    await sub.nack(e1, { error: "boom 2" }); // backoff: 10 ms · 2
    const [third] = await take(sub, 1);
    assertEquals(third!.globalSeq, e1);
    await sub.nack(e1, { error: new TypeError("boom 3") }); // third nack: dead letter
    const [next] = await take(sub, 1);
    assertEquals(next!.globalSeq, e2, "the stream moves on after the dead letter");
    await sub.ack(e2);

    const dead = await store.subscriptions.dlqList("retry");
    assertEquals(dead.length, 1);
    assertEquals(dead[0]!.globalSeq, e1);
    assertEquals(dead[0]!.attempts, 3);
    assertEquals(dead[0]!.error, "TypeError: boom 3");
    assertEquals(dead[0]!.group, "default");
    assertEquals(dead[0]!.envelope.type, "E");
    assert(dead[0]!.envelope.createdAt instanceof Date);
    const status = await store.subscriptions.groupStatus("retry", "default");
    assertEquals(status.checkpoint, e3);
    assertEquals(status.deadLetters, 1);

    // Requeue: delivered again (below the checkpoint), acked once.
    await store.subscriptions.dlqRequeue("retry", dead[0]!.id);
    assertEquals(await store.subscriptions.dlqList("retry"), []);
    const [requeued] = await take(sub, 1, 10_000);
    assertEquals(requeued!.globalSeq, e1);
    await sub.ack(e1);
    await waitFor(
      "the requeued retry row to go",
      async () => (await store.subscriptions.groupStatus("retry", "default")).retrying === 0,
    );
    await sub.close();

    await assertRejects(() => store.subscriptions.dlqRequeue("retry", dead[0]!.id), RillflowError);
    const metrics = await metricsRegistry.metrics();
    assert(metrics.includes("rillflow_subscription_events_nacked_total"), "nacks are counted");
    assert(metrics.includes('subscription="retry"'), "series are labelled by subscription");
  },
);

testBoth("dead letters can be deleted; acks of events not delivered are refused", async (store) => {
  const stream = crypto.randomUUID();
  const e1 = await appendOne(store, stream, "E");
  await store.subscriptions.create("dlq");
  const sub = await store.subscriptions.subscribe("dlq", {
    ackMode: "manual",
    backoff: { maxAttempts: 1 },
    ...fast,
  });
  await assertRejects(() => sub.ack(e1 + 1000), RangeError, "not awaiting an ack");
  await take(sub, 1);
  await sub.nack(e1, { error: "no" });
  await sub.ack(e1); // already settled: a no-op
  const [entry] = await store.subscriptions.dlqList("dlq", { group: "default" });
  await store.subscriptions.dlqDelete("dlq", entry!.id);
  assertEquals(await store.subscriptions.dlqList("dlq"), []);
  await assertRejects(() => store.subscriptions.dlqDelete("dlq", entry!.id), RillflowError);
  await sub.close();
});

testBoth(
  "auto mode: a nacked event comes back, and asking for the next one acks it",
  async (store) => {
    const stream = crypto.randomUUID();
    const e1 = await appendOne(store, stream, "E", { n: 1 });
    const e2 = await appendOne(store, stream, "E", { n: 2 });
    await store.subscriptions.create("auto-retry");
    const sub = await store.subscriptions.subscribe("auto-retry", fast);
    const seen: number[] = [];
    for await (const envelope of sub) {
      seen.push(envelope.globalSeq);
      if (seen.length === 1) await sub.nack(envelope.globalSeq, { retryAfterMs: 0 });
      if (seen.length === 3) break;
    }
    assertEquals(seen, [e1, e1, e2], "the retry comes before the rest of its stream");
    const status = await store.subscriptions.groupStatus("auto-retry", "default");
    assertEquals(status.checkpoint, e2);
    assertEquals(status.retrying, 0, "the acked retry's row is gone");
  },
);

testServer(
  "ackInTx fences: a deposed member cannot commit, and no takeover while the ack is open",
  async (url) => {
    const store = await Store.connect(url, { schema: freshSchema(), autoMigrate: true });
    const { executor, schema } = contextOf(store);
    try {
      await executor.query(`create table "${schema}".effects (seq bigint primary key)`);
      const stream = crypto.randomUUID();
      const e1 = await appendOne(store, stream, "E");
      const e2 = await appendOne(store, stream, "E");
      await store.subscriptions.create("fenced");
      const sub = await store.subscriptions.subscribe("fenced", { ackMode: "manual", ...fast });
      await take(sub, 2);

      // While a transaction holds the ack of e1, another worker cannot take the lease.
      const target = {
        table: contextOf(store).table("subscription_leases"),
        keyColumns: ["subscription", "group_name", "partition"],
        key: ["fenced", "default", 0],
        label: "partition 0",
      };
      const inside = Promise.withResolvers<void>();
      const release = Promise.withResolvers<void>();
      const committed = sub.transaction(async (tx) => {
        await tx.sql`insert into effects (seq) values (${e1})`;
        await sub.ackInTx(tx, e1);
        inside.resolve();
        await release.promise;
      });
      await inside.promise;
      // The member's own renewal waits behind the open ack too, so the lease runs out…
      await waitFor("the lease to expire while the ack is open", async () => {
        const [row] = await executor.query<{ expired: boolean }>(
          `select lease_expires_at < clock_timestamp() as expired from ${target.table}
          where subscription = 'fenced'`,
        );
        return row?.expired;
      });
      // …yet nobody can take it over before the transaction ends.
      const claim = acquireLease(executor, target, "intruder", 60_000);
      const early = await Promise.race([
        claim.then(() => "claimed"),
        new Promise((resolve) => setTimeout(() => resolve("blocked"), 200)),
      ]);
      assertEquals(early, "blocked", "the claim waits for the ack's transaction");
      release.resolve();
      await committed;
      await claim;

      // Depose the member (a reset revokes every lease): its ackInTx fails, its writes roll back.
      await store.subscriptions.reset("fenced", e1);
      await assertRejects(
        () =>
          sub.transaction(async (tx) => {
            await tx.sql`insert into effects (seq) values (${e2})`;
            await sub.ackInTx(tx, e2);
          }),
        RillflowError,
        "no longer holds its partition",
      );
      const effects = await executor.query<{ seq: number }>(`select seq from "${schema}".effects`);
      assertEquals(effects.map((r) => r.seq), [e1]);
      await assertRejects(() => sub.ack(e2), RillflowError);
      await sub.close();
    } finally {
      await dropSchemaAndClose(store);
    }
  },
);
