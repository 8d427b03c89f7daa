import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, testBoth, testServer } from "./_backends.ts";
import { event, Expected, type Projection, RillflowError, type Store } from "../mod.ts";
import { Store as StoreClass } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { countingEvents } from "./_counting.ts";

async function countEvents(store: Store): Promise<number> {
  const { executor, table } = contextOf(store);
  const [row] = await executor.query<{ n: number }>(
    `select count(*)::int as n from ${table("events")}`,
  );
  return row!.n;
}

testBoth(
  "every Expected kind is enforced and conflicts carry expected and actual",
  async (store) => {
    const s = crypto.randomUUID();
    const e = () => [event("E", {})];
    const conflict = async (expected: ReturnType<typeof Expected.exact>, actual: number) => {
      const error = await assertRejects(() => store.events.append(s, expected, e()), RillflowError);
      assertEquals(error.code, "CONCURRENCY_CONFLICT");
      assertEquals(error.retryable, true);
      assertEquals(error.details.actual, actual);
      assertEquals(error.details.streamId, s);
      return error;
    };
    assertEquals((await conflict(Expected.streamExists, 0)).details.expected, "streamExists");
    assertEquals((await conflict(Expected.exact(1), 0)).details.expected, 1);
    assertEquals((await store.events.append(s, Expected.noStream, e())).streamVersion, 1);
    const noStream = await conflict(Expected.noStream, 1);
    assertEquals(noStream.details.expected, "noStream");
    assert(noStream.message.includes("expected no stream but found version 1"), noStream.message);
    await conflict(Expected.exact(0), 1);
    assertEquals((await store.events.append(s, Expected.exact(1), e())).streamVersion, 2);
    await conflict(Expected.exact(1), 2);
    assertEquals((await store.events.append(s, Expected.streamExists, e())).streamVersion, 3);
    assertEquals((await store.events.append(s, Expected.any, [...e(), ...e()])).streamVersion, 5);
    const t = crypto.randomUUID();
    assertEquals((await store.events.append(t, Expected.exact(0), e())).streamVersion, 1);
    assertEquals(
      (await store.events.append(crypto.randomUUID(), Expected.any, e())).streamVersion,
      1,
    );
    assertEquals((await store.events.readStream(s)).map((x) => x.streamSeq), [1, 2, 3, 4, 5]);
    assertEquals(await store.events.streamVersion(s), 5);
    assertEquals(await store.events.streamVersion(crypto.randomUUID()), 0);
    assertEquals(await countEvents(store), 7);
  },
);

testBoth("an append reports the new version and its global positions in order", async (store) => {
  const s = crypto.randomUUID();
  const first = await store.events.append(s, Expected.noStream, [event("A", {}), event("B", {})]);
  const second = await store.events.append(s, Expected.exact(2), [event("C", {})]);
  assertEquals(first.streamVersion, 2);
  assertEquals(first.globalSeqs.length, 2);
  assert(
    first.globalSeqs[0]! < first.globalSeqs[1]! && first.globalSeqs[1]! < second.globalSeqs[0]!,
  );
  const read = await store.events.readStream(s);
  assertEquals(read.map((x) => [x.type, x.globalSeq]), [
    ["A", first.globalSeqs[0]],
    ["B", first.globalSeqs[1]],
    ["C", second.globalSeqs[0]],
  ]);
});

testBoth("non-serialisable data is a TypeError and nothing is written", async (store) => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const bad: unknown[] = [{ n: 1n }, cyclic, { f: () => 1 }, { nested: [Symbol("x")] }, undefined, {
    s: "\u0000",
  }];
  for (const data of bad) {
    const s = crypto.randomUUID();
    await assertRejects(
      () => store.events.append(s, Expected.any, [event("Ok", {}), { type: "Bad", data }]),
      TypeError,
      "Bad",
    );
  }
  await assertRejects(() => Promise.resolve(event("X", { n: 1n })), TypeError, "JSON");
  await assertRejects(
    () => store.events.append("not-a-uuid", Expected.any, [event("X", {})]),
    TypeError,
    "stream id",
  );
  await assertRejects(() => store.events.append(crypto.randomUUID(), Expected.any, []), TypeError);
  await assertRejects(
    () => store.events.append(crypto.randomUUID(), { kind: "nope" } as never, [event("X", {})]),
    TypeError,
  );
  await assertRejects(
    () =>
      store.events.append(crypto.randomUUID(), Expected.any, [event("X", {})], {
        headers: { f: () => 1 } as never,
      }),
    TypeError,
  );
  await assertRejects(
    () => Promise.resolve(event("X", {}, { version: 0 })),
    TypeError,
    "positive integer",
  );
  assertEquals(await countEvents(store), 0);
});

