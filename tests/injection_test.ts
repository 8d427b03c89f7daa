/**
 * Hostile input through every door of the document store: ids, collection
 * names, paths, sort fields, values and search text. Values and paths are
 * bound parameters, identifiers are validated: every table survives and each
 * bad identifier is a typed error.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { DuplicatedField, Predicate, SchemaConfig, type Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

const HOSTILE = [
  "'; drop table docs; --",
  `"; drop table docs; --`,
  "') or 1=1; --",
  "\\'; drop table docs; --",
  "back\\slash\\",
  "$1::text",
  "$$; drop table docs; $$",
  "ünï©ødé ✓ 🚀",
  "\u2028line\u2029",
  "x' || pg_sleep(5) || '",
];

async function tableNames(store: Store): Promise<string[]> {
  const { executor, schema } = contextOf(store);
  const rows = await executor.query<{ t: string }>(
    "select tablename as t from pg_tables where schemaname = $1 order by 1",
    [schema],
  );
  return rows.map((r) => r.t);
}

testBoth(
  "hostile values, paths, sort fields and search text are data, never SQL",
  async (store) => {
    const docs = store.docs<Record<string, unknown>>();
    await docs.put(crypto.randomUUID(), { seed: true });
    const before = await tableNames(store);
    for (const text of HOSTILE) {
      const id = crypto.randomUUID();
      // The text as a value, as a key (path), and nested.
      await docs.put(id, { value: text, [text]: text, nested: { [text]: [text] } });
      await docs.patch(id, null, text, text);
      await docs.patch(id, null, `nested.${text}`, { inner: text });
      await docs.appendTo(id, null, `list`, text);
      await docs.renameField(id, null, "value", text.replaceAll(".", "_"));
      const byValue = await docs.query().filter(Predicate.eq(text, text)).fetchAll();
      assertEquals(byValue.length, 1, `eq through a hostile path and value: ${text}`);
      for (
        const p of [
          Predicate.ne(text, text),
          Predicate.gt(text, text),
          Predicate.in(text, [text, 1]),
          Predicate.contains(`nested.${text}`, { inner: text }),
          Predicate.exists(text),
          Predicate.regex(text, text.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")),
          Predicate.iregex("value", text.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")),
          Predicate.between(text, text, text),
        ]
      ) {
        await docs.query().filter(p).orderBy(text, "desc").orderBy(`nested.${text}`).fetchAll();
      }
      await docs.query().search(text).count();
      await docs.query().selectFields({ [text]: text }).fetchAll();
      await docs.query().include("docs", text).fetchAll();
      const stored = (await docs.get(id))!.doc;
      assertEquals(stored[text], text);
      assertEquals((stored.nested as Record<string, unknown>)[text], { inner: text });
    }
    assertEquals(await tableNames(store), before, "every table still exists");
    assertEquals(await docs.query().count(), HOSTILE.length + 1);
  },
);

testBoth("hostile ids and identifiers are typed errors and change nothing", async (store) => {
  const before = await tableNames(store);
  for (const text of HOSTILE) {
    await assertRejects(() => store.docs().put(text, {}), TypeError);
    await assertRejects(() => store.docs().get(text), TypeError);
    await assertRejects(() => store.docs().delete(text), TypeError);
    assertThrows(() => store.docs(text), TypeError, "collection name");
    assertThrows(() => store.docs().query().include(text, "x"), TypeError, "collection name");
    assertThrows(() => store.docs().query().orderBy("x", text as never), TypeError, "direction");
    assertThrows(() => store.docs().query().search("x", { language: text }), TypeError);
    assertThrows(() => new DuplicatedField("a", text, "text"), TypeError);
    assertThrows(() => new DuplicatedField("a", "a", text as never), TypeError);
    assertThrows(() => new DuplicatedField("a", "a", "text").withTransform(text), TypeError);
    assertThrows(() => SchemaConfig.singleTenant().addCollection(text), TypeError);
    assertThrows(() => store.session().store(text, crypto.randomUUID(), {}), TypeError);
  }
  assertThrows(() => Predicate.eq("a.b..c", 1), TypeError, "JSON path");
  assertThrows(() => Predicate.eq("a[1", 1), TypeError, "JSON path");
  assertEquals(await tableNames(store), before);
  assertEquals(await store.docs().query().count(), 0);
});

testBoth("a duplicated field on a hostile path keeps the path as data", async (store) => {
  const path = 'it\'s "odd"\\.still';
  await store.schema.sync(
    SchemaConfig.singleTenant().addDuplicatedField(
      "docs",
      new DuplicatedField(path, "odd", "text"),
    ),
  );
  const docs = store.docs<Record<string, unknown>>();
  await docs.put(crypto.randomUUID(), { [`it's "odd"\\`]: { still: "'; drop table docs; --" } });
  const found = await docs.query().filter(Predicate.eq(path, "'; drop table docs; --")).fetchAll();
  assertEquals(found.length, 1);
  assert(docs.query().filter(Predicate.eq(path, "x")).toSql().text.includes(`d."odd"`));
  assert((await tableNames(store)).includes("docs"));
});
