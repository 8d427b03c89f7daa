import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { defineUpcaster, event, Expected, RillflowError, UpcasterRegistry } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

interface PlacedV3 {
  orderId: number;
  currency: string;
  lines: unknown[];
}

function orderChain(): UpcasterRegistry {
  return new UpcasterRegistry()
    .register(defineUpcaster({
      fromType: "OrderCreated",
      fromVersion: 1,
      toType: "OrderPlaced",
      toVersion: 2,
      upcast: (data) => ({ ...(data as object), currency: "EUR" }),
    }))
    .register(defineUpcaster({
      fromType: "OrderPlaced",
      fromVersion: 2,
      toType: "OrderPlaced",
      toVersion: 3,
      upcast: (data) => ({ ...(data as object), lines: [] }),
    }));
}

async function storedShapes(store: Parameters<typeof contextOf>[0], streamId: string) {
  const { executor, table } = contextOf(store);
  return await executor.query<{ type: string; event_version: number }>(
    `select type, event_version from ${table("events")} where stream_id = $1 order by stream_seq`,
    [streamId],
  );
}

testBoth(
  "a v1 → v2 → v3 chain with a rename applies on readStream and readAll",
  async (store) => {
    const streamId = crypto.randomUUID();
    await store.events.append(streamId, Expected.noStream, [
      event("OrderCreated", { orderId: 1 }, { version: 1 }),
      event("OrderPlaced", { orderId: 2, currency: "USD" }, { version: 2 }),
      event("OrderPlaced", { orderId: 3, currency: "GBP", lines: [1] }),
      event("Unrelated", { n: 1 }),
    ]);
    assertEquals(await storedShapes(store, streamId), [
      { type: "OrderCreated", event_version: 1 },
      { type: "OrderPlaced", event_version: 2 },
      { type: "OrderPlaced", event_version: 3 }, // no explicit version: the current one
      { type: "Unrelated", event_version: 1 },
    ]);
    const expected: Array<[string, number, unknown]> = [
      ["OrderPlaced", 3, { orderId: 1, currency: "EUR", lines: [] }],
      ["OrderPlaced", 3, { orderId: 2, currency: "USD", lines: [] }],
      ["OrderPlaced", 3, { orderId: 3, currency: "GBP", lines: [1] }],
      ["Unrelated", 1, { n: 1 }],
    ];
    const read = await store.events.readStream(streamId);
    assertEquals(read.map((e) => [e.type, e.eventVersion, e.data]), expected);
    assertEquals(read.map((e) => e.streamSeq), [1, 2, 3, 4]);
    const all = await store.events.readAll();
    assertEquals(all.map((e) => [e.type, e.eventVersion, e.data]), expected);
    const placed = await store.events.readAll({ eventTypes: ["OrderPlaced"] });
    assertEquals(placed.map((e) => (e.data as PlacedV3).orderId), [1, 2, 3]);
    const legacy = await store.events.readAll({ eventTypes: ["OrderCreated"] });
    assertEquals(legacy, [], "renamed events read under their new type only");
  },
  { upcasters: orderChain() },
);

const live = new UpcasterRegistry();
testBoth("upcasters registered after connecting apply to later reads", async (store, backend) => {
  const streamId = crypto.randomUUID();
  const ping = `Ping_${backend.name}`;
  await store.events.append(streamId, Expected.noStream, [event(ping, { a: 1 })]);
  assertEquals((await store.events.readStream(streamId))[0]?.data, { a: 1 });
  live.register(defineUpcaster({
    fromType: ping,
    fromVersion: 1,
    toType: "Pong",
    toVersion: 1,
    upcast: (data) => ({ ...(data as object), renamed: true }),
  }));
  const [pong] = await store.events.readStream(streamId);
  assertEquals([pong?.type, pong?.data], ["Pong", { a: 1, renamed: true }]);
}, { upcasters: live });

const throwing = new UpcasterRegistry().register(defineUpcaster({
  fromType: "Broken",
  fromVersion: 1,
  toType: "Broken",
  toVersion: 2,
  upcast: (data) => {
    if ((data as { bad?: boolean }).bad) throw new Error("field 'amount' is missing");
    return data;
  },
}));
testBoth(
  "an upcaster that throws raises UPCASTING_FAILED naming position and type",
  async (store) => {
    const streamId = crypto.randomUUID();
    const { globalSeqs } = await store.events.append(streamId, Expected.noStream, [
      event("Broken", { bad: false }, { version: 1 }),
      event("Broken", { bad: true }, { version: 1 }),
    ]);
    for (const read of [() => store.events.readStream(streamId), () => store.events.readAll()]) {
      const error = await assertRejects(read, RillflowError);
      assertEquals(error.code, "UPCASTING_FAILED");
      assert(error.message.includes(`position ${globalSeqs[1]}`), error.message);
      assert(error.message.includes("Broken v1 → Broken v2"), error.message);
      assert(error.message.includes("field 'amount' is missing"), error.message);
      assertEquals(error.details.globalSeq, globalSeqs[1]);
      assertEquals(error.details.type, "Broken");
      assert(error.cause instanceof Error);
    }
  },
  { upcasters: throwing },
);