testBoth("envelopes carry headers, metadata, ids and versions", async (store) => {
  const s = crypto.randomUUID();
  await store.events.append(s, Expected.noStream, [
    event("Placed", { n: 1 }, { version: 2, metadata: { source: "web", reqId: "override" } }),
    event("Paid", { n: 2 }),
  ], { headers: { reqId: "r-1" }, causationId: "cmd-1", correlationId: "conv-1" });
  const [placed, paid] = await store.events.readStream(s);
  assertEquals(placed!.headers, { reqId: "override", source: "web" });
  assertEquals(placed!.eventVersion, 2);
  assertEquals(paid!.headers, { reqId: "r-1" });
  assertEquals(paid!.eventVersion, 1);
  for (const e of [placed!, paid!]) {
    assertEquals([e.causationId, e.correlationId, e.streamId], ["cmd-1", "conv-1", s]);
    assertEquals([e.tenantId, e.userId], [null, null]);
    assert(e.createdAt instanceof Date);
  }
  await store.events.append(s, Expected.exact(2), [event("One", {}, { metadata: { m: 1 } })]);
  assertEquals((await store.events.readStream(s, { fromVersion: 3 }))[0]!.headers, { m: 1 });
});

testBoth("session headers and ids apply under the append's own", async (store) => {
  const s = crypto.randomUUID();
  await store.events.append(s, Expected.any, [event("A", {})], { headers: { b: 2 } });
  await store.events.append(s, Expected.any, [event("B", {})], { causationId: "mine" });
  const [a, b] = await store.events.readStream(s);
  assertEquals(a!.headers, { source: "api", b: 2 });
  assertEquals([a!.causationId, a!.correlationId], ["c-default", "k-default"]);
  assertEquals([b!.causationId, b!.correlationId], ["mine", "k-default"]);
}, {
  session: { headers: { source: "api" }, causationId: "c-default", correlationId: "k-default" },
});

testBoth("the builder is immutable and sends everything it was given", async (store) => {
  const s = crypto.randomUUID();
  const template = store.events.builder(s).headers({ a: 1 }).causationId("c").correlationId("k");
  const withEvents = template.expected(Expected.noStream).push(event("A", {}))
    .headers({ b: 2 }).push(event("B", {}));
  await assertRejects(() => template.send(), TypeError, "at least one event");
  const result = await withEvents.idempotencyKey(`k-${s}`).send();
  assertEquals(result.streamVersion, 2);
  const read = await store.events.readStream(s);
  assertEquals(read.map((e) => [e.type, e.headers, e.causationId, e.correlationId]), [
    ["A", { a: 1, b: 2 }, "c", "k"],
    ["B", { a: 1, b: 2 }, "c", "k"],
  ]);
  const conflict = await assertRejects(
    () => template.expected(Expected.exact(1)).push(event("C", {})).send(),
    RillflowError,
  );
  assertEquals(conflict.code, "CONCURRENCY_CONFLICT");
  assertEquals(
    (await template.expected(Expected.exact(2)).push(event("C", {})).send()).streamVersion,
    3,
  );
  assertEquals((await template.push(event("D", {})).send()).streamVersion, 4); // Expected.any
});

testBoth("a category is recorded on first append and a different one is refused", async (store) => {
  const s = crypto.randomUUID();
  await store.events.append(s, Expected.noStream, [event("A", {})], { category: "orders" });
  await store.events.append(s, Expected.any, [event("B", {})], { category: "orders" });
  const error = await assertRejects(
    () => store.events.append(s, Expected.exact(2), [event("C", {})], { category: "invoices" }),
    RillflowError,
  );
  assertEquals(error.code, "INVALID_INPUT");
  assertEquals(error.details.category, "orders");
  assertEquals((await store.streams.describe(s))?.category, "orders");
  const later = crypto.randomUUID();
  await store.events.append(later, Expected.noStream, [event("A", {})]);
  await store.events.append(later, Expected.streamExists, [event("B", {})], { category: "late" });
  assertEquals((await store.streams.describe(later))?.category, "late");
  assertEquals(await store.events.streamVersion(s), 2);
});

