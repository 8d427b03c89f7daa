import { assertEquals, assertRejects } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { RillflowError } from "../mod.ts";

const uuid = () => crypto.randomUUID();

testBoth("patch sets a nested field and keeps its siblings", async (store) => {
  const docs = store.docs("customers");
  const id = uuid();
  await docs.put(id, { email: "a@x", profile: { name: "Ada", age: 30 } });
  assertEquals(await docs.patch(id, 1, "profile.name", "Alicia"), 2);
  assertEquals((await docs.get(id))?.doc, { email: "a@x", profile: { name: "Alicia", age: 30 } });
});

testBoth("patch creates missing intermediate objects and arrays", async (store) => {
  const docs = store.docs();
  const id = uuid();
  await docs.put(id, { a: 1 });
  await docs.patch(id, null, "deep.er.still", true);
  await docs.patch(id, null, "list[0].qty", 2);
  await docs.patch(id, null, "scalar", "x");
  await docs.patch(id, null, "scalar.inner", 1); // a scalar in the way becomes an object
  assertEquals((await docs.get(id))?.doc, {
    a: 1,
    deep: { er: { still: true } },
    list: [{ qty: 2 }],
    scalar: { inner: 1 },
  });
});

testBoth("patch addresses array elements by index", async (store) => {
  const docs = store.docs();
  const id = uuid();
  await docs.put(id, { items: [{ sku: "a", qty: 1 }, { sku: "b", qty: 1 }, { sku: "c", qty: 1 }] });
  await docs.patch(id, 1, "items[2].qty", 5);
  assertEquals((await docs.get(id))?.doc, {
    items: [{ sku: "a", qty: 1 }, { sku: "b", qty: 1 }, { sku: "c", qty: 5 }],
  });
});

testBoth("patchFields applies several paths in one statement and one version", async (store) => {
  const docs = store.docs();
  const id = uuid();
  await docs.put(id, { profile: { name: "Ada" } });
  assertEquals(
    await docs.patchFields(id, null, [["profile.age", 31], ["extra.flag", true], ["n", null]]),
    2,
  );
  assertEquals((await docs.get(id))?.doc, {
    profile: { name: "Ada", age: 31 },
    extra: { flag: true },
    n: null,
  });
  await assertRejects(() => docs.patchFields(id, null, []), TypeError);
});

testBoth("increment, append, remove and rename", async (store) => {
  const docs = store.docs();
  const id = uuid();
  await docs.put(id, { counts: { views: 1.5 }, tags: ["a"], profile: { nick: "ada", age: 3 } });
  await docs.increment(id, 1, "counts.views");
  await docs.increment(id, 2, "counts.likes", 10);
  await docs.appendTo(id, 3, "tags", "b");
  await docs.appendTo(id, 4, "new.list", { x: 1 });
  await docs.removeField(id, 5, "profile.age");
  await docs.removeField(id, 6, "profile.missing");
  assertEquals(await docs.renameField(id, 7, "profile.nick", "nickname"), 8);
  await docs.renameField(id, 8, "profile.absent", "other");
  assertEquals((await docs.get(id))?.doc, {
    counts: { views: 2.5, likes: 10 },
    tags: ["a", "b"],
    new: { list: [{ x: 1 }] },
    profile: { nickname: "ada" },
  });
});

testBoth(
  "patch operations on the wrong JSON type are INVALID_INPUT and change nothing",
  async (store) => {
    const docs = store.docs();
    const id = uuid();
    await docs.put(id, { name: "Ada", tags: "not-an-array" });
    const inc = await assertRejects(() => docs.increment(id, null, "name"), RillflowError);
    assertEquals(inc.code, "INVALID_INPUT");
    const app = await assertRejects(() => docs.appendTo(id, null, "tags", 1), RillflowError);
    assertEquals(app.code, "INVALID_INPUT");
    assertEquals(await docs.get(id), { doc: { name: "Ada", tags: "not-an-array" }, version: 1 });
    await assertRejects(() => docs.increment(id, null, "n", NaN), RangeError);
    await assertRejects(() => docs.renameField(id, null, "tags[0]", "x"), TypeError);
    await assertRejects(() => docs.renameField(id, null, "name", "a.b"), TypeError);
  },
);

testBoth("patch keys may hold spaces, quotes and unicode", async (store) => {
  const docs = store.docs();
  const id = uuid();
  await docs.put(id, {});
  await docs.patch(id, null, "prénom d'usage", "Zoë");
  await docs.patch(id, null, `we"ird\\key.x`, 1);
  assertEquals((await docs.get(id))?.doc, { "prénom d'usage": "Zoë", [`we"ird\\key`]: { x: 1 } });
});
