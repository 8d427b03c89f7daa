import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { type Aggregate, AggregateRepository, event, Expected, RillflowError } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

const Counter: Aggregate<{ n: number }> = {
  name: "counter",
  initialState: () => ({ n: 0 }),
  evolve: (state, e) => ({ n: state.n + (e.data as { by: number }).by }),
};

async function snapshotCount(store: Parameters<typeof contextOf>[0]): Promise<number> {
  const { executor, table } = contextOf(store);
  const [row] = await executor.query<{ n: number }>(
    `select count(*)::int as n from ${table("snapshots")}`,
  );
  return row!.n;
}

testBoth("a session saves documents and events in one transaction", async (store) => {
  const id = crypto.randomUUID();
  const session = store.session({ headers: { source: "test" }, correlationId: "corr-1" });
  session.store("customers", id, { name: "Ada" });
  session.enqueueEvent(id, Expected.noStream, event("CustomerRegistered", { name: "Ada" }));
  session.enqueueEvent(id, Expected.exact(1), event("CustomerVerified", {}));
  assertEquals(session.pendingChanges, 3);
  await session.saveChanges();
  assertEquals(session.pendingChanges, 0);
  assertEquals((await store.docs("customers").get(id))?.doc, { name: "Ada" });
  const events = await store.events.readStream(id);
  assertEquals(events.map((e) => e.type), ["CustomerRegistered", "CustomerVerified"]);
  assertEquals(events[0]!.headers.source, "test");
  assertEquals(events[0]!.correlationId, "corr-1");
  assertEquals(events[0]!.tenantId, null);
});

testBoth(
  "a conflicting staged event rolls back the documents and keeps everything staged",
  async (store) => {
    const id = crypto.randomUUID();
    await store.events.append(id, Expected.noStream, [event("Existing", {})]);
    const session = store.session();
    session.store("customers", id, { name: "Ada" });
    session.enqueueEvent(id, Expected.noStream, event("CustomerRegistered", {}));
    const error = await assertRejects(() => session.saveChanges(), RillflowError);
    assertEquals(error.code, "CONCURRENCY_CONFLICT");
    assertEquals(await store.docs("customers").get(id), null);
    assertEquals((await store.events.readStream(id)).length, 1);
    assertEquals(session.pendingChanges, 2);
  },
);

testBoth("bad events are rejected when enqueued and stage nothing", (store) => {
  const session = store.session();
  assertThrows(() => session.enqueueEvent("not-a-uuid", Expected.any, event("X", {})), TypeError);
  assertThrows(
    () => session.enqueueEvent(crypto.randomUUID(), Expected.any, { type: "", data: {} } as never),
    TypeError,
  );
  assertEquals(session.pendingChanges, 0);
  return Promise.resolve();
});

testBoth(
  "session aggregates commit with a snapshot in the session's transaction",
  async (store) => {
    const repo = new AggregateRepository(store, Counter, {
      validator: (state) => {
        if (state.n > 10) throw new Error("too big");
      },
    });
    const id = crypto.randomUUID();
    const docId = crypto.randomUUID();
    const session = store.session();
    session.aggregates(repo).commit(id, Expected.noStream, [event("Inc", { by: 2 })]);
    session.store("audit", docId, { step: 1 });
    await session.saveChanges();
    assertEquals((await repo.load(id)).state, { n: 2 });

    const loaded = await repo.load(id);
    const next = store.session();
    next.aggregates(repo).commitAndSnapshot(id, loaded, [event("Inc", { by: 3 })], { every: 2 });
    await next.saveChanges();
    assertEquals(await snapshotCount(store), 1);
    assertEquals(await repo.loadWithSnapshot(id), await repo.load(id));

    const rejected = store.session();
    rejected.aggregates(repo).commit(id, Expected.any, [event("Inc", { by: 100 })]);
    rejected.store("audit", docId, { step: 2 });
    const error = await assertRejects(() => rejected.saveChanges(), RillflowError);
    assertEquals(error.code, "INVALID_INPUT");
    assertEquals((await store.docs("audit").get(docId))?.doc, { step: 1 });
    assertEquals((await repo.load(id)).state, { n: 5 });
    assertThrows(
      () =>
        rejected.aggregates(repo).commitAndSnapshot(id, loaded, [event("Inc", { by: 1 })], {
          every: 0,
        }),
      RangeError,
    );
    assert(rejected.pendingChanges === 2);
  },
);