testBoth(
  "concurrent Expected.any appends to one stream stay gapless and each gets its own result",
  async (store) => {
    const s = crypto.randomUUID();
    const { events, stats } = countingEvents(store);
    const results = await Promise.all(
      Array.from(
        { length: 40 },
        (_, i) =>
          events.append(s, Expected.any, [event("N", { i }), event("N2", { i })], {
            headers: { i },
            causationId: `c${i}`,
          }),
      ),
    );
    const read = await store.events.readStream(s);
    assertEquals(
      read.map((e) => e.streamSeq),
      Array.from({ length: 80 }, (_, i) => i + 1),
    );
    for (const [i, result] of results.entries()) {
      const mine = read.filter((e) => (e.data as { i: number }).i === i);
      assertEquals(mine.map((e) => e.type), ["N", "N2"]);
      assertEquals(mine.map((e) => e.globalSeq), result.globalSeqs);
      assertEquals(result.streamVersion, mine[1]!.streamSeq);
      assertEquals(
        mine[1]!.streamSeq,
        mine[0]!.streamSeq + 1,
        "one append's events are contiguous",
      );
      assertEquals([mine[0]!.headers, mine[0]!.causationId], [{ i }, `c${i}`]);
    }
    // Appends queued behind the one in flight went together: far fewer statements than appends.
    const appends = stats.texts.filter((t) => t.includes("insert into")).length;
    assert(appends <= 3, `40 concurrent appends took ${appends} statements`);
  },
);

testBoth("one failing append among concurrent ones fails alone", async (store) => {
  const s = crypto.randomUUID();
  const { executor, table, schema } = contextOf(store);
  // A database-side failure of one append only: a trigger refusing one payload.
  await executor.query(`create function "${schema}".refuse() returns trigger language plpgsql as
    $$ begin if new.data ? 'refuse' then raise exception 'refused'; end if; return new; end $$`);
  await executor.query(`create trigger refuse before insert on ${table("events")}
    for each row execute function "${schema}".refuse()`);
  const outcomes = await Promise.allSettled(
    Array.from(
      { length: 6 },
      (_, i) =>
        store.events.append(s, Expected.any, [
          event(i === 3 ? "Bad" : "Good", { i }),
          event("More", {
            i,
            ...(i === 3 ? { refuse: true } : {}),
          }),
        ]),
    ),
  );
  assertEquals(outcomes.map((o) => o.status), [
    "fulfilled",
    "fulfilled",
    "fulfilled",
    "rejected",
    "fulfilled",
    "fulfilled",
  ]);
  const failure = (outcomes[3] as PromiseRejectedResult).reason;
  assert(failure instanceof RillflowError && failure.code === "DATABASE_ERROR", String(failure));
  const read = await store.events.readStream(s);
  assertEquals(read.length, 10);
  assertEquals(read.map((e) => e.streamSeq), Array.from({ length: 10 }, (_, i) => i + 1));
  assertEquals(read.some((e) => e.type === "Bad"), false);
});

testServer(
  "16 concurrent writers with Expected.exact: gapless, one winner per version",
  async (url) => {
    const store = await StoreClass.connect(url, {
      schema: freshSchema(),
      autoMigrate: true,
      maxConnections: 17,
    });
    try {
      const s = crypto.randomUUID();
      const target = 96;
      const winners = new Map<number, number[]>();
      let conflicts = 0;
      await Promise.all(Array.from({ length: 16 }, async (_, writer) => {
        while (true) {
          const version = await store.events.streamVersion(s);
          if (version >= target) return;
          try {
            await store.events.append(s, Expected.exact(version), [
              event("W", { writer, version }),
            ]);
            winners.set(version, [...(winners.get(version) ?? []), writer]);
          } catch (error) {
            if (
              !(error instanceof RillflowError) || error.code !== "CONCURRENCY_CONFLICT"
            ) throw error;
            assert(typeof error.details.actual === "number" && error.details.actual > version);
            conflicts++;
          }
        }
      }));
      const read = await store.events.readStream(s);
      assertEquals(read.map((e) => e.streamSeq), Array.from({ length: target }, (_, i) => i + 1));
      for (let v = 0; v < target; v++) {
        assertEquals(winners.get(v)?.length, 1, `version ${v} must have exactly one winner`);
        const data = read[v]!.data as { writer: number; version: number };
        assertEquals([data.writer, data.version], [winners.get(v)![0], v]);
      }
      assert(conflicts > 0, "16 racing writers must have conflicted at least once");
    } finally {
      await dropSchemaAndClose(store);
    }
  },
);

