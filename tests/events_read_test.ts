import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { event, Expected, type Store } from "../mod.ts";
import { countingEvents } from "./_counting.ts";

async function streamOf(store: Store, count: number, type = "E"): Promise<string> {
  const s = crypto.randomUUID();
  for (let done = 0; done < count; done += 10_000) {
    const batch = Array.from(
      { length: Math.min(10_000, count - done) },
      (_, i) => event(type, { n: done + i + 1 }),
    );
    await store.events.append(s, Expected.any, batch);
  }
  return s;
}

testBoth("readStream reads a range forward or backward with a limit", async (store) => {
  const s = await streamOf(store, 10);
  const seqs = async (options: Parameters<Store["events"]["readStream"]>[1]) =>
    (await store.events.readStream(s, options)).map((e) => e.streamSeq);
  assertEquals(await seqs({}), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assertEquals(await seqs({ fromVersion: 4, toVersion: 6 }), [4, 5, 6]);
  assertEquals(await seqs({ fromVersion: 8 }), [8, 9, 10]);
  assertEquals(await seqs({ limit: 2 }), [1, 2]);
  assertEquals(await seqs({ direction: "backward" }), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  assertEquals(await seqs({ direction: "backward", limit: 3 }), [10, 9, 8]);
  assertEquals(await seqs({ direction: "backward", fromVersion: 2, toVersion: 5 }), [5, 4, 3, 2]);
  assertEquals(await seqs({ fromVersion: 7, toVersion: 3 }), []);
  assertEquals(await seqs({ limit: 0 }), []);
  assertEquals(await store.events.readStream(crypto.randomUUID()), []);
  assertEquals((await store.events.readStream(s, { fromVersion: 10 }))[0]!.data, { n: 10 });
  await assertRejects(() => store.events.readStream(s, { fromVersion: -1 }), RangeError);
  await assertRejects(() => store.events.readStream(s, { limit: 1.5 }), RangeError);
  await assertRejects(
    () => store.events.readStream(s, { direction: "sideways" as never }),
    TypeError,
    "direction",
  );
  await assertRejects(() => store.events.readStream("x"), TypeError, "stream id");
});

testBoth("iterators page through 100,000 events, one batch in memory at a time", async (store) => {
  const s = await streamOf(store, 100_000);
  const other = await streamOf(store, 3, "Other");
  const { events, stats } = countingEvents(store);

  let expected = 1;
  for await (const e of events.iterateStream(s, { batchSize: 1_000 })) {
    assertEquals(e.streamSeq, expected++);
  }
  assertEquals(expected, 100_001);
  assertEquals(stats.queries, 101, "100 full pages and one empty page");
  assertEquals(stats.maxRows, 1_000);

  stats.queries = 0;
  stats.maxRows = 0;
  let count = 0;
  let last = 0;
  for await (const e of events.iterateAll({ batchSize: 4_096, eventTypes: ["E"] })) {
    assert(e.globalSeq > last, "ascending positions");
    last = e.globalSeq;
    count++;
  }
  assertEquals(count, 100_000);
  // Each page: one watermark query and one read; 25 pages (the last one short).
  assertEquals(stats.queries, 2 * 25);
  assertEquals(stats.maxRows, 4_096);
  assertEquals((await Array.fromAsync(events.iterateAll({ after: last }))).map((e) => e.streamId), [
    other,
    other,
    other,
  ]);
});

testBoth("iterators fetch lazily: breaking early reads one page", async (store) => {
  const s = await streamOf(store, 50);
  const { events, stats } = countingEvents(store);
  for await (const e of events.iterateStream(s, { batchSize: 10, fromVersion: 5 })) {
    assertEquals(e.streamSeq, 5);
    break;
  }
  assertEquals(stats.queries, 1);
  assertEquals(stats.maxRows, 10);
  const seen = [];
  for await (const e of events.iterateAll({ batchSize: 10 })) {
    seen.push(e.streamSeq);
    if (seen.length === 12) break;
  }
  assertEquals(seen, Array.from({ length: 12 }, (_, i) => i + 1));
  assertEquals(stats.queries, 1 + 2 * 2);
  assertThrows(() => events.iterateStream(s, { batchSize: 0 }), RangeError, "batchSize");
  assertThrows(() => events.iterateAll({ after: -1 }), RangeError, "after");
  assertThrows(() => events.iterateAll({ eventTypes: "E" as never }), TypeError, "eventTypes");
  assertEquals(stats.queries, 5, "bad options fail before any query");
});

testBoth("readAll filters by type and pages by position", async (store) => {
  const a = await streamOf(store, 3, "A");
  await streamOf(store, 2, "B");
  const all = await store.events.readAll();
  assertEquals(all.map((e) => e.type), ["A", "A", "A", "B", "B"]);
  assertEquals((await store.events.readAll({ eventTypes: ["B"] })).map((e) => e.type), ["B", "B"]);
  assertEquals(
    (await store.events.readAll({ after: all[1]!.globalSeq, limit: 2 })).map((e) => e.globalSeq),
    [all[2]!.globalSeq, all[3]!.globalSeq],
  );
  assertEquals(await store.events.readAll({ limit: 0 }), []);
  assertEquals((await store.events.readAll({ eventTypes: [] })).length, 0);
  assertEquals(all[0]!.streamId, a);
  await assertRejects(() => store.events.readAll({ limit: -1 }), RangeError);
});
