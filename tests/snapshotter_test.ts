import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import {
  type Aggregate,
  AggregateRepository,
  event,
  Expected,
  Snapshotter,
  type SnapshotterProgress,
  type Store,
} from "../mod.ts";
import { contextOf } from "../src/_context.ts";

const Counter: Aggregate<{ count: number }> = {
  name: "counter",
  initialState: () => ({ count: 0 }),
  evolve(state, e) {
    if (e.type === "Poison") throw new Error(`cannot apply event #${e.streamSeq}`);
    return { count: state.count + 1 };
  },
};

const ticks = (n: number) => Array.from({ length: n }, () => event("Ticked", {}));

async function snapshots(store: Store) {
  const { executor, table } = contextOf(store);
  return await executor.query<
    { stream_id: string; stream_version: number; schema_version: number }
  >(
    `select stream_id, stream_version, schema_version from ${
      table("snapshots")
    } order by stream_id`,
  );
}

/** Streams of the given lengths, created through the repository (so registered). */
async function seed(repo: AggregateRepository<{ count: number }>, lengths: number[]) {
  const ids = lengths.map(() => crypto.randomUUID());
  await Promise.all(ids.map((id, i) => repo.commit(id, Expected.noStream, ticks(lengths[i]!))));
  return ids;
}

testBoth(
  "runUntilIdle snapshots every lagging stream, in batches, then finds nothing",
  async (store) => {
    const repo = new AggregateRepository(store, Counter);
    const ids = await seed(repo, [30, 30, 30, 30, 30, 5, 5]);
    const progress: SnapshotterProgress[] = [];
    const snapshotter = new Snapshotter(store, [Counter], {
      threshold: 10,
      batch: 2,
      onProgress: (p) => progress.push(p),
    });
    const summary = await snapshotter.runUntilIdle();
    assertEquals([summary.examined, summary.written, summary.failed], [5, 5, []]);
    assert(summary.ticks >= 3, `5 streams in batches of 2 take 3 ticks, took ${summary.ticks}`);
    assertEquals(progress.at(-1), { aggregate: "counter", examined: 5, written: 5, failed: 0 });
    const rows = await snapshots(store);
    assertEquals(rows.map((r) => r.stream_version), [30, 30, 30, 30, 30]);
    for (const id of ids) assertEquals(await repo.loadWithSnapshot(id), await repo.load(id));

    const again = await snapshotter.runUntilIdle();
    assertEquals([again.examined, again.written, again.ticks], [0, 0, 1]);
    await repo.commit(ids[5]!, Expected.any, ticks(10));
    const tick = await snapshotter.tickOnce();
    assertEquals([tick.examined, tick.written, tick.passComplete], [1, 1, true]);
  },
);

testBoth("a stream whose evolve throws is recorded and passed over", async (store) => {
  const repo = new AggregateRepository(store, Counter);
  const [good, bad] = await seed(repo, [12, 12]);
  await store.events.append(bad!, Expected.any, [event("Poison", {})]);
  const snapshotter = new Snapshotter(store, [Counter], { threshold: 10, batch: 1 });
  const summary = await snapshotter.runUntilIdle();
  assertEquals(summary.written, 1);
  assertEquals(summary.failed, [
    { aggregate: "counter", streamId: bad!, error: "cannot apply event #13" },
  ]);
  assertEquals((await snapshots(store)).map((r) => r.stream_id), [good!]);
  const second = await snapshotter.runUntilIdle();
  assertEquals([second.written, second.failed.length], [0, 1], "each pass tries it once more");
});

testBoth("a pass terminates while its streams keep growing", async (store) => {
  const repo = new AggregateRepository(store, Counter);
  const ids = await seed(repo, [10, 10, 10, 10]);
  // After every tick, every stream grows past the threshold again.
  const growth: Promise<unknown>[] = [];
  const snapshotter = new Snapshotter(store, [Counter], {
    threshold: 10,
    batch: 1,
    onProgress: () =>
      growth.push(Promise.all(ids.map((id) => store.events.append(id, Expected.any, ticks(10))))),
  });
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const summary = await Promise.race([
    snapshotter.runUntilIdle(),
    new Promise<never>((_, reject) => {
      deadline = setTimeout(() => reject(new Error("runUntilIdle did not terminate")), 30_000);
    }),
  ]).finally(() => clearTimeout(deadline));
  await Promise.all(growth);
  assertEquals(summary.examined, 4, "each stream is visited once per pass");
  assertEquals(summary.written, 4);
  assertEquals(growth.length, summary.ticks);
  assert(summary.ticks >= 4);
  for (const id of ids) assertEquals(await repo.loadWithSnapshot(id), await repo.load(id));
});

testBoth("a pass visits each stream once even when ticked by hand", async (store) => {
  const repo = new AggregateRepository(store, Counter);
  const ids = await seed(repo, [10, 10, 10]);
  const snapshotter = new Snapshotter(store, [Counter], { threshold: 10, batch: 1 });
  const first = await snapshotter.tickOnce();
  assertEquals([first.examined, first.passComplete], [1, false]);
  await Promise.all(ids.map((id) => repo.commit(id, Expected.any, ticks(20))));
  let examined = first.examined;
  for (let i = 0; i < 10; i++) {
    const tick = await snapshotter.tickOnce();
    examined += tick.examined;
    if (tick.passComplete) break;
  }
  assertEquals(examined, 3);
  const next = await snapshotter.runUntilIdle();
  assertEquals(next.written, 1, "the next pass catches up with the first stream's growth");
});

testBoth("streams with no events never get a placeholder snapshot", async (store) => {
  const { executor, table } = contextOf(store);
  const empty = crypto.randomUUID();
  // An aggregate stream whose events are gone (e.g. archived elsewhere), with a metadata row.
  await executor.query(`insert into ${table("streams")} (stream_id, category) values ($1, 'c')`, [
    empty,
  ]);
  await executor.query(
    `insert into ${table("aggregate_streams")} (aggregate, stream_id) values ('counter', $1)`,
    [empty],
  );
  const summary = await new Snapshotter(store, [Counter], { threshold: 1 }).runUntilIdle();
  assertEquals([summary.examined, summary.written, summary.failed], [0, 0, []]);
  assertEquals(await snapshots(store), []);
  const none = await new Snapshotter(store, [], { threshold: 1 }).runUntilIdle();
  assertEquals([none.examined, none.ticks], [0, 1]);
});

testBoth("a schemaVersion bump makes the snapshotter rewrite stale snapshots", async (store) => {
  const repo = new AggregateRepository(store, Counter);
  const [id] = await seed(repo, [15]);
  await new Snapshotter(store, [Counter], { threshold: 10 }).runUntilIdle();
  const CounterV2 = { ...Counter, schemaVersion: 2 };
  const summary = await new Snapshotter(store, [CounterV2], { threshold: 10 }).runUntilIdle();
  assertEquals(summary.written, 1);
  assertEquals(await snapshots(store), [{ stream_id: id!, stream_version: 15, schema_version: 2 }]);
});

testBoth("snapshotter options are validated", async (store) => {
  assertThrows(() => new Snapshotter(store, [Counter], { threshold: 0 }), RangeError, "threshold");
  assertThrows(() => new Snapshotter(store, [Counter], { batch: 1.5 }), RangeError, "batch");
  assertThrows(() => new Snapshotter(store, [Counter, Counter]), TypeError, "listed twice");
  await Promise.resolve();
});
