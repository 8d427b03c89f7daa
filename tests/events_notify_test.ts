import { assert, assertEquals } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, testBoth, testServer } from "./_backends.ts";
import { event, eventsChannel, Expected, parseEventsNotification, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

testBoth("appends are announced on the events channel after they commit", async (store) => {
  const { executor, schema } = contextOf(store);
  const received: Array<{ schema: string; position: number }> = [];
  const listener = await executor.listen(eventsChannel, (payload) => {
    const parsed = parseEventsNotification(payload);
    if (parsed?.schema === schema) received.push(parsed);
  });
  try {
    const first = await store.events.append(crypto.randomUUID(), Expected.any, [event("A", {})]);
    await until(() => received.length > 0, "the first notification");
    assertEquals(received[0], { schema, position: first.globalSeqs[0]! });
    // A burst is coalesced; the last notification carries the last position.
    let last = 0;
    for (let i = 0; i < 30; i++) {
      last = (await store.events.append(crypto.randomUUID(), Expected.any, [event("B", {})]))
        .globalSeqs[0]!;
    }
    await until(() => received.at(-1)?.position === last, "the burst's last position");
    assert(received.length <= 31, `${received.length} notifications for 31 appends`);
    const positions = received.map((r) => r.position);
    assertEquals(positions, [...positions].sort((a, b) => a - b));
  } finally {
    await listener.unlisten();
  }
});

testServer("closing a store sends the notification it was coalescing", async (url) => {
  const schema = freshSchema();
  const listening = await Store.connect(url, { schema, autoMigrate: true });
  const received: number[] = [];
  const listener = await contextOf(listening).executor.listen(eventsChannel, (payload) => {
    const parsed = parseEventsNotification(payload);
    if (parsed?.schema === schema) received.push(parsed.position);
  });
  try {
    const writer = await Store.connect(url, { schema });
    await writer.events.append(crypto.randomUUID(), Expected.any, [event("A", {})]);
    const second = await writer.events.append(crypto.randomUUID(), Expected.any, [event("B", {})]);
    await writer.close();
    await until(() => received.includes(second.globalSeqs[0]!), "the flushed notification");
  } finally {
    await listener.unlisten();
    await dropSchemaAndClose(listening);
  }
});

Deno.test("notification payloads parse to schema and position", () => {
  assertEquals(parseEventsNotification("app_1:42"), { schema: "app_1", position: 42 });
  assertEquals(parseEventsNotification("Bad:1"), null);
  assertEquals(parseEventsNotification("app"), null);
  assertEquals(eventsChannel, "rillflow_events");
});
