/**
 * The hook sessions use (#4 item 11): a commit planned outside any transaction
 * whose writes then run inside the caller's, atomically with its other writes.
 */
import { assertEquals, assertRejects } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { type Aggregate, AggregateRepository, event, type Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { aggregateParts } from "../src/events/aggregate_repository.ts";
import { planCommitFor } from "../src/events/aggregate_plan.ts";

const Counter: Aggregate<{ count: number }> = {
  name: "counter",
  initialState: () => ({ count: 0 }),
  evolve: (state) => ({ count: state.count + 1 }),
};

async function counts(store: Store) {
  const { executor, table } = contextOf(store);
  const [row] = await executor.query<{ events: number; snapshots: number; docs: number }>(
    `select (select count(*)::int from ${table("events")}) as events,
            (select count(*)::int from ${table("snapshots")}) as snapshots,
            (select count(*)::int from ${table("docs")}) as docs`,
  );
  return row;
}

testBoth("a planned aggregate commit joins the caller's transaction", async (store) => {
  const repo = new AggregateRepository(store, Counter);
  const { executor, table } = contextOf(store);
  const id = crypto.randomUUID();
  const write = await planCommitFor(
    aggregateParts(repo),
    id,
    await repo.load(id),
    [event("Ticked", {}), event("Ticked", {})],
    {},
    2,
  );
  assertEquals(write.needsTransaction, true, "version 2 crosses every: 2");

  await assertRejects(
    () =>
      executor.transaction(async (tx) => {
        await tx.query(`insert into ${table("docs")} (id, doc) values ($1, '{}')`, [id]);
        await write.run(tx);
        throw new Error("the session fails after the aggregate write");
      }),
    Error,
    "the session fails",
  );
  assertEquals(await counts(store), { events: 0, snapshots: 0, docs: 0 });

  await executor.transaction(async (tx) => {
    await tx.query(`insert into ${table("docs")} (id, doc) values ($1, '{}')`, [id]);
    await write.run(tx);
  });
  assertEquals(await counts(store), { events: 2, snapshots: 1, docs: 1 });
  assertEquals(await repo.loadWithSnapshot(id), { state: { count: 2 }, version: 2 });
});
