import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { eventCount } from "./_counts.ts";
import { testBoth } from "./_backends.ts";
import { type Aggregate, AggregateRepository, event, Expected, type Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

/** Records positions and timestamps too, so a snapshot equals a full load only if they match. */
interface Tally {
  count: number;
  sum: number;
  lastSeq: number;
  lastGlobal: number;
  lastAt: string;
}

const TallyAggregate: Aggregate<Tally> = {
  name: "tally",
  initialState: () => ({ count: 0, sum: 0, lastSeq: 0, lastGlobal: 0, lastAt: "" }),
  evolve: (state, e) => ({
    count: state.count + 1,
    sum: state.sum + (e.data as { n: number }).n,
    lastSeq: e.streamSeq,
    lastGlobal: e.globalSeq,
    lastAt: e.createdAt.toISOString(),
  }),
};

async function snapshotRows(store: Store, streamId: string) {
  const { executor, table } = contextOf(store);
  return await executor.query<
    { aggregate: string; schema_version: number; stream_version: number }
  >(
    `select aggregate, schema_version, stream_version from ${table("snapshots")}
      where stream_id = $1 order by aggregate`,
    [streamId],
  );
}

testBoth("a snapshot load equals a full load after 1,000 events", async (store) => {
  const tallies = new AggregateRepository(store, TallyAggregate);
  const id = crypto.randomUUID();
  let loaded = await tallies.loadWithSnapshot(id);
  let n = 0;
  while (loaded.version < 1_000) {
    const batch = Array.from({ length: 7 }, () => event("Counted", { n: ++n }));
    await tallies.commitAndSnapshot(id, loaded, batch, { every: 100 });
    loaded = await tallies.loadWithSnapshot(id);
  }
  const full = await tallies.load(id);
  assertEquals(full.version, 1_001);
  assertEquals(full.state.sum, (1_001 * 1_002) / 2);
  assertEquals(await tallies.loadWithSnapshot(id), full);
  // 994 → 1001 crossed 1000: the last snapshot is at 1001, taken in the append's transaction.
  assertEquals(await snapshotRows(store, id), [
    { aggregate: "tally", schema_version: 1, stream_version: 1_001 },
  ]);

  // Prove that loadWithSnapshot really starts from the snapshot.
  const { executor, table } = contextOf(store);
  await executor.query(
    `update ${table("snapshots")} set state = jsonb_set(state, '{sum}', '-1') where stream_id = $1`,
    [id],
  );
  assertEquals((await tallies.loadWithSnapshot(id)).state.sum, -1);
  assertEquals((await tallies.load(id)).state.sum, full.state.sum);
});

testBoth(
  "a snapshot is written only when the version crosses a multiple of every",
  async (store) => {
    const tallies = new AggregateRepository(store, TallyAggregate);
    const id = crypto.randomUUID();
    const events = (count: number) =>
      Array.from({ length: count }, () => event("Counted", { n: 1 }));
    await tallies.commit(id, Expected.noStream, events(98));
    await tallies.commitAndSnapshot(id, await tallies.load(id), events(1), { every: 100 });
    assertEquals(await snapshotRows(store, id), [], "99 does not cross 100");
    await tallies.commitAndSnapshot(id, await tallies.load(id), events(3), { every: 100 });
    assertEquals((await snapshotRows(store, id))[0]?.stream_version, 102);
    await tallies.commitAndSnapshot(id, await tallies.load(id), events(97), { every: 100 });
    assertEquals((await snapshotRows(store, id))[0]?.stream_version, 102, "199 does not cross 200");
  },
);

testBoth("a changed aggregate (schemaVersion) ignores stale snapshots", async (store) => {
  const v1 = new AggregateRepository(store, TallyAggregate);
  const id = crypto.randomUUID();
  await v1.commitAndSnapshot(id, await v1.load(id), [event("Counted", { n: 2 })], { every: 1 });
  assertEquals((await snapshotRows(store, id))[0]?.schema_version, 1);

  const Doubled: Aggregate<Tally> = {
    ...TallyAggregate,
    schemaVersion: 2,
    evolve: (state, e) => ({ ...TallyAggregate.evolve(state, e), sum: state.sum + 2 * 2 }),
  };
  const v2 = new AggregateRepository(store, Doubled);
  assertEquals((await v2.loadWithSnapshot(id)).state.sum, 4, "the v1 snapshot is ignored");
  await v2.commitAndSnapshot(id, await v2.load(id), [event("Counted", { n: 2 })], { every: 1 });
  assertEquals(await snapshotRows(store, id), [
    { aggregate: "tally", schema_version: 2, stream_version: 2 },
  ]);
  assertEquals(await v2.loadWithSnapshot(id), await v2.load(id));
});

testBoth("a state that cannot be snapshotted rolls the append back", async (store) => {
  const Big: Aggregate<{ n: bigint }> = {
    name: "big",
    initialState: () => ({ n: 0n }),
    evolve: (s) => ({ n: s.n + 1n }),
  };
  const repo = new AggregateRepository(store, Big);
  const id = crypto.randomUUID();
  await assertRejects(
    () =>
      repo.commitAndSnapshot(id, { state: { n: 0n }, version: 0 }, [event("X", {})], { every: 1 }),
    TypeError,
    'Aggregate "big" state cannot be snapshotted',
  );
  assertEquals(await eventCount(store, id), 0);
  assertEquals(await snapshotRows(store, id), []);

  const Custom: Aggregate<{ n: bigint }> = {
    ...Big,
    toSnapshot: (s) => ({ n: s.n.toString() }),
    fromSnapshot: (data) => ({ n: BigInt((data as { n: string }).n) }),
  };
  const custom = new AggregateRepository(store, Custom);
  await custom.commitAndSnapshot(id, { state: { n: 0n }, version: 0 }, [event("X", {})], {
    every: 1,
  });
  await custom.commit(id, Expected.exact(1), [event("X", {})]);
  assertEquals(await custom.loadWithSnapshot(id), { state: { n: 2n }, version: 2 });
  assert((await snapshotRows(store, id)).length === 1);
});
