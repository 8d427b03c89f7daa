import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { planOf } from "./_explain.ts";
import {
  type CompiledQuery,
  type DocumentQuery,
  Predicate,
  RillflowError,
  SchemaConfig,
} from "../mod.ts";
import { compiledSqlBuilds } from "../src/query/compiled.ts";

type Customer = { name: string; tier: string; age: number };
type Order = { customerId: string; total: number; lines?: string[] };

class CustomersOfTier implements CompiledQuery<Customer> {
  constructor(readonly tier: string, readonly minAge: number) {}
  configure(q: DocumentQuery<unknown>): DocumentQuery<Customer> {
    return (q as DocumentQuery<Customer>).filter(Predicate.eq("tier", this.tier))
      .filter(Predicate.ge("age", this.minAge)).orderBy("age");
  }
}

testBoth("a compiled query builds its SQL once across many calls", async (store) => {
  const customers = store.docs<Customer>("customers");
  await customers.bulkInsert(Array.from({ length: 30 }, (_, i) => ({
    id: crypto.randomUUID(),
    doc: { name: `c${i}`, tier: ["free", "pro", "vip"][i % 3]!, age: 18 + i },
  })));
  const before = compiledSqlBuilds(CustomersOfTier);
  for (let i = 0; i < 25; i++) {
    const tier = ["free", "pro", "vip"][i % 3]!;
    const got = await customers.executeCompiled(new CustomersOfTier(tier, 18 + i));
    const expected = await customers.query().filter(Predicate.eq("tier", tier))
      .filter(Predicate.ge("age", 18 + i)).orderBy("age").fetchAll();
    assertEquals(got, expected, `call ${i} binds its own values`);
  }
  assertEquals(compiledSqlBuilds(CustomersOfTier) - before, 1);
  await assertRejects(() => customers.executeCompiled({} as never), TypeError);
  await assertRejects(
    () => customers.executeCompiled({ configure: () => "nope" } as never),
    TypeError,
  );
});

testBoth(
  "full-text search finds stemmed words, ranks results and uses the GIN index",
  async (store) => {
    const notes = store.docs<{ title: string; body: string }>("notes");
    const rows = [
      { title: "Running shoes", body: "Shoes for running on roads" },
      { title: "Cooking", body: "A recipe with one mention of runs" },
      { title: "Gardening", body: "Plants and soil" },
    ];
    await notes.bulkInsert(rows.map((doc) => ({ id: crypto.randomUUID(), doc })));
    const found = await notes.query().search("run").fetchAll();
    assertEquals(found.map((n) => n.title), ["Running shoes", "Cooking"], "best match first");
    assertEquals(await notes.query().search("plant soil").count(), 1);
    assertEquals(await notes.query().search('"on roads"').count(), 1);
    assertEquals(await notes.query().search("run -recipe").count(), 1);
    const plan = await planOf(store, notes.query().search("run").toSql());
    assert(plan.includes("notes_search"), plan);
    const simple = await notes.query().search("running", { language: "simple" }).fetchAll();
    assertEquals(
      simple.map((n) => n.title),
      ["Running shoes"],
      "another language, computed on the fly",
    );
    assertThrows(() => notes.query().search("x", { language: "en'; drop" }), TypeError);
  },
);

testBoth("the search language of a collection can be configured", async (store) => {
  await store.schema.sync(SchemaConfig.singleTenant().withSearchLanguage("notes", "simple"));
  const notes = store.docs<{ body: string }>("notes");
  await notes.put(crypto.randomUUID(), { body: "the running dogs" });
  assertEquals(await notes.query().search("run").count(), 0, "simple does not stem");
  assertEquals(await notes.query().search("running").count(), 1);
  assertEquals(await notes.query().search("dog", { language: "english" }).count(), 1);
  assert((await store.schema.drift()).ok);
});

