import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { eventCount } from "./_counts.ts";
import { dropSchemaAndClose, freshSchema, testBoth, testServer } from "./_backends.ts";
import { event, Expected, RillflowError, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { appendWork, countingEvents } from "./_counting.ts";

testBoth("a repeated idempotency key writes nothing and names the key", async (store) => {
  const s = crypto.randomUUID();
  const batch = [event("Paid", { amount: 5 }), event("Receipted", {})];
  const first = await store.events.append(s, Expected.noStream, batch, { idempotencyKey: "pay-1" });
  const retry = await assertRejects(
    () => store.events.append(s, Expected.noStream, batch, { idempotencyKey: "pay-1" }),
    RillflowError,
    '"pay-1"',
  );
  assertEquals(retry.code, "IDEMPOTENCY_CONFLICT");
  assertEquals(retry.retryable, false);
  // An identical retry is told apart and carries the original result.
  assertEquals(retry.details, {
    key: "pay-1",
    streamId: s,
    streamVersion: first.streamVersion,
    globalSeqs: first.globalSeqs,
    identical: true,
  });
  // Whatever the expectation: the key wins over the version check.
  const any = await assertRejects(
    () => store.events.append(s, Expected.any, batch, { idempotencyKey: "pay-1" }),
    RillflowError,
  );
  assertEquals([any.code, any.details.identical], ["IDEMPOTENCY_CONFLICT", true]);
  const other = crypto.randomUUID();
  const reuse = await assertRejects(
    () =>
      store.events.append(other, Expected.any, [event("Other", {})], { idempotencyKey: "pay-1" }),
    RillflowError,
  );
  assertEquals([reuse.code, reuse.details.identical], ["IDEMPOTENCY_CONFLICT", false]);
  assertEquals(await eventCount(store), 2);
  assertEquals(await store.events.streamVersion(s), 2);
  assertEquals(await store.events.streamVersion(other), 0);
  const next = await store.events.append(s, Expected.exact(2), [event("Refunded", {})], {
    idempotencyKey: "pay-2",
  });
  assertEquals(next.streamVersion, 3);
});

testBoth("an append is one statement, with or without a key", async (store) => {
  const { events, stats } = countingEvents(store);
  const appends = () => appendWork(stats);
  await events.append(crypto.randomUUID(), Expected.any, [event("A", {})]);
  assertEquals(appends().length, 1);
  assert(!appends()[0]!.includes("idempotency_keys"), "no key: no idempotency work");
  await events.append(crypto.randomUUID(), Expected.any, [event("A", {})], { idempotencyKey: "k" });
  assertEquals(appends().length, 2);
  assert(appends()[1]!.includes("idempotency_keys"));
});

testBoth("a key used by a rolled-back append stays free", async (store) => {
  const { executor } = contextOf(store);
  const s = crypto.randomUUID();
  class Abort extends Error {}
  await assertRejects(
    () =>
      executor.transaction(async (tx) => {
        const { prepareAppend } = await import("../src/events/append_input.ts");
        const { runAppend } = await import("../src/events/append.ts");
        const context = contextOf(store);
        await runAppend(
          tx,
          context,
          prepareAppend(context, s, Expected.any, [event("A", {})], { idempotencyKey: "once" }),
        );
        throw new Abort();
      }),
    Abort,
  );
  const result = await store.events.append(s, Expected.noStream, [event("A", {})], {
    idempotencyKey: "once",
  });
  assertEquals(result.streamVersion, 1);
});

testServer("idempotency holds across connections, concurrently", async (url) => {
  const schema = freshSchema();
  const a = await Store.connect(url, { schema, autoMigrate: true, maxConnections: 10 });
  const b = await Store.connect(url, { schema, maxConnections: 10 });
  try {
    const s = crypto.randomUUID();
    const outcomes = await Promise.allSettled(
      Array.from(
        { length: 20 },
        (_, i) =>
          (i % 2 ? a : b).events.append(s, Expected.any, [event("Paid", { i })], {
            idempotencyKey: "concurrent",
          }),
      ),
    );
    const won = outcomes.filter((o) => o.status === "fulfilled");
    assertEquals(won.length, 1, "exactly one append with the key wins");
    for (const o of outcomes) {
      if (o.status === "rejected") {
        assert(o.reason instanceof RillflowError, String(o.reason));
        assertEquals(o.reason.code, "IDEMPOTENCY_CONFLICT");
        assertEquals(o.reason.details.key, "concurrent");
      }
    }
    assertEquals((await a.events.readStream(s)).length, 1);
    await assertRejects(
      () =>
        b.events.append(s, Expected.any, [event("Again", {})], { idempotencyKey: "concurrent" }),
      RillflowError,
      "concurrent",
    );
  } finally {
    await b.close();
    await dropSchemaAndClose(a);
  }
});

testServer("idempotency holds across processes", async (url) => {
  const schema = freshSchema();
  const store = await Store.connect(url, { schema, autoMigrate: true });
  const run = async (streamId: string, key: string) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "tests/fixtures/append_with_key.ts", url, schema, streamId, key],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
    return JSON.parse(new TextDecoder().decode(output.stdout));
  };
  try {
    const s = crypto.randomUUID();
    const first = await run(s, "proc-key");
    assertEquals(first.ok.streamVersion, 1);
    const again = await run(s, "proc-key");
    assertEquals(again.code, "IDEMPOTENCY_CONFLICT");
    assertEquals(again.details.identical, true);
    assertEquals(again.details.globalSeqs, first.ok.globalSeqs);
    const here = await assertRejects(
      () =>
        store.events.append(s, Expected.any, [event("Paid", { key: "proc-key" })], {
          idempotencyKey: "proc-key",
        }),
      RillflowError,
    );
    assertEquals([here.code, here.details.identical], ["IDEMPOTENCY_CONFLICT", true]);
    assertEquals(await store.events.streamVersion(s), 1);
  } finally {
    await dropSchemaAndClose(store);
  }
});
