/**
 * Upcasting end to end: events stored in old shapes read in the current one.
 *
 * - a sync upcaster renames `OrderCreated` v1 to `OrderPlaced` v2 and adds a currency;
 * - an async upcaster brings `OrderPlaced` v2 to v3 by looking up the customer's
 *   region in the documents table (through a read-only handle);
 * - new events appended without a version are stored as v3 and never upcast.
 *
 * Runs on the embedded database (no server needed):
 *
 *   deno run -A examples/upcasting.ts
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test deno run -A examples/upcasting.ts
 */
import {
  type Aggregate,
  AggregateRepository,
  defineUpcaster,
  event,
  Expected,
  Store,
  UpcasterRegistry,
} from "../mod.ts";

interface OrderPlacedV3 {
  orderId: number;
  customerId: string;
  amount: number;
  currency: string;
  region: string;
}

const upcasters = new UpcasterRegistry()
  .register(defineUpcaster({
    fromType: "OrderCreated",
    fromVersion: 1,
    toType: "OrderPlaced",
    toVersion: 2,
    description: "renamed; v1 orders were all in EUR",
    upcast: (data) => ({ ...(data as object), currency: "EUR" }),
  }))
  .registerAsync({
    fromType: "OrderPlaced",
    fromVersion: 2,
    toType: "OrderPlaced",
    toVersion: 3,
    description: "adds the customer's region",
    async upcast(data, db) {
      const { customerId } = data as { customerId: string };
      // search_path is the store's schema; any write here would be rejected.
      const [row] = await db.sql<{ region: string | null }>`
        select doc->>'region' as region from docs where id = ${customerId}::uuid`;
      return { ...(data as object), region: row?.region ?? "unknown" };
    },
  });

const url = Deno.env.get("DATABASE_URL") ?? "pglite://memory";
await using store = await Store.connect(url, { upcasters, autoMigrate: true });

console.log("Upcasters:");
for (const u of upcasters.describe()) {
  console.log(
    `  ${u.fromType} v${u.fromVersion} → ${u.toType} v${u.toVersion} (${
      u.async ? "async" : "sync"
    }): ${u.description}`,
  );
}
console.log(
  "Path:",
  JSON.stringify(upcasters.findPath(["OrderCreated", 1], ["OrderPlaced", 3])),
);

const customerId = crypto.randomUUID();
await store.docs().put(customerId, { name: "Ada", region: "emea" });

// What an older deployment stored: explicit old versions.
const streamId = crypto.randomUUID();
await store.events.append(streamId, Expected.noStream, [
  event("OrderCreated", { orderId: 1, customerId, amount: 10 }, { version: 1 }),
  event("OrderPlaced", { orderId: 2, customerId, amount: 20, currency: "USD" }, { version: 2 }),
]);
// Today's code: no version given, so the current one (3) is stored.
await store.events.append(streamId, Expected.exact(2), [
  event("OrderPlaced", { orderId: 3, customerId, amount: 30, currency: "GBP", region: "apac" }),
]);

console.log("Read back (every read path upcasts):");
for (const e of await store.events.readStream(streamId)) {
  console.log(`  #${e.streamSeq} ${e.type} v${e.eventVersion} ${JSON.stringify(e.data)}`);
}

// Aggregates fold upcast events too.
const Totals: Aggregate<{ orders: number; byCurrency: Record<string, number> }> = {
  name: "order_totals",
  initialState: () => ({ orders: 0, byCurrency: {} }),
  evolve(state, e) {
    if (e.type !== "OrderPlaced") return state;
    const { amount, currency } = e.data as OrderPlacedV3;
    return {
      orders: state.orders + 1,
      byCurrency: { ...state.byCurrency, [currency]: (state.byCurrency[currency] ?? 0) + amount },
    };
  },
};
const totals = await new AggregateRepository(store, Totals).load(streamId);
console.log("Aggregate:", JSON.stringify(totals));
