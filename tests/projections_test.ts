import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import {
  event,
  Expected,
  multiStreamProjection,
  type NewEvent,
  type Projection,
  RillflowError,
  type Store,
  viewProjection,
} from "../mod.ts";
import { contextOf } from "../src/_context.ts";

/** Appends each event to its own new stream; returns their global positions. */
async function appendEach(store: Store, events: NewEvent[]): Promise<number[]> {
  const seqs: number[] = [];
  for (const e of events) {
    seqs.push(...(await store.events.append(crypto.randomUUID(), Expected.any, [e])).globalSeqs);
  }
  return seqs;
}

/** A projection logging every applied position into `<table>(global_seq, type)`. */
function logProjection(table: string, options: Partial<Projection> = {}): Projection {
  return {
    async setup(tx) {
      await tx.query(`create table if not exists ${table} (global_seq bigint not null, type text)`);
    },
    async reset(tx) {
      await tx.query(`delete from ${table}`);
    },
    async apply(envelope, tx) {
      await tx.query(`insert into ${table} values ($1, $2)`, [envelope.globalSeq, envelope.type]);
    },
    ...options,
  };
}

async function logged(store: Store, table: string): Promise<number[]> {
  const { executor, table: qualified } = contextOf(store);
  const rows = await executor.query<{ global_seq: number }>(
    `select global_seq from ${qualified(table)} order by global_seq`,
  );
  return rows.map((r) => r.global_seq);
}

testBoth("view and multi-stream projections build their read models", async (store) => {
  const daemon = store.projections({ batchSize: 2 });
  const totals = viewProjection({
    table: "totals",
    eventTypes: ["Placed"],
    key: "customer.id",
    count: "orders",
    sums: { amount: "amount", doubled: (e) => 2 * (e.data as { amount: number }).amount },
  });
  const activity = multiStreamProjection<{ placed: number; notes: string[] }>({
    table: "activity",
    eventTypes: ["Placed", "Noted"],
    key: (e) => (e.data as { customer: { id: string } }).customer.id,
    initial: () => ({ placed: 0, notes: [] }),
    evolve: (state, e) =>
      e.type === "Placed"
        ? { ...state, placed: state.placed + 1 }
        : { ...state, notes: [...state.notes, (e.data as { note: string }).note] },
  });
  daemon.register("totals", totals).register("activity", activity);
  const seqs = await appendEach(store, [
    event("Placed", { customer: { id: "ada" }, amount: 10.5 }),
    event("Ignored", {}),
    event("Noted", { customer: { id: "ada" }, note: "vip" }),
    event("Placed", { customer: { id: "bob" }, amount: 1 }),
    event("Placed", { customer: { id: "ada" }, amount: 2 }),
    event("Ignored", {}),
  ]);
  const result = await daemon.runUntilIdle();
  assertEquals(result, { applied: 3 + 4, deadLettered: 0 });
  assertEquals(await totals.read(store), [
    { key: "ada", orders: 2, amount: 12.5, doubled: 25 },
    { key: "bob", orders: 1, amount: 1, doubled: 2 },
  ]);
  assertEquals(await activity.get(store, "ada"), {
    id: "ada",
    state: { placed: 2, notes: ["vip"] },
    version: 3,
  });
  assertEquals((await activity.read(store)).map((s) => s.id), ["ada", "bob"]);
  // The checkpoint passes the trailing event of another type too.
  for (const status of await daemon.list()) {
    assertEquals([status.checkpoint, status.lag, status.state], [seqs.at(-1)!, 0, "idle"]);
  }
  assertEquals((await daemon.tickOnce("totals")).status, "idle");
});

testBoth(
  "a crash between apply and commit leaves neither read model nor checkpoint",
  async (store) => {
    const daemon = store.projections();
    const { table } = contextOf(store);
    let crash = true;
    daemon.register(
      "log",
      logProjection("log", {
        async apply(envelope, tx) {
          await tx.sql`insert into log values (${envelope.globalSeq}, ${envelope.type})`;
          if (crash && envelope.type === "Last") {
            // Depose ourselves inside the batch: the checkpoint write that follows fails, the
            // transaction rolls back like a process killed between apply and commit.
            await tx.query(`update ${table("projections")} set fencing_token = fencing_token + 1`);
          }
        },
      }),
    );
    const seqs = await appendEach(store, [event("A", {}), event("B", {}), event("Last", {})]);
    const error = await assertRejects(() => daemon.tickOnce("log"), RillflowError);
    assertEquals(error.code, "LEASE_LOST");
    assertEquals(await logged(store, "log"), []);
    assertEquals((await daemon.status("log")).checkpoint, 0);
    crash = false;
    assertEquals((await daemon.tickOnce("log")).count, 3);
    assertEquals(await logged(store, "log"), seqs);
    assertEquals((await daemon.tickOnce("log")).status, "idle");
    assertEquals(await logged(store, "log"), seqs, "nothing is applied twice");
  },
);

