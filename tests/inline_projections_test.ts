import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import {
  event,
  type EventEnvelope,
  Expected,
  type Projection,
  RillflowError,
  Store,
} from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { appendWork, countingEvents } from "./_counting.ts";

const seen: EventEnvelope[] = [];

const totals: Projection = {
  eventTypes: ["OrderPlaced", "OrderCancelled"],
  async apply(e, tx) {
    seen.push(e);
    const { orderId, total } = e.data as { orderId: number; total?: number };
    // Unqualified: inline projections run with search_path set to the store's schema.
    if (e.type === "OrderPlaced") {
      await tx.sql`insert into order_totals (order_id, total) values (${orderId}, ${total})`;
    } else {
      await tx.sql`delete from order_totals where order_id = ${orderId}`;
    }
  },
};

const strict: Projection = {
  eventTypes: ["OrderPlaced"],
  apply(e) {
    if ((e.data as { total: number }).total < 0) {
      return Promise.reject(new RangeError("negative total"));
    }
    return Promise.resolve();
  },
};

async function totalsOf(store: Store): Promise<Array<{ order_id: number; total: number }>> {
  const { executor, table } = contextOf(store);
  return await executor.query(
    `select order_id, total::float8 as total from ${table("order_totals")} order by order_id`,
  );
}

testBoth("inline projections write in the append's transaction", async (store) => {
  const { executor, table } = contextOf(store);
  await executor.query(
    `create table ${table("order_totals")} (order_id int primary key, total numeric)`,
  );
  seen.length = 0;
  const s = crypto.randomUUID();
  const result = await store.events.append(s, Expected.noStream, [
    event("OrderPlaced", { orderId: 1, total: 10 }),
    event("OrderPlaced", { orderId: 2, total: 5 }),
    event("Noted", {}),
  ]);
  assertEquals(await totalsOf(store), [{ order_id: 1, total: 10 }, { order_id: 2, total: 5 }]);
  assertEquals(seen.map((e) => [e.type, e.streamSeq, e.globalSeq]), [
    ["OrderPlaced", 1, result.globalSeqs[0]],
    ["OrderPlaced", 2, result.globalSeqs[1]],
  ]);
  assert(seen[0]!.createdAt instanceof Date);
  await store.events.append(s, Expected.exact(3), [event("OrderCancelled", { orderId: 1 })]);
  assertEquals(await totalsOf(store), [{ order_id: 2, total: 5 }]);
}, { projections: { inline: { totals, strict } } });

testBoth("a failing inline projection fails the append and writes nothing", async (store) => {
  const { executor, table } = contextOf(store);
  await executor.query(
    `create table ${table("order_totals")} (order_id int primary key, total numeric)`,
  );
  const s = crypto.randomUUID();
  await store.events.append(s, Expected.noStream, [event("OrderPlaced", { orderId: 1, total: 1 })]);
  await assertRejects(
    () =>
      store.events.append(s, Expected.exact(1), [
        event("OrderPlaced", { orderId: 2, total: 2 }),
        event("OrderPlaced", { orderId: 3, total: -1 }),
      ], { idempotencyKey: "failing" }),
    RangeError,
    "negative total",
  );
  assertEquals(await totalsOf(store), [{ order_id: 1, total: 1 }]);
  assertEquals(await store.events.streamVersion(s), 1);
  assertEquals((await store.events.readStream(s)).length, 1);
  // A database error in a handler fails the append the same way.
  const duplicate = await assertRejects(
    () => store.events.append(s, Expected.any, [event("OrderPlaced", { orderId: 1, total: 3 })]),
    RillflowError,
  );
  assertEquals(duplicate.details.sqlState, "23505");
  assertEquals(await store.events.streamVersion(s), 1);
  // The rolled-back append's idempotency key was never recorded.
  const retried = await store.events.append(s, Expected.exact(1), [
    event("OrderPlaced", { orderId: 2, total: 2 }),
  ], { idempotencyKey: "failing" });
  assertEquals(retried.streamVersion, 2);
}, { projections: { inline: { totals, strict } } });

testBoth("appends of other event types stay on the one-statement path", async (store) => {
  const { events, stats } = countingEvents(store);
  const pool = () => appendWork(stats).length;
  await events.append(crypto.randomUUID(), Expected.any, [event("Unrelated", {})]);
  assertEquals(pool(), 1, "one statement on the pool");
  const { executor, table } = contextOf(store);
  await executor.query(
    `create table ${table("order_totals")} (order_id int primary key, total numeric)`,
  );
  await events.append(crypto.randomUUID(), Expected.any, [
    event("OrderPlaced", { orderId: 9, total: 1 }),
  ]);
  assertEquals(pool(), 1, "the projected append ran in a transaction, not on the pool");
  assertEquals(await totalsOf(store), [{ order_id: 9, total: 1 }]);
}, { projections: { inline: { totals } } });

Deno.test("a malformed inline projection is refused before connecting", async () => {
  await assertRejects(
    () =>
      Store.connect("pglite://memory", { projections: { inline: { broken: {} as Projection } } }),
    TypeError,
    '"broken"',
  );
});
