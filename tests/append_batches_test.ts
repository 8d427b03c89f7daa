/**
 * The events of one append travel in one statement whatever their number:
 * whatever their data, headers, types and versions, each is stored as given.
 */
import { assertEquals } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { event, Expected } from "../mod.ts";

testBoth("batches carry any JSON data and headers unchanged", async (store) => {
  // Data that an array literal would have to escape, and values that are not objects.
  const datas: unknown[] = [
    { s: 'a","b\\"]', t: "}{][,\n\t", u: "ü 😀 \u2028" },
    [1, [2, [3]], { "": null }],
    "a plain string",
    42.5,
    null,
    true,
    { big: 12345678901234567890, tiny: 1e-300, neg: -0 },
  ];
  const expected = JSON.parse(JSON.stringify(datas));
  const events = (tag: string) =>
    datas.map((data, i) => event("Odd", data, i % 2 ? { metadata: { tag, i } } : {}));
  const shared = crypto.randomUUID();
  await store.events.append(shared, Expected.noStream, datas.map((d) => event("Odd", d)), {
    headers: { h: '"]' },
  });
  const mixed = crypto.randomUUID();
  await store.events.append(mixed, Expected.noStream, events("mixed"));
  // Concurrent Expected.any appends to one stream are sent as one combined statement.
  const combined = crypto.randomUUID();
  await Promise.all(
    [0, 1, 2].map((n) => store.events.append(combined, Expected.any, events(`c${n}`))),
  );
  const read = (s: string) => store.events.readStream(s);
  assertEquals(
    (await read(shared)).map((e) => [e.data, e.headers]),
    expected.map((d: unknown) => [d, { h: '"]' }]),
  );
  assertEquals(
    (await read(mixed)).map((e) => [e.data, e.headers]),
    expected.map((d: unknown, i: number) => [d, i % 2 ? { tag: "mixed", i } : {}]),
  );
  const all = await read(combined);
  assertEquals(all.length, 3 * datas.length);
  assertEquals(all.map((e) => e.streamSeq), all.map((_, i) => i + 1));
  for (let n = 0; n < 3; n++) {
    const mine = all.filter((e) => e.headers.tag === `c${n}`);
    assertEquals(mine.length, Math.floor(datas.length / 2), "every tagged event of one call");
  }
  assertEquals(all.map((e) => e.data), [...expected, ...expected, ...expected]);
});

testBoth("each event of a batch keeps its type and version, shared or not", async (store) => {
  // A batch of one type and version sends them once; any difference sends them per event.
  const cases: Array<[string, Array<[string, number]>]> = [
    ["uniform", [["A", 2], ["A", 2], ["A", 2]]],
    ["types differ", [["A", 1], ["B", 1], ["A", 1]]],
    ["versions differ", [["A", 1], ["A", 1], ["A", 3]]],
  ];
  for (const [name, events] of cases) {
    const batch = events.map(([type, version], i) => event(type, { i }, { version }));
    for (const options of [{}, { causationId: "c" }, { headers: { h: 1 } }]) {
      const s = crypto.randomUUID();
      await store.events.append(s, Expected.noStream, batch, options);
      // Per-event metadata takes the shape with per-event headers.
      await store.events.append(s, Expected.exact(3), [
        ...batch.slice(0, 2),
        event(events[2]![0], { i: 2 }, { version: events[2]![1], metadata: { m: 1 } }),
      ]);
      const read = await store.events.readStream(s);
      assertEquals(
        read.map((e) => [e.type, e.eventVersion, e.data]),
        [...events, ...events].map(([type, version], i) => [type, version, { i: i % 3 }]),
        `${name} ${JSON.stringify(options)}`,
      );
    }
  }
});
