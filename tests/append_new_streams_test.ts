/**
 * An `Expected.any` append to a stream the process has not seen guesses that
 * it starts the stream (docs/events.md). Guessed appends of new streams that
 * arrive while a guess is in flight are sent together, in one statement: each
 * caller still gets its own result, and a statement refused as a whole writes
 * nothing twice.
 */
import { assert, assertEquals } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, testBoth, testServer } from "./_backends.ts";
import { event, Expected, RillflowError, Store } from "../mod.ts";
import { openAppend } from "./_out_of_order.ts";
import { contextOf } from "../src/_context.ts";
import { appendWork, countingEvents } from "./_counting.ts";

/** Checks each result against what was stored: versions from 1, positions as reported. */
async function assertStored(
  store: Store,
  appends: { stream: string; types: string[] }[],
  results: { streamVersion: number; globalSeqs: number[] }[],
  from = 1,
) {
  for (const [i, { stream, types }] of appends.entries()) {
    const read = (await store.events.readStream(stream)).filter((e) => e.streamSeq >= from);
    assertEquals(read.map((e) => e.type), types, `stream ${i}`);
    assertEquals(read.map((e) => e.streamSeq), types.map((_, k) => from + k));
    assertEquals(read.map((e) => e.globalSeq), results[i]!.globalSeqs);
    assertEquals(results[i]!.streamVersion, from + types.length - 1);
  }
}

testBoth("concurrent first appends to new streams go together", async (store) => {
  const { events, stats } = countingEvents(store);
  const appends = Array.from({ length: 40 }, (_, i) => ({
    stream: crypto.randomUUID(),
    types: i % 3 === 0 ? ["A", "B", "C"] : ["A"],
  }));
  const results = await Promise.all(appends.map(({ stream, types }, i) =>
    events.append(
      stream,
      Expected.any,
      types.map((type, k) => event(type, { i, k }, k === 1 ? { metadata: { k } } : {})),
      { headers: { i }, causationId: `c${i}` },
    )
  ));
  await assertStored(store, appends, results);
  const [withMetadata] = await store.events.readStream(appends[0]!.stream, { fromVersion: 2 });
  assertEquals([withMetadata!.headers, withMetadata!.causationId], [{ i: 0, k: 1 }, "c0"]);
  const inserts = appendWork(stats).filter((t) => t.includes("insert into")).length;
  assert(inserts <= 3, `40 first appends took ${inserts} statements`);
});

testBoth("a combined guess that meets a stream with events writes nothing twice", async (store) => {
  const started = crypto.randomUUID();
  await store.events.append(started, Expected.noStream, [event("Old", {})]);
  // A process that has not seen `started` (its own context) guesses it too.
  const { events, stats } = countingEvents(store);
  const first = crypto.randomUUID();
  const inFlight = events.append(first, Expected.any, [event("A", {})]);
  const appends = [
    { stream: crypto.randomUUID(), types: ["A", "B"] },
    { stream: started, types: ["New"] },
    { stream: crypto.randomUUID(), types: ["A"] },
  ];
  const results = await Promise.all(
    appends.map(({ stream, types }) =>
      events.append(stream, Expected.any, types.map((t) => event(t, {})))
    ),
  );
  await inFlight;
  await assertStored(store, [appends[0]!, appends[2]!], [results[0]!, results[2]!]);
  await assertStored(store, [appends[1]!], [results[1]!], 2);
  assertEquals((await store.events.readStream(started)).map((e) => e.type), ["Old", "New"]);
  assertEquals(await store.events.streamVersion(first), 1);
  // The first guess, the three together (refused), each alone, then `started` with its version.
  assertEquals(appendWork(stats).filter((t) => t.includes("insert into")).length, 6);
});

