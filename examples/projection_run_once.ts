/**
 * Projections in one file: register projections, append events, run the
 * daemon until it has caught up, and print the read models.
 *
 *   deno run -A examples/projection_run_once.ts
 *
 * Runs on an embedded in-memory database; set DATABASE_URL to use a server.
 */
import { event, Expected, type Projection, Store } from "../mod.ts";
import { customerActivity, orderTotals } from "./rillflow.config.ts";

const url = Deno.env.get("DATABASE_URL") || "pglite://memory";
await using store = await Store.connect(url, { autoMigrate: true });

// The example config's projections: a view (count and sum per customer) and a
// multi-stream projection (one JSON state per customer, folded across order streams).
const daemon = store.projections({ batchSize: 500 });
daemon.register("order_totals", orderTotals);
daemon.register("customer_activity", customerActivity);

// A projection written by hand: setup creates its table, apply writes through
// the daemon's transaction (the checkpoint commits with it), reset clears it.
const shippedCount: Projection = {
  eventTypes: ["OrderShipped"],
  async setup(tx) {
    await tx.query("create table if not exists shipped_count (carrier text primary key, n int)");
  },
  async apply(envelope, tx) {
    const { carrier } = envelope.data as { carrier: string };
    await tx.sql`insert into shipped_count values (${carrier}, 1)
                 on conflict (carrier) do update set n = shipped_count.n + 1`;
  },
  async reset(tx) {
    await tx.query("delete from shipped_count");
  },
};
daemon.register("shipped_count", shippedCount);

// Each order is its own stream; the projections group by customer across streams.
const orders = [
  { orderId: "o-1", customerId: "ada", amount: 40 },
  { orderId: "o-2", customerId: "grace", amount: 25 },
  { orderId: "o-3", customerId: "ada", amount: 15 },
];
for (const order of orders) {
  const stream = crypto.randomUUID();
  await store.events.append(stream, Expected.noStream, [event("OrderPlaced", order)]);
  if (order.orderId !== "o-2") {
    await store.events.append(stream, Expected.exact(1), [
      event("OrderShipped", { ...order, carrier: "post" }),
    ]);
  }
}

const { applied } = await daemon.runUntilIdle();
console.log(`Applied ${applied} event(s).`);
for (const status of await daemon.list()) {
  console.log(
    `  ${status.name}: ${status.state}, checkpoint ${status.checkpoint}, lag ${status.lag}`,
  );
}

console.log("order_totals:", await orderTotals.read(store));
for (const { id, state } of await customerActivity.read(store)) {
  console.log(`customer_activity ${id}:`, state);
}