const lookups = new UpcasterRegistry().registerAsync({
  fromType: "CustomerMoved",
  fromVersion: 1,
  toType: "CustomerMoved",
  toVersion: 2,
  description: "adds the region from the customer document",
  async upcast(data, db) {
    const { customerId } = data as { customerId: string };
    const [row] = await db.sql<{ region: string }>`
      select doc->>'region' as region from docs where id = ${customerId}::uuid`;
    return { ...(data as object), region: row?.region ?? "unknown" };
  },
}).registerAsync({
  fromType: "Sneaky",
  fromVersion: 1,
  toType: "Sneaky",
  toVersion: 2,
  async upcast(data, db) {
    await db.query("insert into docs (id, doc) values (gen_random_uuid(), '{}')");
    return data;
  },
});
testBoth(
  "an async upcaster reads through a read-only handle on the store's schema",
  async (store) => {
    const customerId = crypto.randomUUID();
    await store.docs().put(customerId, { region: "emea" });
    const streamId = crypto.randomUUID();
    await store.events.append(streamId, Expected.noStream, [
      event("CustomerMoved", { customerId }, { version: 1 }),
    ]);
    const [moved] = await store.events.readStream(streamId);
    assertEquals([moved?.eventVersion, moved?.data], [2, { customerId, region: "emea" }]);
    assertEquals(lookups.describe()[0]?.async, true);

    const sneaky = crypto.randomUUID();
    await store.events.append(sneaky, Expected.noStream, [event("Sneaky", {}, { version: 1 })]);
    const error = await assertRejects(() => store.events.readStream(sneaky), RillflowError);
    assertEquals(error.code, "UPCASTING_FAILED");
    assert(/read-only/i.test(error.message), error.message);
    const { executor, table } = contextOf(store);
    const [count] = await executor.query<{ n: number }>(
      `select count(*)::int as n from ${table("docs")}`,
    );
    assertEquals(count?.n, 1, "the write was rejected");
  },
  { upcasters: lookups },
);

testBoth(
  "projections and subscriptions filtering by a type receive the events renamed into it",
  async (store) => {
    const streamId = crypto.randomUUID();
    await store.events.append(streamId, Expected.noStream, [
      event("OrderCreated", { orderId: 1 }, { version: 1 }), // read as OrderPlaced v3
      event("Unrelated", { n: 1 }),
      event("OrderPlaced", { orderId: 2, currency: "USD" }, { version: 2 }),
      event("OrderPlaced", { orderId: 3, currency: "GBP", lines: [] }),
    ]);
    const expected = [["OrderPlaced", 1], ["OrderPlaced", 2], ["OrderPlaced", 3]];
    const shapes = (seen: { type: string; data: unknown }[]) =>
      seen.map((e) => [e.type, (e.data as PlacedV3).orderId]);

    for (const eventTypes of [["OrderPlaced"], ["OrderCreated"]]) {
      const seen: { type: string; data: unknown }[] = [];
      const daemon = store.projections({ batchSize: 2 });
      daemon.register(`by_${eventTypes[0]}`, {
        eventTypes,
        apply: (e) => {
          seen.push(e);
          return Promise.resolve();
        },
      });
      await daemon.runUntilIdle();
      await daemon.releaseLeases();
      assertEquals(shapes(seen), eventTypes[0] === "OrderPlaced" ? expected : [], "projection");

      const name = `sub_${eventTypes[0]}`;
      await store.subscriptions.create(name, { eventTypes });
      const sub = await store.subscriptions.subscribe(name, {
        stopWhenCaughtUp: true,
        pollIntervalMs: 20,
        useNotify: false,
      });
      const delivered: { type: string; data: unknown }[] = [];
      for await (const e of sub) delivered.push(e);
      assertEquals(
        shapes(delivered),
        eventTypes[0] === "OrderPlaced" ? expected : [],
        "subscription",
      );
    }
  },
  { upcasters: orderChain() },
);
