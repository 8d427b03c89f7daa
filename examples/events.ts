/**
 * The event store end to end on the embedded database: appends with expected
 * versions, the builder, idempotency keys, aliases, reads and iterators, the
 * watermark, an inline projection and JSON Schema validation.
 *
 * Run: deno run -A examples/events.ts   (DATABASE_URL=postgres://… for a server)
 */
import { event, EventSchemas, Expected, type Projection, RillflowError, Store } from "../mod.ts";

// An inline projection: runs inside the append's transaction (search_path = the store's
// schema), here keeping a running total per order as a document of the "docs" collection.
const orderTotals: Projection = {
  eventTypes: ["OrderPlaced"],
  async apply(envelope, tx) {
    const { total } = envelope.data as { total: number };
    await tx.sql`insert into docs (id, doc) values (${envelope.streamId}, ${
      JSON.stringify({ total })
    }::jsonb)
      on conflict (id) do update
      set doc = jsonb_build_object('total', (docs.doc->>'total')::numeric + ${total}),
          version = docs.version + 1`;
  },
};

// JSON Schema validation of OrderPlaced v1.
const schemas = new EventSchemas().register("OrderPlaced", 1, {
  type: "object",
  required: ["total"],
  properties: { total: { type: "number", exclusiveMinimum: 0 } },
});

export async function main(url = Deno.env.get("DATABASE_URL") ?? "pglite://memory") {
  await using store = await Store.connect(url, {
    autoMigrate: true,
    projections: { inline: { orderTotals } },
    eventSchemas: schemas,
  });
  // Aliases: a stable UUID per human name, created on first use.
  const orderId = await store.streams.resolve(`orders:${crypto.randomUUID().slice(0, 8)}`);

  // Appends with expected versions.
  const placed = await store.events.append(orderId, Expected.noStream, [
    event("OrderPlaced", { total: 42 }, { metadata: { source: "example" } }),
  ], { headers: { requestId: "r-1" }, correlationId: "checkout-7" });
  console.log("placed at version", placed.streamVersion, "position", placed.globalSeqs[0]);
  console.log("inline projection:", (await store.docs<{ total: number }>().get(orderId))?.doc);
  try {
    // Refused by the unique (stream, version) index: it wrote nothing, but the position it drew
    // is skipped (global positions may have gaps; readers never wait for them).
    await store.events.append(orderId, Expected.noStream, [event("OrderPlaced", { total: 1 })]);
  } catch (error) {
    if (error instanceof RillflowError && error.code === "CONCURRENCY_CONFLICT") {
      console.log("conflict: expected", error.details.expected, "actual", error.details.actual);
    }
  }

  // The builder (immutable) and an idempotency key.
  const paid = store.events.builder(orderId).expected(Expected.exact(1))
    .idempotencyKey(`pay-${orderId}`).push(event("OrderPaid", { amount: 42 }));
  await paid.send();
  try {
    await paid.send(); // a retry: nothing is written
  } catch (error) {
    if (error instanceof RillflowError && error.code === "IDEMPOTENCY_CONFLICT") {
      console.log("already paid; identical retry:", error.details.identical);
    }
  }

  // Schema validation: refused before anything is written.
  try {
    await store.events.append(orderId, Expected.any, [event("OrderPlaced", { total: -5 })]);
  } catch (error) {
    if (error instanceof RillflowError) console.log(error.code, error.message);
  }

  // Reads.
  const history = await store.events.readStream(orderId);
  console.log(history.map((e) => `${e.streamSeq}:${e.type}`).join(" "), history[0]?.headers);
  const [latest] = await store.events.readStream(orderId, { direction: "backward", limit: 1 });
  console.log("latest", latest?.type, "version", await store.events.streamVersion(orderId));
  for await (const envelope of store.events.iterateAll({ batchSize: 100 })) {
    console.log("global", envelope.globalSeq, envelope.type);
  }
  console.log("watermark", (await store.events.watermark()).position);
  console.log("stream", await store.streams.describe(orderId));
}

if (import.meta.main) await main();