testBoth("include loads related documents in the same round trip", async (store) => {
  const customers = store.docs<Customer>("customers");
  const orders = store.docs<Order>("orders");
  const [ada, bob, gone] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  await customers.put(ada, { name: "Ada", tier: "pro", age: 36 });
  await customers.put(bob, { name: "Bob", tier: "free", age: 9 });
  await customers.put(gone, { name: "Gone", tier: "free", age: 1 });
  await customers.softDelete(gone);
  await orders.bulkInsert([
    { id: crypto.randomUUID(), doc: { customerId: ada, total: 10 } },
    { id: crypto.randomUUID(), doc: { customerId: ada, total: 20 } },
    { id: crypto.randomUUID(), doc: { customerId: gone, total: 30 } },
    { id: crypto.randomUUID(), doc: { customerId: "not-a-uuid", total: 40 } },
  ]);
  const into = new Map<string, Customer>();
  const found = await orders.query().include("customers", "customerId", into).orderBy("total")
    .fetchAll();
  assertEquals(found.map((o) => o.total), [10, 20, 30, 40]);
  assertEquals([...into.keys()], [ada]);
  assertEquals(into.get(ada)?.name, "Ada");
  const page = await orders.query().include("customers", "customerId").filter(
    Predicate.gt("total", 15),
  ).orderBy("total")
    .limit(1).fetchWithIncluded();
  assertEquals(page.docs.map((o) => o.total), [20]);
  assertEquals([...page.included.customers!.keys()], [ada]);
  // Arrays of ids are followed too.
  const tagged = store.docs<{ owners: string[] }>("projects");
  await tagged.put(crypto.randomUUID(), { owners: [ada, bob] });
  const owners = new Map<string, Customer>();
  await tagged.query().include("customers", "owners", owners).fetchAll();
  assertEquals([...owners.values()].map((c) => c.name).sort(), ["Ada", "Bob"]);
  await assertRejects(async () => {
    for await (const _ of orders.query().include("customers", "customerId")) break;
  }, TypeError);
});

testBoth("document history keeps replaced and deleted versions when enabled", async (store) => {
  const plain = store.docs("plain");
  const id = crypto.randomUUID();
  await plain.put(id, { v: 1 });
  assertEquals(await plain.history(id), []);
  await store.schema.sync(SchemaConfig.singleTenant().withHistory("audited"));
  const audited = store.docs<{ v: number }>("audited");
  await audited.put(id, { v: 1 });
  await audited.put(id, { v: 2 });
  await audited.patch(id, 2, "v", 3);
  await audited.delete(id);
  const history = await audited.history(id);
  assertEquals(history.map((h) => [h.version, h.doc.v, h.operation]), [
    [1, 1, "update"],
    [2, 2, "update"],
    [3, 3, "delete"],
  ]);
  assert((await store.schema.drift()).ok);
});

testBoth("bulkInsert loads documents with COPY, all or nothing", async (store) => {
  const docs = store.docs<{ i: number; text?: string }>("bulk");
  const rows = Array.from({ length: 2500 }, (_, i) => ({
    id: crypto.randomUUID(),
    doc: { i, text: i === 7 ? 'tab\there, newline\nthere, back\\slash, "quote", ünïcode ✓' : "x" },
  }));
  assertEquals(await docs.bulkInsert(rows), 2500);
  assertEquals(await docs.query().count(), 2500);
  assertEquals((await docs.get(rows[7]!.id))?.doc, rows[7]!.doc, "COPY escaping round-trips");
  const again = [{ id: crypto.randomUUID(), doc: { i: -1 } }, rows[0]!];
  const error = await assertRejects(() => docs.bulkInsert(again), RillflowError);
  assertEquals(error.code, "DOCUMENT_VERSION_CONFLICT");
  assertEquals(await docs.query().count(), 2500, "nothing from the failed batch");
  await assertRejects(() => docs.bulkInsert([rows[1]!, rows[1]!]), TypeError, "repeats");
  await assertRejects(() => docs.bulkInsert([{ id: "x", doc: { i: 1 } }]), TypeError);
  assertEquals(await docs.bulkInsert([]), 0);
});

testBoth("bulkUpsert inserts and replaces, all or nothing", async (store) => {
  const docs = store.docs<{ i: number }>("bulk");
  const existing = Array.from(
    { length: 1500 },
    (_, i) => ({ id: crypto.randomUUID(), doc: { i } }),
  );
  await docs.bulkInsert(existing);
  const fresh = Array.from(
    { length: 700 },
    (_, i) => ({ id: crypto.randomUUID(), doc: { i: 10_000 + i } }),
  );
  const replaced = existing.map((r) => ({ id: r.id, doc: { i: r.doc.i + 1 } }));
  assertEquals(await docs.bulkUpsert([...replaced, ...fresh]), 2200);
  assertEquals(await docs.query().count(), 2200);
  assertEquals(await docs.get(existing[3]!.id), { doc: { i: 4 }, version: 2 });
  await docs.softDelete(fresh[0]!.id);
  const error = await assertRejects(
    () =>
      docs.bulkUpsert([{ id: existing[0]!.id, doc: { i: -5 } }, {
        id: fresh[0]!.id,
        doc: { i: -5 },
      }]),
    RillflowError,
  );
  assertEquals(error.code, "DOCUMENT_VERSION_CONFLICT");
  assertEquals((await docs.get(existing[0]!.id))?.doc, { i: 1 }, "the batch rolled back");
});
