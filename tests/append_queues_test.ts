/**
 * `Expected.any` appends (no key, no category) to one stream queue behind the
 * one in flight and go together, as one statement, when it returns
 * (docs/internals/append.md): each caller still gets its own result, one
 * caller's bad data fails no other, and a stream held by another transaction
 * holds back no other stream.
 */
import { assert, assertEquals } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, testBoth, testServer } from "./_backends.ts";
import { event, Expected, RillflowError, Store } from "../mod.ts";
import { openAppend } from "./_out_of_order.ts";
import { contextOf } from "../src/_context.ts";
import { appendWork, countingEvents } from "./_counting.ts";

testBoth(
  "appends queued behind one in flight go together, each with its own result",
  async (store) => {
    const { events, stats } = countingEvents(store);
    const stream = crypto.randomUUID();
    const batches = Array.from({ length: 12 }, (_, i) => i % 3 === 0 ? ["A", "B", "C"] : ["A"]);
    const results = await Promise.all(batches.map((types, i) =>
      events.append(
        stream,
        Expected.any,
        types.map((type, k) => event(type, { i, k }, k === 1 ? { metadata: { k } } : {})),
        { headers: { i }, causationId: `c${i}` },
      )
    ));
    const read = await store.events.readStream(stream);
    assertEquals(read.map((e) => e.streamSeq), read.map((_, i) => i + 1), "gapless");
    for (const [i, result] of results.entries()) {
      const mine = read.filter((e) => (e.data as { i: number }).i === i);
      assertEquals(mine.map((e) => e.type), batches[i], `append ${i} in order`);
      assertEquals(mine.map((e) => e.globalSeq), result.globalSeqs);
      assertEquals(result.streamVersion, mine.at(-1)!.streamSeq);
      assertEquals(mine.map((e) => [e.headers.i, e.causationId]), mine.map(() => [i, `c${i}`]));
    }
    assertEquals(read.find((e) => e.type === "B")!.headers, { i: 0, k: 1 }, "event metadata kept");
    const inserts = appendWork(stats).filter((t) => t.includes("insert into")).length;
    assertEquals(inserts, 2, "the first append, then the eleven queued behind it");
  },
);

testBoth("one failing append among queued ones fails alone", async (store) => {
  const { executor, table, schema } = contextOf(store);
  await executor.query(`create function "${schema}".refuse() returns trigger language plpgsql as
    $$ begin if new.data ? 'refuse' then raise exception 'refused'; end if; return new; end $$`);
  await executor.query(`create trigger refuse before insert on ${table("events")}
    for each row execute function "${schema}".refuse()`);
  const stream = crypto.randomUUID();
  const outcomes = await Promise.allSettled(
    Array.from(
      { length: 6 },
      (_, i) =>
        store.events.append(stream, Expected.any, [event("E", i === 3 ? { refuse: true } : { i })]),
    ),
  );
  const failed = outcomes.flatMap((o, i) => o.status === "rejected" ? [i] : []);
  assertEquals(failed, [3], "only the refused append fails");
  const failure = (outcomes[3] as PromiseRejectedResult).reason;
  assert(failure instanceof RillflowError && failure.code === "DATABASE_ERROR", String(failure));
  const read = await store.events.readStream(stream);
  assertEquals(read.map((e) => (e.data as { i: number }).i).sort(), [0, 1, 2, 4, 5]);
  assertEquals(read.map((e) => e.streamSeq), [1, 2, 3, 4, 5]);
});

testBoth(
  "Expected.any is one statement, for a new stream as for one with events",
  async (store) => {
    const { events, stats } = countingEvents(store);
    const stream = crypto.randomUUID();
    for (const version of [1, 2, 3]) {
      const before = appendWork(stats).length;
      const result = await events.append(stream, Expected.any, [event("C", {})]);
      assertEquals(result.streamVersion, version);
      assertEquals(appendWork(stats).length - before, 1);
    }
  },
);

testServer("a stream held by another transaction holds back no other stream", async (url) => {
  const store = await Store.connect(url, { schema: freshSchema(), autoMigrate: true });
  const release = Promise.withResolvers<void>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // Other transactions hold the first events of `taken` open: appends to them wait.
    const taken = [crypto.randomUUID(), crypto.randomUUID()];
    const open = taken.map((stream) => openAppend(store, stream, release.promise));
    await Promise.all(open.map((o) => o.appended));
    let settled = 0;
    const waiting = taken.map((stream) =>
      store.events.append(stream, Expected.any, [event("Mine", {})]).finally(() => settled++)
    );
    const others = Promise.all(
      Array.from(
        { length: 3 },
        () => store.events.append(crypto.randomUUID(), Expected.any, [event("New", {})]),
      ),
    );
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("other streams wait for the blocked ones")), 5000);
    });
    const results = await Promise.race([others, stuck]);
    assertEquals(results.map((r) => r.streamVersion), [1, 1, 1]);
    assertEquals(settled, 0, "the appends to the taken streams still wait");
    release.resolve();
    await Promise.all(open.map((o) => o.committed));
    assertEquals((await Promise.all(waiting)).map((r) => r.streamVersion), [2, 2]);
  } finally {
    clearTimeout(timer);
    release.resolve();
    await dropSchemaAndClose(store);
  }
});

testBoth(
  "a stream id in capitals names the same queue",
  async (store) => {
    const { events, stats } = countingEvents(store);
    const lower = crypto.randomUUID();
    const upper = lower.toUpperCase();
    await events.append(upper, Expected.any, [event("A", {})]);
    const before = appendWork(stats).length;
    const second = await events.append(lower, Expected.any, [event("B", {})]);
    assertEquals(second.streamVersion, 2);
    assertEquals(appendWork(stats).length - before, 1);
    // Concurrent appends behind one in flight go together whatever the ids' case.
    const sent = appendWork(stats).length;
    const results = await Promise.all(
      [upper, lower, upper, lower, upper].map((id, i) =>
        events.append(id, Expected.any, [event("C", { i })])
      ),
    );
    assertEquals(appendWork(stats).length - sent, 2, "one append, then the four queued behind it");
    assertEquals(new Set(results.map((r) => r.streamVersion)), new Set([3, 4, 5, 6, 7]));
    assertEquals(await store.events.streamVersion(upper), 7);
  },
);
