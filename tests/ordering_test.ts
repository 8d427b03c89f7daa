import { assert, assertEquals } from "./_assert.ts";
import { testBoth, testServer } from "./_backends.ts";
import { event, Expected, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { prepareAppend } from "../src/events/append_input.ts";
import { runAppend, writeEnvelopes } from "../src/events/append.ts";
import { freshSchema } from "./_backends.ts";
import { APPEND_SHAPES, type AppendShape } from "../src/events/append_sql.ts";
import { appendOutOfOrder, openAppend } from "./_out_of_order.ts";

testServer("a reader never passes an open append that took a lower position", async (url) => {
  const schema = freshSchema();
  const store = await Store.connect(url, { schema, autoMigrate: true });
  const gate = Promise.withResolvers<void>();
  try {
    const slow = openAppend(store, crypto.randomUUID(), gate.promise);
    const a = await slow.appended;
    const b = (await store.events.append(crypto.randomUUID(), Expected.any, [event("Fast", {})]))
      .globalSeqs[0]!;
    assert(b > a, `B (${b}) must take a higher position than A (${a})`);

    const held = await store.events.watermark();
    assert(held.position < a, `watermark ${held.position} must stay below A's position ${a}`);
    assertEquals(held.blockedBy.length, 1);
    assert(held.blockedBy[0]!.pid > 0);
    assert(held.blockedBy[0]!.xactStart instanceof Date);
    assert(held.heldBackMs >= 0);
    const early = await store.events.readAll();
    assertEquals(
      early.filter((e) => e.globalSeq >= a),
      [],
      "B must not be visible past the watermark",
    );

    gate.resolve();
    await slow.committed;
    const after = await store.events.readAll({ after: held.position });
    assertEquals(after.map((e) => e.globalSeq), [a, b]);
    const free = await store.events.watermark();
    assertEquals(free.position, b);
    assertEquals(free.blockedBy, []);
    assertEquals(free.heldBackMs, 0);
  } finally {
    gate.resolve();
    await contextOf(store).executor.query(`drop schema "${schema}" cascade`);
    await store.close();
  }
});

testServer(
  "8 writers with delayed commits: a polling reader sees every event once, in order",
  async (url) => {
    const schema = freshSchema();
    const store = await Store.connect(url, { schema, autoMigrate: true, maxConnections: 12 });
    const context = contextOf(store);
    try {
      const perWriter = 25;
      let writing = true;
      const writers = appendOutOfOrder(store, 8, perWriter);
      const seen: number[] = [];
      const reader = (async () => {
        let after = 0;
        while (writing || after < (await store.events.watermark()).position) {
          const batch = await store.events.readAll({ after, limit: 50 });
          for (const envelope of batch) {
            assert(envelope.globalSeq > after, "positions must ascend");
            seen.push(envelope.globalSeq);
            after = envelope.globalSeq;
          }
          if (batch.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        }
      })();
      await writers;
      writing = false;
      await reader;
      const all = await context.executor.query<{ global_seq: number }>(
        `select global_seq from ${context.table("events")} order by global_seq`,
      );
      assertEquals(seen.length, 8 * perWriter);
      assertEquals(seen, all.map((r) => r.global_seq));
    } finally {
      await context.executor.query(`drop schema "${schema}" cascade`);
      await store.close();
    }
  },
);

testBoth("readAll returns events in global order, filtered and paged", async (store) => {
  const s1 = crypto.randomUUID();
  const s2 = crypto.randomUUID();
  await store.events.append(s1, Expected.noStream, [event("A", { n: 1 }), event("B", { n: 2 })]);
  await store.events.append(s2, Expected.noStream, [event("A", { n: 3 })]);
  const all = await store.events.readAll();
  assertEquals(all.map((e) => e.data), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  assertEquals((await store.events.readAll({ eventTypes: ["A"] })).map((e) => e.data), [
    { n: 1 },
    { n: 3 },
  ]);
  const page = await store.events.readAll({ after: all[0]!.globalSeq, limit: 1 });
  assertEquals(page.map((e) => e.data), [{ n: 2 }]);
  assertEquals((await store.events.watermark()).position, all[2]!.globalSeq);
});

testServer(
  "every append statement variant keeps the watermark below its positions until commit",
  async (url) => {
    const schema = freshSchema();
    const store = await Store.connect(url, { schema, autoMigrate: true });
    const context = contextOf(store);
    const existing = crypto.randomUUID();
    await store.events.append(existing, Expected.noStream, [event("Seed", {})]);
    let version = 1;
    // An append of each statement shape that succeeds: new streams for any and create, the
    // existing stream at its version for exact and exists.
    const prepare = (shape: AppendShape) => {
      const onExisting = shape.check === "exact" || shape.check === "exists";
      const expected = {
        any: Expected.any,
        create: Expected.noStream,
        exact: Expected.exact(version),
        exists: Expected.streamExists,
      }[shape.check];
      if (onExisting) version += shape.events === "one" ? 1 : 2;
      return prepareAppend(
        context,
        onExisting ? existing : crypto.randomUUID(),
        expected,
        {
          one: [event("V", {})],
          uniform: [event("V", { n: 1 }), event("V", { n: 2 })],
          mixed: [event("V", {}, { metadata: { m: 1 } }), event("V", {})],
        }[shape.events],
        {
          idempotencyKey: shape.keyed ? crypto.randomUUID() : undefined,
          category: shape.categorized ? "orders" : undefined,
        },
      );
    };
    try {
      for (const shape of APPEND_SHAPES) {
        const name = JSON.stringify(shape);
        const gate = Promise.withResolvers<void>();
        const appended = Promise.withResolvers<number>();
        const committed = context.executor.transaction(async (tx) => {
          const prepared = prepare(shape);
          appended.resolve(
            shape.envelopes
              ? (await writeEnvelopes(tx, context, prepared))[0]!.global_seq
              : (await runAppend(tx, context, prepared)).globalSeqs[0]!,
          );
          await gate.promise;
        });
        committed.catch(appended.reject);
        const position = await appended.promise;
        const later = await store.events.append(crypto.randomUUID(), Expected.any, [
          event("Later", {}),
        ]);
        const held = await store.events.watermark();
        assert(held.position < position, `${name}: watermark ${held.position} < ${position}`);
        assert(
          !(await store.events.readAll({ after: held.position })).some((e) =>
            e.globalSeq >= position
          ),
        );
        gate.resolve();
        await committed;
        assertEquals((await store.events.watermark()).position, later.globalSeqs[0], name);
      }
    } finally {
      await context.executor.query(`drop schema "${schema}" cascade`);
      await store.close();
    }
  },
);