testBoth(
  "a failing event is retried after real backoff delays, then dead-lettered",
  async (store) => {
    const daemon = store.projections({ backoff: { baseMs: 200, maxMs: 5_000, maxAttempts: 3 } });
    const attempts: number[] = [];
    daemon.register(
      "log",
      logProjection("log", {
        async apply(envelope, tx) {
          if (envelope.type === "Poison") {
            attempts.push(performance.now());
            throw new Error(`cannot handle ${envelope.globalSeq}`);
          }
          await tx.sql`insert into log values (${envelope.globalSeq}, ${envelope.type})`;
        },
      }),
    );
    const [a, poison, c] = await appendEach(store, [
      event("A", {}),
      event("Poison", {
        why: "test",
      }),
      event("C", {}),
    ]);
    const first = await daemon.tickOnce("log");
    assertEquals([first.status, first.count, first.retryInMs], ["processed", 1, 200]);
    assertEquals(first.checkpoint, poison! - 1, "the events before the failure commit");
    const waiting = await daemon.tickOnce("log");
    assertEquals(waiting.status, "backoff");
    assert(waiting.retryInMs! > 0 && waiting.retryInMs! <= 200, `retryInMs ${waiting.retryInMs}`);
    const status = await daemon.status("log");
    assertEquals([status.state, status.attempts], ["backoff", 1]);
    assert(status.lastError?.includes(`cannot handle ${poison}`));

    assertEquals(await daemon.runUntilIdle(), { applied: 1, deadLettered: 1 });
    assertEquals(attempts.length, 3);
    const gaps = [attempts[1]! - attempts[0]!, attempts[2]! - attempts[1]!];
    assert(gaps[0]! >= 195 && gaps[1]! >= 395, `the backoff delays each attempt: ${gaps}`);
    assertEquals(await logged(store, "log"), [a!, c!]);
    const [dead, ...more] = await daemon.dlqList("log");
    assertEquals(more, []);
    assertEquals([dead!.globalSeq, dead!.attempts, dead!.envelope.type], [poison!, 3, "Poison"]);
    assertEquals(dead!.envelope.data, { why: "test" });
    assert(dead!.envelope.createdAt instanceof Date);
    assertEquals(dead!.error, `cannot handle ${poison}`);
    const after = await daemon.status("log");
    assertEquals([after.state, after.attempts, after.deadLetters, after.checkpoint], [
      "idle",
      0,
      1,
      c!,
    ]);
  },
);

testBoth("a SQL error in a handler is dead-lettered without wedging the batch", async (store) => {
  const daemon = store.projections({ backoff: { maxAttempts: 1 } });
  daemon.register(
    "log",
    logProjection("log", {
      async apply(envelope, tx) {
        if (envelope.type === "Broken") await tx.query("insert into no_such_table values (1)");
        await tx.sql`insert into log values (${envelope.globalSeq}, ${envelope.type})`;
      },
    }),
  );
  const [a, broken, c, d] = await appendEach(store, [
    event("A", {}),
    event("Broken", {}),
    event("C", {}),
    event("Broken", {}),
  ]);
  const result = await daemon.tickOnce("log");
  assertEquals([result.status, result.count, result.deadLettered], ["processed", 2, 2]);
  assertEquals(await logged(store, "log"), [a!, c!]);
  const dead = await daemon.dlqList("log");
  assertEquals(dead.map((d) => d.globalSeq), [broken!, d!]);
  assert(dead[0]!.error.includes("no_such_table"), dead[0]!.error);
  assertEquals((await daemon.status("log")).checkpoint, d!);
  assertEquals((await daemon.dlqList("log", { limit: 1 })).length, 1);
});

testBoth("requeue applies exactly the dead letter, nothing after it", async (store) => {
  let fixed = false;
  const daemon = store.projections({ backoff: { maxAttempts: 1 } });
  daemon.register(
    "log",
    logProjection("log", {
      async apply(envelope, tx) {
        if (envelope.type === "Fragile" && !fixed) throw new Error("not yet");
        await tx.sql`insert into log values (${envelope.globalSeq}, ${envelope.type})`;
      },
    }),
  );
  const [fragile, n1, n2] = await appendEach(store, [
    event("Fragile", {}),
    event("N", {}),
    event("N", {}),
  ]);
  await daemon.runUntilIdle();
  const [dead] = await daemon.dlqList("log");
  const [n3] = await appendEach(store, [event("N", {})]);

  const again = await assertRejects(() => daemon.dlqRequeue("log", dead!.id), Error, "not yet");
  assert(!(again instanceof RillflowError));
  assertEquals((await daemon.dlqList("log"))[0]!.attempts, 2, "a failed requeue counts");

  fixed = true;
  await daemon.dlqRequeue("log", dead!.id);
  assertEquals(await logged(store, "log"), [fragile!, n1!, n2!]);
  assertEquals(await daemon.dlqList("log"), []);
  assertEquals(
    (await daemon.status("log")).checkpoint,
    n2!,
    "requeue does not move the checkpoint",
  );
  const missing = await assertRejects(() => daemon.dlqRequeue("log", dead!.id), RillflowError);
  assertEquals(missing.code, "INVALID_INPUT");
  await daemon.runUntilIdle();
  assertEquals(await logged(store, "log"), [fragile!, n1!, n2!, n3!]);
});

