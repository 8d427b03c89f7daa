import { assert, assertEquals } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, testBoth, testServer } from "./_backends.ts";
import { event, eventsChannel, Expected, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import type { Executor } from "../src/db/executor.ts";

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Counts the notifications for `schema` on the events channel. */
async function listen(executor: Executor, schema: string) {
  const received: string[] = [];
  const listener = await executor.listen(eventsChannel, (payload) => {
    if (payload === schema) received.push(payload);
  });
  return { received, unlisten: () => listener.unlisten() };
}

testBoth("appends are announced on the events channel after they commit", async (store) => {
  const { executor, schema } = contextOf(store);
  const { received, unlisten } = await listen(executor, schema);
  try {
    await store.events.append(crypto.randomUUID(), Expected.any, [event("A", {})]);
    await until(() => received.length === 1, "the first notification");
    // A burst is coalesced, and the last append is still announced after it committed.
    for (let i = 0; i < 30; i++) {
      await store.events.append(crypto.randomUUID(), Expected.any, [event("B", {})]);
    }
    const before = received.length;
    await until(() => received.length > before, "a notification after the burst's last append");
    assert(received.length <= 31, `${received.length} notifications for 31 appends`);
    assertEquals(eventsChannel, "rillflow_events");
  } finally {
    await unlisten();
  }
});

testServer("closing a store sends the notification it was coalescing", async (url) => {
  const schema = freshSchema();
  const listening = await Store.connect(url, { schema, autoMigrate: true });
  const { received, unlisten } = await listen(contextOf(listening).executor, schema);
  try {
    const writer = await Store.connect(url, { schema });
    await writer.events.append(crypto.randomUUID(), Expected.any, [event("A", {})]);
    await until(() => received.length === 1, "the first notification");
    // Within the interval: coalesced behind a timer, which close() must not drop.
    await writer.events.append(crypto.randomUUID(), Expected.any, [event("B", {})]);
    await writer.close();
    await until(() => received.length === 2, "the flushed notification");
  } finally {
    await unlisten();
    await dropSchemaAndClose(listening);
  }
});
