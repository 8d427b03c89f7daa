import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { testServer } from "./_backends.ts";
import { RillflowError, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { APPLICATION_NAME, wireTarget } from "../src/db/wire.ts";
import type { Executor } from "../src/db/executor.ts";

/**
 * A server test with the executor of a store of three connections (the native one and a pool of
 * two) and a table name of its own, dropped afterwards.
 */
function testNative(name: string, fn: (executor: Executor, table: string) => Promise<void>): void {
  testServer(name, async (url) => {
    const store = await Store.connect(url, { autoMigrate: false, maxConnections: 3 });
    const { executor } = contextOf(store);
    const table = `wire_${crypto.randomUUID().slice(0, 8)}`;
    try {
      await fn(executor, table);
    } finally {
      await executor.query(`drop table if exists ${table}`);
      await store.close();
    }
  });
}

/** Runs a statement on the native connection and, in a transaction, on postgres.js. */
async function both(executor: Executor, text: string, params: unknown[] = []) {
  const native = await executor.query(text, params);
  const driver = await executor.transaction((tx) => tx.query(text, params));
  return { native, driver };
}

async function servedNatively(executor: Executor): Promise<boolean> {
  const [row] = await executor.query<{ app: string }>(
    "select current_setting('application_name') as app",
  );
  return row!.app === APPLICATION_NAME;
}

testNative(
  "the native connection returns what postgres.js returns, type by type",
  async (executor) => {
    assert(await servedNatively(executor), "statements outside transactions run natively");
    const [inTx] = await executor.transaction((tx) =>
      tx.query<{ app: string }>("select current_setting('application_name') as app")
    );
    assert(inTx!.app !== APPLICATION_NAME, "transactions run on postgres.js");
    const statements: Array<[string, unknown[]]> = [
      [
        `select 1::int2 as a, 2::int4 as b, 9007199254740991::int8 as c, 1.5::float8 as d,
              12.50::numeric as e, true as f, false as g, null::int as h, 'x'::text as h,
              'f0e1d2c3-0000-4000-8000-000000000001'::uuid as i, 42::oid as j,
              '{"a":[1,{"b":null}]}'::jsonb as k, '[1, 2]'::json as l,
              '2026-11-29 10:00:00.123+00'::timestamptz as m, '2026-11-29 10:00'::timestamp as n,
              '2026-11-29'::date as o, '1 day 2 hours'::interval as p, 'ü€😀 ''q'''::text as q,
              pg_sleep(0) as r, 1 as "?column?", 2 as "?column?"`,
        [],
      ],
      [
        `select array[1,2,null]::int8[] as a, array['a,b', 'c"d', 'e\\f', null, 'NULL', '']::text[] as b,
              array['{"x":1}'::jsonb, '[2]'] as c, array[array[1,2],array[3,4]] as d,
              '{}'::int[] as e, array[true,false] as f, array['2026-11-29 10:00+00'::timestamptz] as g,
              array['f0e1d2c3-0000-4000-8000-000000000001'::uuid] as h, array[1.5::numeric] as i`,
        [],
      ],
      [
        `select $1::text as a, $2::int as b, $3::int8 as c, $4::jsonb as d, $5::text[] as e,
              $6::int[] as f, $7::text as g, $8::float8 as h, $9::jsonb as i, $10::int[] as j`,
        [
          "ü€😀 x",
          7,
          12345678901,
          '{"k":"v"}',
          ["a,b", 'q"', "\\", null, ""],
          [1, null, 3],
          null,
          1e-7,
          "[1,2]",
          [],
        ],
      ],
    ];
    for (const [text, params] of statements) {
      const { native, driver } = await both(executor, text, params);
      assertEquals(native, driver, text);
    }
  },
);

testNative("the native connection reads large rows and many rows", async (executor) => {
  const big = "é".repeat(150_000); // 300 KB in UTF-8: larger than the read buffer
  const [row] = await executor.query<{ v: string; n: number }>(
    "select $1::text as v, length($1::text) as n",
    [big],
  );
  assertEquals(row, { v: big, n: 150_000 });
  const rows = await executor.query<{ i: number; s: string }>(
    "select i, repeat('x', i % 50) as s from generate_series(1, 20000) as i",
  );
  assertEquals(rows.length, 20_000);
  assertEquals(rows[19_999], { i: 20_000, s: "x".repeat(0) });
  assertEquals(rows[48], { i: 49, s: "x".repeat(49) });
  assert(await servedNatively(executor));
});

testNative(
  "server errors on the native connection map like postgres.js's and leave it usable",
  async (executor, table) => {
    await executor.query(`create table ${table} (id int constraint ${table}_pk primary key)`);
    await executor.query(`insert into ${table} values (1)`);
    for (
      const failing of [
        executor.query,
        (t: string, p: unknown[]) => executor.transaction((tx) => tx.query(t, p)),
      ]
    ) {
      const error = await assertRejects(
        () => failing(`insert into ${table} values ($1)`, [1]),
        RillflowError,
      );
      assertEquals(error.code, "DATABASE_ERROR");
      assertEquals(error.details.sqlState, "23505");
      assertEquals(error.details.constraint, `${table}_pk`);
      assertEquals(error.details.table, table);
      const invalid = await assertRejects(() => failing("select $1::int", ["x"]), RillflowError);
      assertEquals(invalid.code, "INVALID_INPUT");
    }
    // postgres.js refuses a text that is no date for a timestamptz parameter before sending.
    await assertRejects(
      () => executor.query("select $1::timestamptz", ["not a date"]),
      RangeError,
    );
    const syntax = await assertRejects(() => executor.query("selec 1"), RillflowError);
    assertEquals(syntax.details.sqlState, "42601");
    assertEquals(await executor.query("select 1 as ok"), [{ ok: 1 }]);
    assert(await servedNatively(executor));
  },
);

testNative(
  "a prepared statement whose table changed is prepared again",
  async (executor, table) => {
    await executor.query(`create table ${table} (a int)`);
    await executor.query(`insert into ${table} values (1)`);
    assertEquals(await executor.query(`select * from ${table}`), [{ a: 1 }]);
    await executor.query(`alter table ${table} add column b text default 'x'`);
    assertEquals(await executor.query(`select * from ${table}`), [{ a: 1, b: "x" }]);
  },
);

testNative("values the native connection does not speak go to postgres.js", async (executor) => {
  // bytea results and boolean, date or binary parameters: postgres.js types them itself.
  const { native, driver } = await both(
    executor,
    "select '\\x0102'::bytea as b, $1::bool as t, $2::timestamptz as d, $3::bytea as e",
    [true, new Date("2026-11-29T10:00:00Z"), new Uint8Array([3, 4])],
  );
  assertEquals(native, driver);
  assertEquals([...(native[0]!.b as Uint8Array)], [1, 2]);
  assertEquals(native[0]!.t, true);
  const [app] = await executor.query<{ app: string }>(
    "select current_setting('application_name') as app, $1::bool as t",
    [false],
  );
  assert(app!.app !== APPLICATION_NAME, "a boolean parameter is bound by postgres.js");
});

Deno.test("the native connection serves plain URLs; passwords, TLS and options go to postgres.js", () => {
  assertEquals(wireTarget("postgres://postgres@127.0.0.1:5432/test"), {
    hostname: "127.0.0.1",
    port: 5432,
    user: "postgres",
    database: "test",
  });
  assertEquals(wireTarget("postgresql://ada@[::1]/")?.database, "ada");
  assertEquals(
    wireTarget("postgres://ada@db.internal/app?sslmode=disable")?.hostname,
    "db.internal",
  );
  assertEquals(wireTarget("postgres://ada:secret@127.0.0.1/app"), null);
  assertEquals(wireTarget("postgres://ada@127.0.0.1/app?sslmode=require"), null);
  assertEquals(wireTarget("postgres://ada@127.0.0.1/app?host=/var/run/postgresql"), null);
});

testNative("concurrent statements each get their own rows, prepared or not", async (executor) => {
  for (let round = 0; round < 3; round++) {
    // New texts (prepared on whichever connection takes them) and known ones, all at once.
    const results = await Promise.all(
      Array.from(
        { length: 60 },
        (_, i) => executor.query<{ v: number }>(`select $1::int + ${i % 20} as v`, [i * 100]),
      ),
    );
    assertEquals(results.map(([row]) => row!.v), results.map((_, i) => i * 100 + (i % 20)));
  }
});
