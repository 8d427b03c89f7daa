import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { RillflowError, Store } from "../mod.ts";

type Account = { owner: string; balance: number };
const uuid = () => crypto.randomUUID();

testBoth("load returns the same object for the same document (identity map)", async (store) => {
  const id = uuid();
  await store.docs<Account>("accounts").put(id, { owner: "ada", balance: 10 });
  const session = store.session();
  const a = await session.load<Account>("accounts", id);
  const [b, c] = await Promise.all([
    session.load<Account>("accounts", id),
    session.load<Account>("accounts", id.toUpperCase()),
  ]);
  assert(a !== null && a === b && b === c, "one object per document");
  assertEquals(await session.load("accounts", uuid()), null);
  const other = store.session();
  assert((await other.load("accounts", id)) !== a, "sessions do not share objects");
});

testBoth("saveChanges writes every staged change in one transaction", async (store) => {
  const accounts = store.docs<Account>("accounts");
  const [from, to, extra] = [uuid(), uuid(), uuid()];
  await accounts.put(from, { owner: "ada", balance: 10 });
  await accounts.put(to, { owner: "bob", balance: 0 });
  const session = store.session({ user: "teller-1" });
  const a = (await session.load<Account>("accounts", from))!;
  const b = (await session.load<Account>("accounts", to))!;
  a.balance -= 4;
  b.balance += 4;
  session.store("accounts", from, a);
  session.store("accounts", to, b);
  session.store("ledger", extra, { moved: 4 });
  assertEquals(session.pendingChanges, 3);
  assertEquals((await accounts.get(from))?.doc.balance, 10, "nothing is written before saving");
  await session.saveChanges();
  assertEquals(session.pendingChanges, 0);
  assertEquals(await accounts.get(from), { doc: { owner: "ada", balance: 6 }, version: 2 });
  assertEquals(await accounts.get(to), { doc: { owner: "bob", balance: 4 }, version: 2 });
  assertEquals((await store.docs("ledger").get(extra))?.doc, { moved: 4 });
  const meta = await accounts.getWithMetadata(from);
  assertEquals(meta?.metadata.lastModifiedBy, "teller-1");
  assertEquals((await store.docs("ledger").getWithMetadata(extra))?.metadata.createdBy, "teller-1");
  // The session moved on to the saved versions: a second round works.
  a.balance -= 1;
  session.store("accounts", from, a);
  await session.saveChanges();
  assertEquals((await accounts.get(from))?.version, 3);
});

testBoth(
  "a session whose second write conflicts commits nothing and can be retried",
  async (store) => {
    const accounts = store.docs<Account>("accounts");
    const [first, second] = [uuid(), uuid()];
    await accounts.put(first, { owner: "ada", balance: 1 });
    await accounts.put(second, { owner: "bob", balance: 1 });
    const session = store.session();
    const a = (await session.load<Account>("accounts", first))!;
    const b = (await session.load<Account>("accounts", second))!;
    a.balance = 100;
    b.balance = 200;
    session.store("accounts", first, a);
    session.store("accounts", second, b);
    await accounts.put(second, { owner: "bob", balance: 50 }, 1); // someone else wrote it
    const error = await assertRejects(() => session.saveChanges(), RillflowError);
    assertEquals(error.code, "DOCUMENT_VERSION_CONFLICT");
    assertEquals((await accounts.get(first))?.doc.balance, 1, "the first write rolled back");
    assertEquals(session.pendingChanges, 2, "nothing staged is lost");
    // Fix: reload the conflicting document, reapply the change, and save again.
    const fresh = (await session.refresh<Account>("accounts", second))!;
    assertEquals(fresh.balance, 50);
    fresh.balance += 150;
    session.store("accounts", second, fresh);
    await session.saveChanges();
    assertEquals(await accounts.get(first), { doc: { owner: "ada", balance: 100 }, version: 2 });
    assertEquals(await accounts.get(second), { doc: { owner: "bob", balance: 200 }, version: 3 });
  },
);

testBoth("a document loaded as missing must still be missing when saved", async (store) => {
  const id = uuid();
  const session = store.session();
  assertEquals(await session.load("accounts", id), null);
  session.store("accounts", id, { owner: "ada", balance: 1 });
  await store.docs("accounts").put(id, { owner: "eve", balance: 9 });
  const error = await assertRejects(() => session.saveChanges(), RillflowError);
  assertEquals(error.code, "DOCUMENT_VERSION_CONFLICT");
  assertEquals((await store.docs<Account>("accounts").get(id))?.doc.owner, "eve");
});

testBoth("store without load upserts; delete checks the loaded version", async (store) => {
  const accounts = store.docs<Account>("accounts");
  const [kept, removed, fresh] = [uuid(), uuid(), uuid()];
  await accounts.put(kept, { owner: "ada", balance: 1 });
  await accounts.put(removed, { owner: "bob", balance: 1 });
  const session = store.session();
  session.store("accounts", kept, { owner: "ada", balance: 2 });
  await session.load("accounts", removed);
  session.delete("accounts", removed);
  assertEquals(await session.load("accounts", removed), null, "deleted in the session");
  assertEquals(await session.load("accounts", fresh), null);
  session.store("accounts", fresh, { owner: "new", balance: 0 });
  session.delete("accounts", fresh); // known not to exist: cancels the staged insert
  await session.saveChanges();
  assertEquals((await accounts.get(kept))?.doc.balance, 2);
  assertEquals(await accounts.get(removed), null);
  assertEquals(await accounts.get(fresh), null);
  const stale = store.session();
  await stale.load("accounts", kept);
  await accounts.put(kept, { owner: "ada", balance: 3 });
  stale.delete("accounts", kept);
  const error = await assertRejects(() => stale.saveChanges(), RillflowError);
  assertEquals(error.code, "DOCUMENT_VERSION_CONFLICT");
  assertEquals((await accounts.get(kept))?.doc.balance, 3);
});

Deno.test("session defaults come from the store options, overridable per session", async () => {
  await using store = await Store.connect("pglite://memory", {
    autoMigrate: false,
    session: { headers: { source: "api" }, causationId: "cause-1", correlationId: "corr-0" },
  });
  const session = store.session({ headers: { reqId: "r-1" }, correlationId: "corr-9" });
  assertEquals(session.headers, { source: "api", reqId: "r-1" });
  assertEquals(session.causationId, "cause-1");
  assertEquals(session.correlationId, "corr-9");
  assertEquals(store.session().correlationId, "corr-0");
  assertEquals(store.session().user, null);
  assertThrows(() => session.store("Bad Name", uuid(), {}), TypeError);
  assertThrows(() => session.store("accounts", "x", {}), TypeError);
  assertThrows(() => session.store("accounts", uuid(), [] as never), TypeError);
  assertEquals(session.pendingChanges, 0);
});
