import { assert, assertEquals } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, testBoth, testServer } from "./_backends.ts";
import { event, eventsChannel, Expected, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import type { Executor } from "../src/db/executor.ts";
import { LISTENERS_RECHECK_MS } from "../src/events/notify.ts";
import { countingEvents } from "./_counting.ts";
import postgres from "postgres";

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

testServer(
  "appends send no notification while nobody listens, and do again once someone does",
  async (url) => {
    // A database of its own: other test files' listeners must not be seen.
    const database = freshSchema("notify");
    const admin = await Store.connect(url, { schema: freshSchema() });
    const { executor: adminSql } = contextOf(admin);
    await adminSql.query(`create database ${database}`);
    const own = new URL(url);
    own.pathname = `/${database}`;
    const store = await Store.connect(own.href, { schema: "public", autoMigrate: true });
    const { events, stats } = countingEvents(store);
    const notifies = () => stats.texts.filter((t) => t.includes("pg_notify")).length;
    const checks = () => stats.texts.filter((t) => t.includes("pg_stat_activity")).length;
    const append = () => events.append(crypto.randomUUID(), Expected.any, [event("A", {})]);
    const received: string[] = [];
    const outsider = postgres(own.href, {
      max: 1,
      onnotice: () => {},
      onnotify: (_: string, payload: string) => received.push(payload),
    } as postgres.Options<Record<string, never>>);
    try {
      // Not known yet: the first append notifies and asks whether anybody listens.
      await append();
      await until(() => checks() === 1 && notifies() === 1, "the first notification and check");
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (let i = 0; i < 20; i++) await append();
      assertEquals(notifies(), 1, "nobody listens: later appends send nothing");
      // Another process starts listening; within the recheck interval appends announce again.
      await outsider.unsafe(`listen "${eventsChannel}"`);
      const deadline = Date.now() + 5 * LISTENERS_RECHECK_MS;
      while (received.length === 0 && Date.now() < deadline) {
        await append();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assertEquals(received[0], "public");
    } finally {
      await outsider.end();
      await store.close();
      await adminSql.query(`drop database ${database} with (force)`);
      await dropSchemaAndClose(admin);
    }
  },
);
