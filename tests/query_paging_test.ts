import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { Predicate, RillflowError } from "../mod.ts";

type Item = { n?: number | string | null; group: string; label?: string };

testBoth("orderBy sorts numbers as numbers, missing fields last, ties by id", async (store) => {
  const items = store.docs<Item>("items");
  const values: Array<number | string | null | undefined> = [10, 9, 100, -1, 2.5, undefined, null];
  await items.bulkInsert(values.map((n, i) => ({
    id: crypto.randomUUID(),
    doc: n === undefined ? { group: "g", label: `l${i}` } : { n, group: "g", label: `l${i}` },
  })));
  const asc = await items.query().orderBy("n").fetchAll();
  assertEquals(asc.map((d) => d.n), [null, -1, 2.5, 9, 10, 100, undefined]);
  const desc = await items.query().orderBy("n", "desc").fetchAll();
  assertEquals(desc.map((d) => d.n), [undefined, 100, 10, 9, 2.5, -1, null]);
  assertThrows(() => items.query().orderBy("n", "sideways" as never), TypeError);
});

testBoth("pages are stable and complete with ordering", async (store) => {
  const items = store.docs<Item>("items");
  // Many ties on the sort key: paging must still neither repeat nor skip.
  await items.bulkInsert(Array.from({ length: 53 }, (_, i) => ({
    id: crypto.randomUUID(),
    doc: { n: i % 4, group: i % 2 ? "odd" : "even", label: `l${i}` },
  })));
  const seen: string[] = [];
  for (let page = 1; page <= 6; page++) {
    const rows = await items.query().orderBy("n", "desc").page(page, 10).fetchAll();
    assertEquals(rows.length, page === 6 ? 3 : 10);
    seen.push(...rows.map((r) => r.label!));
  }
  assertEquals(new Set(seen).size, 53);
  const all = await items.query().orderBy("n", "desc").fetchAll();
  assertEquals(seen, all.map((r) => r.label!), "pages concatenate to the full ordering");
  assertEquals((await items.query().offset(50).fetchAll()).length, 3);
  assertEquals(await items.query().filter(Predicate.eq("group", "odd")).count(), 26);
  assertEquals(await items.query().limit(5).count(), 5);
  assertEquals(await items.query().page(6, 10).count(), 3);
  assert(await items.query().filter(Predicate.eq("n", 3)).exists());
  assert(!(await items.query().filter(Predicate.eq("n", 7)).exists()));
  assertThrows(() => items.query().page(0, 10), RangeError);
  assertThrows(() => items.query().limit(-1), RangeError);
});

testBoth("fetchOne and fetchFirst edge cases", async (store) => {
  const items = store.docs<Item>("items");
  const none = await assertRejects(() => items.query().fetchOne(), RillflowError);
  assertEquals(none.code, "DOCUMENT_NOT_FOUND");
  assertEquals(await items.query().fetchFirst(), null);
  await items.put(crypto.randomUUID(), { n: 1, group: "a" });
  assertEquals((await items.query().fetchOne()).n, 1);
  await items.put(crypto.randomUUID(), { n: 2, group: "a" });
  const many = await assertRejects(() => items.query().fetchOne(), RillflowError);
  assertEquals(many.code, "INVALID_INPUT");
  assertEquals((await items.query().orderBy("n", "desc").fetchFirst())?.n, 2);
  assertEquals((await items.query().filter(Predicate.eq("n", 2)).fetchOne()).n, 2);
  assertEquals(await items.query().filter(Predicate.eq("n", 3)).fetchFirst(), null);
});

testBoth("selectFields returns the chosen paths under new names", async (store) => {
  const items = store.docs("items");
  await items.put(crypto.randomUUID(), { n: 1, profile: { name: "Ada" }, list: [7, 8] });
  const rows = await items.query().selectFields({
    who: "profile.name",
    second: "list[1]",
    none: "x.y",
  })
    .fetchAll();
  assertEquals(rows, [{ who: "Ada", second: 8, none: null }]);
});

testBoth("the async iterator streams every document in batches, in order", async (store) => {
  const items = store.docs<Item>("items");
  await items.bulkInsert(Array.from({ length: 230 }, (_, i) => ({
    id: crypto.randomUUID(),
    doc: i % 10 === 0 ? { group: "x", label: `l${i}` } : { n: i % 7, group: "x", label: `l${i}` },
  })));
  const expected = (await items.query().orderBy("n", "desc").orderBy("label").fetchAll())
    .map((d) => d.label);
  const streamed: string[] = [];
  for await (
    const doc of items.query().orderBy("n", "desc").orderBy("label").iterate({ batchSize: 17 })
  ) {
    streamed.push(doc.label!);
  }
  assertEquals(streamed, expected);
  const byId: string[] = [];
  for await (const doc of items.query()) byId.push(doc.label!);
  assertEquals(byId.length, 230);
  const limited: string[] = [];
  for await (
    const doc of items.query().orderBy("label").offset(5).limit(40).iterate({ batchSize: 16 })
  ) {
    limited.push(doc.label!);
  }
  assertEquals(
    limited,
    (await items.query().orderBy("label").offset(5).limit(40).fetchAll()).map((d) => d.label!),
  );
});
