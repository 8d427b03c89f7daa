import { assert, assertEquals } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, testBoth, testServer } from "./_backends.ts";
import { event, Expected, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { lockStream } from "../src/events/append.ts";
import { lockNamespace } from "../src/events/watermark.ts";

testBoth("appends with advisory locks stay gapless under concurrency", async (store) => {
  const locked = store.events.withAdvisoryLocks();
  const s = crypto.randomUUID();
  await Promise.all(
    Array.from({ length: 16 }, (_, i) => locked.append(s, Expected.any, [event("L", { i })])),
  );
  assertEquals(
    (await locked.readStream(s)).map((e) => e.streamSeq),
    Array.from({ length: 16 }, (_, i) => i + 1),
  );
  assertEquals(await store.events.streamVersion(s), 16);
});

/** Holds the stream's advisory lock in an open transaction until `release` resolves. */
function holdLock(store: Store, streamId: string, release: Promise<void>) {
  const context = contextOf(store);
  const held = Promise.withResolvers<void>();
  const done = context.executor.transaction(async (tx) => {
    await lockStream(tx, context, streamId);
    held.resolve();
    await release;
  });
  done.catch(held.reject);
  return { held: held.promise, done };
}

async function waitingAdvisoryLocks(store: Store): Promise<number> {
  const { executor, schema } = contextOf(store);
  const [row] = await executor.query<{ n: number }>(
    `select count(*)::int as n from pg_locks
      where locktype = 'advisory' and objsubid = 2 and not granted and classid = $1`,
    [lockNamespace(schema)],
  );
  return row!.n;
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

for (const how of ["withAdvisoryLocks()", "session.advisoryLocks"] as const) {
  testServer(`${how}: an append waits for the stream's lock; others do not`, async (url) => {
    const schema = freshSchema();
    const store = await Store.connect(url, {
      schema,
      autoMigrate: true,
      session: { advisoryLocks: how === "session.advisoryLocks" },
    });
    const plain = await Store.connect(url, { schema });
    const gate = Promise.withResolvers<void>();
    try {
      const s = crypto.randomUUID();
      const holder = holdLock(store, s, gate.promise);
      await holder.held;
      const events = how === "withAdvisoryLocks()"
        ? store.events.withAdvisoryLocks()
        : store.events;
      let finished = false;
      const waiting = events.append(s, Expected.any, [event("Waited", {})]).finally(() => {
        finished = true;
      });
      await until(async () => (await waitingAdvisoryLocks(store)) === 1, "the append to queue");
      assert(!finished, "the append must wait for the lock");
      // Without advisory locks, appends to the same stream do not queue behind it.
      const free = await plain.events.append(s, Expected.noStream, [event("First", {})]);
      assertEquals(free.streamVersion, 1);
      // Nor do locked appends to other streams.
      await events.append(crypto.randomUUID(), Expected.any, [event("Elsewhere", {})]);
      assert(!finished);
      gate.resolve();
      await holder.done;
      const result = await waiting;
      // The expectation was checked after the lock: against the latest version.
      assertEquals(result.streamVersion, 2);
      assertEquals((await store.events.readStream(s)).map((e) => e.type), ["First", "Waited"]);
    } finally {
      gate.resolve();
      await plain.close();
      await dropSchemaAndClose(store);
    }
  });
}