testBoth("appends to an archived stream raise STREAM_ARCHIVED and write nothing", async (store) => {
  const s = crypto.randomUUID();
  await store.events.append(s, Expected.noStream, [event("A", {})]);
  const { executor, table } = contextOf(store);
  // Archiving itself is another issue's; mark the stream's metadata row the way it will.
  await executor.query(
    `insert into ${table("streams")} (stream_id, archived_at) values ($1, now())
     on conflict (stream_id) do update set archived_at = now()`,
    [s],
  );
  for (
    const expected of [Expected.any, Expected.exact(1), Expected.streamExists, Expected.noStream]
  ) {
    const error = await assertRejects(
      () => store.events.append(s, expected, [event("B", {})]),
      RillflowError,
      "archived",
    );
    assertEquals(error.code, "STREAM_ARCHIVED");
  }
  const concurrent = await Promise.allSettled(
    Array.from({ length: 5 }, () => store.events.append(s, Expected.any, [event("C", {})])),
  );
  for (const outcome of concurrent) {
    assertEquals(outcome.status, "rejected");
    assertEquals((outcome as PromiseRejectedResult).reason.code, "STREAM_ARCHIVED");
  }
  assertEquals(await countEvents(store), 1);
});

testServer(
  "Expected.any appends racing from several stores all land: on the pool, inline, in sessions",
  async (url) => {
    const schema = freshSchema();
    const counted: Projection = {
      eventTypes: ["Inline"],
      apply: async (envelope, tx) =>
        void await tx.query("insert into inline_seen (stream_seq) values ($1)", [
          envelope.streamSeq,
        ]),
    };
    const open = () =>
      StoreClass.connect(url, {
        schema,
        autoMigrate: true,
        maxConnections: 6,
        projections: { inline: { counted } },
      });
    const first = await open();
    await contextOf(first).executor.query(
      `create table "${schema}".inline_seen (stream_seq int primary key)`,
    );
    // Separate pools: appends of one store to one stream are combined in process, so only
    // several stores (as several processes would) race for the stream's next version.
    const stores = [first, ...await Promise.all(Array.from({ length: 3 }, open))];
    try {
      const s = crypto.randomUUID();
      const perStore = 30;
      await Promise.all(stores.flatMap((store, n) => [
        (async () => {
          for (let i = 0; i < perStore; i++) {
            await store.events.append(s, Expected.any, [event("Pool", { n, i })]);
          }
        })(),
        (async () => {
          for (let i = 0; i < perStore / 3; i++) {
            await store.events.append(s, Expected.any, [event("Inline", { n, i })]);
          }
        })(),
        (async () => {
          for (let i = 0; i < perStore / 3; i++) {
            const session = store.session();
            session.store("things", crypto.randomUUID(), { n, i });
            session.enqueueEvent(s, Expected.any, event("Session", { n, i }));
            await session.saveChanges();
          }
        })(),
      ]));
      const read = await first.events.readStream(s);
      const total = stores.length * (perStore + 2 * (perStore / 3));
      assertEquals(read.map((e) => e.streamSeq), Array.from({ length: total }, (_, i) => i + 1));
      assertEquals(read.filter((e) => e.type === "Session").length, stores.length * perStore / 3);
      const inline = read.filter((e) => e.type === "Inline").map((e) => e.streamSeq);
      const seen = await contextOf(first).executor.query<{ stream_seq: number }>(
        `select stream_seq from "${schema}".inline_seen order by stream_seq`,
      );
      assertEquals(seen.map((r) => r.stream_seq), inline, "each inline event applied once");
      assertEquals(await first.docs("things").query().count(), stores.length * perStore / 3);
    } finally {
      for (const store of stores.slice(1)) await store.close();
      await dropSchemaAndClose(first);
    }
  },
);

testServer("a noStream append that loses a race reports the winner's version", async (url) => {
  const schema = freshSchema();
  const stores = await Promise.all(
    Array.from({ length: 4 }, () => StoreClass.connect(url, { schema, autoMigrate: true })),
  );
  try {
    for (let round = 0; round < 5; round++) {
      const s = crypto.randomUUID();
      const outcomes = await Promise.allSettled(
        stores.map((store, n) =>
          store.events.append(s, Expected.noStream, [event("A", { n }), event("B", { n })])
        ),
      );
      const won = outcomes.filter((o) => o.status === "fulfilled");
      assertEquals(won.length, 1, "exactly one creator");
      for (const outcome of outcomes) {
        if (outcome.status === "fulfilled") continue;
        const error = outcome.reason as RillflowError;
        assertEquals(error.code, "CONCURRENCY_CONFLICT");
        assertEquals([error.details.expected, error.details.actual], ["noStream", 2]);
      }
      assertEquals((await stores[0]!.events.readStream(s)).length, 2);
    }
  } finally {
    for (const store of stores.slice(1)) await store.close();
    await dropSchemaAndClose(stores[0]!);
  }
});
