import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { testBoth, testServer } from "./_backends.ts";
import type { InternalTx, Queryable } from "../src/db/executor.ts";
import { event, Expected, RillflowError, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { storeOnSchema } from "../src/store.ts";

testBoth("documents and events store JSON objects, not JSON strings", async (store) => {
  const id = crypto.randomUUID();
  assertEquals(await store.docs().put(id, { name: "Ada", tags: ["a"] }), 1);
  assertEquals(await store.docs().get(id), { doc: { name: "Ada", tags: ["a"] }, version: 1 });
  await store.events.append(id, Expected.noStream, [event("Registered", { n: 1 })]);
  const { executor, table } = contextOf(store);
  const [row] = await executor.query<{ d: string; e: string }>(
    `select jsonb_typeof(d.doc) as d, (select jsonb_typeof(data) from ${table("events")}) as e
       from ${table("docs")} d where id = $1`,
    [id],
  );
  assertEquals(row, { d: "object", e: "object" });
});

testBoth("a Tx runs tagged queries with bound values", async (store) => {
  const { executor } = contextOf(store);
  const hostile = "'; drop table docs; --";
  const rows = await executor.transaction((tx) =>
    tx.sql<{ v: string; n: number }>`select ${hostile}::text as v, ${41}::int + 1 as n`
  );
  assertEquals(rows, [{ v: hostile, n: 42 }]);
});

testBoth("a failed transaction rolls back and keeps the caller's error", async (store) => {
  const { executor, table } = contextOf(store);
  class Oops extends Error {}
  await assertRejects(
    () =>
      executor.transaction(async (tx) => {
        await tx.query(`insert into ${table("docs")} (id, doc) values ($1, '{}')`, [
          crypto.randomUUID(),
        ]);
        throw new Oops("boom");
      }),
    Oops,
  );
  const [row] = await executor.query<{ n: number }>(
    `select count(*)::int as n from ${table("docs")}`,
  );
  assertEquals(row?.n, 0);
});

testBoth("SQL errors become typed errors without the query text", async (store) => {
  const { executor } = contextOf(store);
  const error = await assertRejects(
    () => executor.query("select 1/0 where $1::text = 'secret-param'", ["secret-param"]),
    RillflowError,
  );
  assertEquals(error.code, "DATABASE_ERROR");
  assertEquals(error.details.sqlState, "22012");
  assert(!error.message.includes("secret-param"));
  const invalid = await assertRejects(
    () => executor.query("select $1::uuid", ["not-a-uuid"]),
    RillflowError,
  );
  assertEquals(invalid.code, "INVALID_INPUT");
});

testBoth("COPY loads rows in text format", async (store) => {
  const { executor, table } = contextOf(store);
  const ids = [crypto.randomUUID(), crypto.randomUUID()];
  await executor.transaction((tx) =>
    tx.copyIn(table("docs"), ["id", "doc"], ids.map((id, i) => `${id}\t{"i": ${i}}\n`).join(""))
  );
  const rows = await executor.query<{ doc: unknown }>(
    `select doc from ${table("docs")} order by doc->>'i'`,
  );
  assertEquals(rows.map((r) => r.doc), [{ i: 0 }, { i: 1 }]);
});

testBoth("LISTEN receives NOTIFY payloads", async (store) => {
  const { executor } = contextOf(store);
  const channel = `c_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const received = Promise.withResolvers<string>();
  const listener = await executor.listen(channel, (payload) => received.resolve(payload));
  try {
    await executor.query("select pg_notify($1, $2)", [channel, "hello"]);
    assertEquals(await received.promise, "hello");
  } finally {
    await listener.unlisten();
  }
});

testBoth("a dedicated connection holds session advisory locks", async (store) => {
  const { executor } = contextOf(store);
  const connection = await executor.dedicated();
  try {
    const [row] = await connection.query<{ locked: boolean }>(
      "select pg_try_advisory_lock(424242) as locked",
    );
    assertEquals(row?.locked, true);
    await connection.query("select pg_advisory_unlock(424242)");
  } finally {
    await connection.release();
  }
});

testBoth("closing a store view leaves its owner usable", async (store) => {
  const view = storeOnSchema(store, "public");
  await view.close();
  const [row] = await contextOf(store).executor.query<{ one: number }>("select 1 as one");
  assertEquals(row?.one, 1);
});

testBoth("a savepoint confines a SQL error and keeps the transaction usable", async (store) => {
  const { executor } = contextOf(store);
  const rows = await executor.transaction(async (tx) => {
    await assertRejects(
      () => tx.savepoint((sp) => sp.query("select * from no_such_table")),
      RillflowError,
    );
    const kept = await tx.savepoint((sp) => sp.sql<{ n: number }>`select ${1}::int as n`);
    return [...kept, ...await tx.query<{ n: number }>("select 2 as n")];
  });
  assertEquals(rows, [{ n: 1 }, { n: 2 }]);
});

testServer(
  "a connection lost mid-transaction fails it cleanly and the pool recovers",
  async (url) => {
    const store = await Store.connect(url, { autoMigrate: false });
    const { executor } = contextOf(store);
    try {
      const kill = (tx: Queryable) => tx.query("select pg_terminate_backend(pg_backend_pid())");
      const cases: Array<(tx: InternalTx) => Promise<unknown>> = [
        (tx) => kill(tx),
        (tx) => kill(tx).catch(() => "swallowed"),
        async (tx) => {
          await kill(tx).catch(() => {});
          return await tx.query("select 1");
        },
        (tx) => tx.savepoint((sp) => kill(sp)),
        (tx) => tx.savepoint((sp) => kill(sp)).catch(() => "swallowed"),
      ];
      for (const work of cases) {
        const error = await assertRejects(() => executor.transaction(work), RillflowError);
        assertEquals(error.code, "CONNECTION_ERROR");
        assertEquals(await executor.query("select 1 as ok"), [{ ok: 1 }]);
      }
    } finally {
      await store.close();
    }
  },
);

testServer(
  "a pooled connection that is lost is not used again, and statements do not hang",
  async (url) => {
    const store = await Store.connect(url, { autoMigrate: false, maxConnections: 2 });
    const { executor } = contextOf(store);
    const pid = async () =>
      (await executor.query<{ pid: number }>("select pg_backend_pid() as pid"))[0]!.pid;
    try {
      const lost = await pid();
      await executor.query("select pg_terminate_backend($1)", [lost]).catch(() => {});
      await executor.query("select 1").catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("statements hang after a lost connection")),
          5000,
        );
      });
      const recent: number[] = [];
      try {
        for (let i = 0; i < 6; i++) recent.push(await Promise.race([pid(), hung]));
      } finally {
        clearTimeout(timer);
      }
      assert(!recent.includes(lost), "the lost connection is not used again");
    } finally {
      await store.close();
    }
  },
);
