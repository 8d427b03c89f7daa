import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { RillflowError, type Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

type Customer = { email: string; tier?: string; profile?: Record<string, unknown> };

const uuid = () => crypto.randomUUID();

async function code(work: () => Promise<unknown>): Promise<string> {
  const error = await assertRejects(work, RillflowError);
  return error.code;
}

async function tableExists(store: Store, name: string): Promise<boolean> {
  const { executor, table } = contextOf(store);
  const [row] = await executor.query<{ ok: boolean }>("select to_regclass($1) is not null as ok", [
    table(name),
  ]);
  return row!.ok;
}

testBoth("put inserts at version 1 and replaces with version + 1", async (store) => {
  const docs = store.docs<Customer>();
  const id = uuid();
  assertEquals(await docs.put(id, { email: "a@x" }), 1);
  assertEquals(await docs.put(id, { email: "b@x" }), 2);
  assertEquals(await docs.put(id, { email: "c@x" }, 2), 3);
  assertEquals(await docs.get(id), { doc: { email: "c@x" }, version: 3 });
  assertEquals(await docs.get(uuid()), null);
  assert(await docs.exists(id));
  assert(!(await docs.exists(uuid())));
});

testBoth("collections other than docs are created on first use", async (store) => {
  assert(!(await tableExists(store, "customers")));
  const customers = store.docs<Customer>("customers");
  const id = uuid();
  await customers.put(id, { email: "a@x" });
  assert(await tableExists(store, "customers"));
  assertEquals((await customers.get(id))?.doc, { email: "a@x" });
  assertEquals(await store.docs().get(id), null, "collections are separate tables");
  // A second store (another cache) on the same schema finds the collection as is.
  const { executor, table } = contextOf(store);
  const [row] = await executor.query<{ n: number }>(
    `select count(*)::int as n from ${table("rillflow_collections")} where name = 'customers'`,
  );
  assertEquals(row?.n, 1);
});

testBoth("concurrent first uses of a collection create it once", async (store) => {
  const ids = Array.from({ length: 8 }, uuid);
  await Promise.all(ids.map((id) => store.docs("orders").put(id, { n: 1 })));
  assertEquals(await store.docs("orders").query().count(), 8);
});

testBoth(
  "stale expected versions are conflicts for put, update, patch and delete",
  async (store) => {
    const docs = store.docs<Customer>();
    const id = uuid();
    await docs.put(id, { email: "a@x" });
    await docs.put(id, { email: "b@x" }); // version 2
    assertEquals(await code(() => docs.put(id, { email: "c@x" }, 1)), "DOCUMENT_VERSION_CONFLICT");
    assertEquals(await code(() => docs.put(id, { email: "c@x" }, 0)), "DOCUMENT_VERSION_CONFLICT");
    assertEquals(
      await code(() => docs.update(id, 1, (d) => void (d.tier = "x"))),
      "DOCUMENT_VERSION_CONFLICT",
    );
    assertEquals(await code(() => docs.patch(id, 1, "tier", "x")), "DOCUMENT_VERSION_CONFLICT");
    assertEquals(await code(() => docs.delete(id, 1)), "DOCUMENT_VERSION_CONFLICT");
    const conflict = await assertRejects(() => docs.put(id, { email: "c@x" }, 1), RillflowError);
    assertEquals(conflict.details.expected, 1);
    assertEquals(conflict.details.actual, 2);
    assert(conflict.retryable);
    assertEquals(await docs.get(id), { doc: { email: "b@x" }, version: 2 }, "nothing changed");
  },
);

testBoth("missing documents are DOCUMENT_NOT_FOUND where one is required", async (store) => {
  const docs = store.docs<Customer>();
  const id = uuid();
  assertEquals(await code(() => docs.update(id, 1, () => {})), "DOCUMENT_NOT_FOUND");
  assertEquals(await code(() => docs.patch(id, null, "tier", "x")), "DOCUMENT_NOT_FOUND");
  assertEquals(await code(() => docs.put(id, { email: "a@x" }, 3)), "DOCUMENT_NOT_FOUND");
  assertEquals(await code(() => docs.delete(id)), "DOCUMENT_NOT_FOUND");
  assertEquals(await code(() => docs.softDelete(id)), "DOCUMENT_NOT_FOUND");
  assertEquals(await code(() => docs.restore(id)), "DOCUMENT_NOT_FOUND");
  assertEquals(await docs.get(id), null, "nothing was inserted");
  assertEquals(await docs.put(id, { email: "a@x" }, 0), 1, "expected 0 inserts");
});

testBoth("update passes the stored document to the mutator", async (store) => {
  const docs = store.docs<Customer>();
  const id = uuid();
  await docs.put(id, { email: "a@x", tier: "free" });
  assertEquals(await docs.update(id, 1, (c) => void (c.tier = "pro")), 2);
  assertEquals(await docs.update(id, 2, (c) => ({ ...c, email: "b@x" })), 3);
  assertEquals((await docs.get(id))?.doc, { email: "b@x", tier: "pro" });
  let called = false;
  await assertRejects(() => docs.update(id, 1, () => void (called = true)), RillflowError);
  assert(!called, "a stale update does not run the mutator");
});

testBoth(
  "soft-deleted documents are hidden, conflict on put and can be restored",
  async (store) => {
    const docs = store.docs<Customer>();
    const [id, other] = [uuid(), uuid()];
    await docs.put(id, { email: "a@x" });
    await docs.put(other, { email: "b@x" });
    await docs.softDelete(id);
    await docs.softDelete(id); // already deleted: no-op
    assertEquals(await docs.get(id), null);
    assert(!(await docs.exists(id)));
    assertEquals((await docs.query().fetchAll()).map((d) => d.email), ["b@x"]);
    assertEquals((await docs.query().onlyDeleted().fetchAll()).map((d) => d.email), ["a@x"]);
    assertEquals(await docs.query().includeDeleted().count(), 2);
    const conflict = await assertRejects(() => docs.put(id, { email: "new" }), RillflowError);
    assertEquals(conflict.code, "DOCUMENT_VERSION_CONFLICT");
    assertEquals(conflict.details.deleted, true);
    assertEquals(await code(() => docs.patch(id, null, "tier", "x")), "DOCUMENT_NOT_FOUND");
    const meta = await docs.getWithMetadata(id, { includeDeleted: true });
    assert(meta?.metadata.deletedAt instanceof Date);
    assertEquals(await docs.getWithMetadata(id), null);
    await docs.restore(id);
    assertEquals(await docs.get(id), { doc: { email: "a@x" }, version: 3 });
    await docs.restore(id); // already live: no-op
    await docs.put(id, { email: "again" }, 3);
  },
);

testBoth("delete removes documents for good, soft-deleted ones too", async (store) => {
  const docs = store.docs<Customer>();
  const [a, b] = [uuid(), uuid()];
  await docs.put(a, { email: "a@x" });
  await docs.put(b, { email: "b@x" });
  await docs.delete(a, 1);
  await docs.softDelete(b);
  await docs.delete(b);
  assertEquals(await docs.query().includeDeleted().count(), 0);
  assertEquals(await docs.put(a, { email: "a2" }), 1, "a deleted id can be reused");
});

testBoth("getWithMetadata returns the bookkeeping columns", async (store) => {
  const docs = store.docs<Customer>("customers");
  const id = uuid();
  await docs.put(id, { email: "a@x" });
  await docs.patch(id, 1, "tier", "pro");
  const found = await docs.getWithMetadata(id);
  assertEquals(found?.doc, { email: "a@x", tier: "pro" });
  const m = found!.metadata;
  assertEquals([m.id, m.version, m.deletedAt, m.createdBy, m.lastModifiedBy], [
    id,
    2,
    null,
    null,
    null,
  ]);
  assert(m.createdAt instanceof Date && m.updatedAt >= m.createdAt);
});

testBoth("bad input is a typed error and changes nothing", async (store) => {
  const docs = store.docs<Customer>();
  await assertRejects(() => docs.put("not-a-uuid", { email: "x" }), TypeError, "UUID");
  await assertRejects(() => docs.put(uuid(), [] as never), TypeError, "JSON object");
  await assertRejects(() => docs.put(uuid(), "text" as never), TypeError);
  await assertRejects(() => docs.put(uuid(), { email: "x" }, -1), RangeError);
  await assertRejects(() => docs.get("1; drop table docs"), TypeError);
  await assertRejects(() => docs.patch(uuid(), null, "", 1), TypeError, "Invalid JSON path");
  await assertRejects(() => docs.patch(uuid(), null, "a..b", 1), TypeError);
  await assertRejects(() => docs.patch(uuid(), null, "a[x]", 1), TypeError);
  await assertRejects(() => docs.patch(uuid(), null, "a", undefined), TypeError);
  await assertRejects(() => docs.patch(uuid(), 0, "a", 1), RangeError);
  for (const name of ["Customers", "1st", "a-b", "x".repeat(64), "events", "rillflow_x", ""]) {
    assertThrows(() => store.docs(name), TypeError, "collection name");
  }
  assertEquals(await docs.query().count(), 0);
});

testBoth("a table that is not a collection cannot be used as one", async (store) => {
  const { executor, table } = contextOf(store);
  await executor.query(`create table ${table("ledger")} (x int)`);
  const error = await assertRejects(() => store.docs("ledger").get(uuid()), RillflowError);
  assertEquals(error.code, "INVALID_INPUT");
  assert(error.message.includes("not a collection"), error.message);
});

testBoth("a collection dropped behind the store's back is recreated on next use", async (store) => {
  const docs = store.docs("things");
  await docs.put(uuid(), { a: 1 });
  const { executor, table } = contextOf(store);
  await executor.query(`drop table ${table("things")}`);
  await executor.query(`delete from ${table("rillflow_collections")} where name = 'things'`);
  const id = uuid();
  assertEquals(await docs.put(id, { a: 2 }), 1);
  assertEquals((await docs.get(id))?.doc, { a: 2 });
});
