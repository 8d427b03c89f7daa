import { assertEquals, assertRejects } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { type Aggregate, AggregateRepository, event, Expected, type Projection } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

const Counter: Aggregate<{ n: number }> = {
  name: "counter",
  initialState: () => ({ n: 0 }),
  evolve: (state, e) => ({ n: state.n + (e.data as { by: number }).by }),
};

const totals: Projection = {
  eventTypes: ["Inc"],
  async apply(envelope, tx) {
    const by = (envelope.data as { by: number }).by;
    if (by < 0) throw new Error("negative increments are refused");
    await tx.query(
      `insert into counter_totals (stream_id, total) values ($1, $2)
       on conflict (stream_id) do update set total = counter_totals.total + excluded.total`,
      [envelope.streamId, by],
    );
  },
};

testBoth("aggregate commits run inline projections in their transaction", async (store) => {
  const { executor, table } = contextOf(store);
  await executor.query(
    `create table ${table("counter_totals")} (stream_id uuid primary key, total int not null)`,
  );
  const repo = new AggregateRepository(store, Counter);
  const id = crypto.randomUUID();
  await repo.commit(id, Expected.noStream, [event("Inc", { by: 2 }), event("Inc", { by: 3 })]);
  const loaded = await repo.load(id);
  await repo.commitAndSnapshot(id, loaded, [event("Inc", { by: 1 })], { every: 3 });
  const read = () =>
    executor.query<{ total: number }>(`select total from ${table("counter_totals")}`);
  assertEquals(await read(), [{ total: 6 }]);

  await assertRejects(() => repo.commit(id, Expected.any, [event("Inc", { by: -1 })]), Error);
  assertEquals((await repo.load(id)).version, 3, "the failing projection wrote nothing");
  assertEquals(await read(), [{ total: 6 }]);
}, { projections: { inline: { totals } } });

testBoth("session appends run inline projections in the session's transaction", async (store) => {
  const { executor, table } = contextOf(store);
  await executor.query(
    `create table ${table("counter_totals")} (stream_id uuid primary key, total int not null)`,
  );
  const id = crypto.randomUUID();
  const session = store.session();
  session.store("notes", id, { text: "with an event" });
  session.enqueueEvent(id, Expected.noStream, event("Inc", { by: 4 }));
  await session.saveChanges();
  const read = () =>
    executor.query<{ total: number }>(`select total from ${table("counter_totals")}`);
  assertEquals(await read(), [{ total: 4 }]);

  const failing = store.session();
  failing.store("notes", crypto.randomUUID(), { text: "never saved" });
  failing.enqueueEvent(id, Expected.any, event("Inc", { by: -1 }));
  await assertRejects(() => failing.saveChanges(), Error);
  assertEquals(await read(), [{ total: 4 }]);
  assertEquals(await store.docs("notes").query().count(), 1);
}, { projections: { inline: { totals } } });