testBoth("one failing guess among concurrent ones fails alone", async (store) => {
  const { executor, table, schema } = contextOf(store);
  await executor.query(`create function "${schema}".refuse() returns trigger language plpgsql as
    $$ begin if new.data ? 'refuse' then raise exception 'refused'; end if; return new; end $$`);
  await executor.query(`create trigger refuse before insert on ${table("events")}
    for each row execute function "${schema}".refuse()`);
  const streams = Array.from({ length: 6 }, () => crypto.randomUUID());
  const outcomes = await Promise.allSettled(
    streams.map((s, i) =>
      store.events.append(s, Expected.any, [event("E", i === 3 ? { refuse: true } : { i })])
    ),
  );
  const failed = outcomes.flatMap((o, i) => o.status === "rejected" ? [i] : []);
  assertEquals(failed, [3], "only the refused append fails");
  const failure = (outcomes[3] as PromiseRejectedResult).reason;
  assert(failure instanceof RillflowError && failure.code === "DATABASE_ERROR", String(failure));
  const versions = await Promise.all(streams.map((s) => store.events.streamVersion(s)));
  assertEquals(versions, [1, 1, 1, 0, 1, 1]);
});

testServer("guesses that wait on other transactions hold back no other stream", async (url) => {
  const store = await Store.connect(url, { schema: freshSchema(), autoMigrate: true });
  const release = Promise.withResolvers<void>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // Other transactions hold the first events of `taken` open: guesses of them wait, and as many
    // as a process sends at once (two) wait for those transactions.
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
      timer = setTimeout(() => reject(new Error("new streams wait for the blocked guesses")), 5000);
    });
    const results = await Promise.race([others, stuck]);
    assertEquals(results.map((r) => r.streamVersion), [1, 1, 1]);
    assertEquals(settled, 0, "the guesses of the taken streams still wait");
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
  "Expected.any guesses a new stream's first version and reads it when the stream has events",
  async (store) => {
    const existing = Array.from({ length: 30 }, () => crypto.randomUUID());
    for (const s of existing) {
      await store.events.append(s, Expected.noStream, [event("A", {}), event("B", {})]);
    }
    // A process that never wrote these streams (its own context, so its own guesses).
    const { events, stats } = countingEvents(store);
    const statements = async (s: string, version: number, batch = [event("C", {})]) => {
      const before = appendWork(stats).length;
      const result = await events.append(s, Expected.any, batch);
      assertEquals(result.streamVersion, version);
      return appendWork(stats).length - before;
    };
    const readsVersion = (text: string) => text.includes("max(stream_seq)");
    const fresh = crypto.randomUUID();
    assertEquals(await statements(fresh, 1), 1, "a new stream: one statement, no version read");
    assert(!readsVersion(appendWork(stats).at(-1)!), "the guessed statement");
    assertEquals(await statements(fresh, 2), 1, "a stream it wrote: the version is read at once");
    assert(readsVersion(appendWork(stats).at(-1)!));
    assertEquals(await statements(existing[0]!, 3), 2, "a missed guess, then the version read");
    assertEquals(await statements(existing[0]!, 4), 1, "now known");
    // Batches are guessed too; a missed one writes none of its events.
    const pair = () => [event("C", {}), event("D", {})];
    assertEquals(await statements(crypto.randomUUID(), 2, pair()), 1, "a batch starts a stream");
    const started = crypto.randomUUID();
    await store.events.append(started, Expected.noStream, [event("A", {})]);
    assertEquals(await statements(started, 3, pair()), 2, "a batch to a stream with events");
    assertEquals((await store.events.readStream(started)).map((e) => e.type), ["A", "C", "D"]);
    // A process whose guesses keep missing stops guessing.
    let doubled = 0;
    for (const s of existing.slice(1)) if (await statements(s, 3) === 2) doubled++;
    assert(doubled <= 4, `${doubled} of 29 appends to streams started elsewhere guessed in vain`);
    const versions = await Promise.all(existing.map((s) => store.events.streamVersion(s)));
    assertEquals(new Set(versions.slice(1)), new Set([3]));
  },
);

testBoth(
  "a stream id in capitals names the same stream to guesses and combined appends",
  async (store) => {
    const { events, stats } = countingEvents(store);
    const lower = crypto.randomUUID();
    const upper = lower.toUpperCase();
    await events.append(upper, Expected.any, [event("A", {})]);
    const before = appendWork(stats).length;
    const second = await events.append(lower, Expected.any, [event("B", {})]);
    assertEquals(second.streamVersion, 2);
    assertEquals(appendWork(stats).length - before, 1, "the stream is known: no guess to miss");
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