testBoth("rebuild reproduces the read model and clears dead letters", async (store) => {
  let poisoned = true;
  const totals = viewProjection({ table: "totals", key: "k", sums: { v: "v" } });
  const daemon = store.projections({ batchSize: 3, backoff: { maxAttempts: 1 } });
  daemon.register("totals", {
    ...totals,
    apply: (envelope, tx) => {
      if (poisoned && (envelope.data as { v: number }).v === 100) throw new Error("poison");
      return totals.apply(envelope, tx);
    },
  });
  await appendEach(
    store,
    [1, 2, 100, 3, 4, 5, 6].map((v) => event("V", { k: v % 2 ? "odd" : "even", v })),
  );
  await daemon.runUntilIdle();
  assertEquals(await totals.read(store), [
    { key: "even", count: 3, v: 12 },
    { key: "odd", count: 3, v: 9 },
  ]);
  const { executor, table } = contextOf(store);
  await executor.query(`update ${table("totals")} set count = 999`);
  poisoned = false;
  const rebuilt = await daemon.rebuild("totals");
  assertEquals(rebuilt, { applied: 7, deadLettered: 0 });
  assertEquals(await totals.read(store), [
    { key: "even", count: 4, v: 112 },
    { key: "odd", count: 3, v: 9 },
  ]);
  const status = await daemon.status("totals");
  assertEquals([status.deadLetters, status.lag, status.lastError], [0, 0, null]);
});

testBoth("pause stops a projection and resume restarts it", async (store) => {
  const daemon = store.projections();
  daemon.register("log", logProjection("log"));
  await daemon.pause("log");
  const [a] = await appendEach(store, [event("A", {})]);
  assertEquals(await daemon.tickOnce("log"), {
    status: "paused",
    count: 0,
    deadLettered: 0,
    checkpoint: 0,
  });
  assertEquals((await daemon.status("log")).state, "paused");
  assertEquals(await daemon.runUntilIdle(), { applied: 0, deadLettered: 0 });
  assertEquals(await logged(store, "log"), []);
  await daemon.resume("log");
  assertEquals((await daemon.tickOnce("log")).count, 1);
  assertEquals(await logged(store, "log"), [a!]);
});

testBoth("reset-checkpoint replays from a position; bad input changes nothing", async (store) => {
  const daemon = store.projections();
  daemon.register("log", logProjection("log"));
  const seqs = await appendEach(store, [event("A", {}), event("B", {}), event("C", {})]);
  await daemon.runUntilIdle();
  await daemon.resetCheckpoint("log", seqs[0]!);
  await daemon.runUntilIdle();
  assertEquals(await logged(store, "log"), [seqs[0]!, seqs[1]!, seqs[1]!, seqs[2]!, seqs[2]!]);

  const past = await assertRejects(
    () => daemon.resetCheckpoint("log", seqs[2]! + 1),
    RillflowError,
  );
  assertEquals(past.code, "INVALID_INPUT");
  await assertRejects(() => daemon.resetCheckpoint("log", -1), RangeError);
  await assertRejects(() => daemon.resetCheckpoint("log", 1.5), RangeError);
  assertEquals((await daemon.status("log")).checkpoint, seqs[2]!);

  for (
    const call of [
      () => daemon.status("nope"),
      () => daemon.pause("nope"),
      () => daemon.tickOnce("nope"),
    ]
  ) {
    const unknown = await assertRejects(call, RillflowError);
    assertEquals(unknown.code, "UNKNOWN_PROJECTION");
  }
  await assertRejects(() => daemon.dlqDelete("log", 0), RangeError);
  assertEquals(
    (await assertRejects(() => daemon.dlqDelete("log", 42), RillflowError)).code,
    "INVALID_INPUT",
  );
  await assertRejects(() => daemon.status("bad\nname"), TypeError, "control characters");
  assertEquals((await daemon.list()).map((p) => p.name), ["log"]);
});

testBoth("register checks names and projections", (store) => {
  const daemon = store.projections();
  daemon.register("p", logProjection("p"));
  const attempts: Array<() => unknown> = [
    () => daemon.register("p", logProjection("p")),
    () => daemon.register("", logProjection("x")),
    () => daemon.register("x", {} as Projection),
    () => daemon.register("x", { apply: () => Promise.resolve(), eventTypes: [""] }),
    () =>
      daemon.register("x", { apply: () => Promise.resolve(), setup: 1 } as unknown as Projection),
    () => store.projections({ batchSize: 0 }),
    () => store.projections({ backoff: { maxAttempts: 0 } }),
    () => store.projections({ notifyChannel: "Bad-Channel" }),
    () => viewProjection({ table: "Bad", key: "k" }),
    () => viewProjection({ table: "t", key: "" }),
  ];
  for (const attempt of attempts) {
    let thrown: unknown;
    try {
      attempt();
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof TypeError || thrown instanceof RangeError, `${attempt}: ${thrown}`);
  }
  assertEquals(daemon.names, ["p"]);
  return Promise.resolve();
});
