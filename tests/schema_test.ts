import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { freshSchema, SERVER_URL, testBoth, testServer } from "./_backends.ts";
import { RillflowError, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { SchemaManager } from "../src/schema/schema_manager.ts";
import { MIGRATIONS } from "../src/schema/migrations.ts";

testBoth("a fresh schema plans every migration, sync applies them once", async (store) => {
  assertEquals((await store.schema.plan()).map((m) => m.name), MIGRATIONS.map((m) => m.name));
  assertEquals((await store.schema.sync()).length, MIGRATIONS.length);
  assertEquals(await store.schema.plan(), []);
  assertEquals(await store.schema.sync(), []);
  const report = await store.schema.drift();
  assertEquals(report.items, []);
  assert(report.ok);
}, { autoMigrate: false });

testBoth("drift reports a pending schema", async (store) => {
  const report = await store.schema.drift();
  assert(!report.ok);
  assertEquals(report.items.map((i) => i.kind), MIGRATIONS.map(() => "pending"));
}, { autoMigrate: false });

testBoth("drift reports manual catalog changes", async (store) => {
  const { executor, schema } = contextOf(store);
  await executor.query(`alter table "${schema}".docs add column sneaky text`);
  await executor.query(`drop index "${schema}".events_type_global_seq`);
  await executor.query(`alter table "${schema}".streams alter column category type varchar(20)`);
  const report = await store.schema.drift();
  assert(!report.ok);
  const found = report.items.map((i) => `${i.kind} ${i.object}`).sort();
  assertEquals(found, [
    "column-type streams.category",
    "extra-column docs.sneaky",
    "missing-index events_type_global_seq",
  ]);
});

testBoth("an applied migration whose file changed is drift and is never re-run", async (store) => {
  const { executor, schema } = contextOf(store);
  const edited = MIGRATIONS.map((m, i) =>
    i === 0 ? { ...m, up: m.up + "\n-- edited after release\n" } : m
  );
  const manager = new SchemaManager(executor, schema, edited);
  assertEquals(await manager.sync(), []);
  const report = await manager.drift();
  assertEquals(report.items.map((i) => `${i.kind} ${i.object}`), [
    "checksum-mismatch 0001_init",
  ]);
});

testBoth("down reverts every migration and sync brings them back", async (store) => {
  const reverted = await store.schema.down();
  assertEquals(reverted.map((m) => m.version), MIGRATIONS.map((m) => m.version).reverse());
  assertEquals((await store.schema.plan()).length, MIGRATIONS.length);
  const { executor, schema } = contextOf(store);
  const [row] = await executor.query<{ n: number }>(
    "select count(*)::int as n from pg_tables where schemaname = $1 and tablename <> 'rillflow_migrations'",
    [schema],
  );
  assertEquals(row?.n, 0);
  await store.schema.sync();
  assert((await store.schema.drift()).ok);
});

testBoth("down rejects a negative target and changes nothing", async (store) => {
  await assertRejects(() => store.schema.down(-1), RangeError);
  assertEquals(await store.schema.plan(), []);
});

Deno.test("invalid schema names are rejected before anything runs", async () => {
  for (const schema of [`"; drop table x; --`, "Public", "1abc", "a-b", "", "x".repeat(64)]) {
    await assertRejects(
      () => Store.connect("pglite://memory", { schema }),
      TypeError,
      "Invalid schema name",
    );
  }
  assertThrows(() => new SchemaManager(undefined as never, "bad name"), TypeError);
});

testServer("migrations applied concurrently from two connections apply once", async (url) => {
  const schema = freshSchema();
  const [a, b] = await Promise.all([
    Store.connect(url, { schema }),
    Store.connect(url, { schema }),
  ]);
  try {
    const [ranA, ranB] = await Promise.all([a.schema.sync(), b.schema.sync()]);
    assertEquals(ranA.length + ranB.length, MIGRATIONS.length);
    const [row] = await contextOf(a).executor.query<{ n: number }>(
      `select count(*)::int as n from "${schema}".rillflow_migrations`,
    );
    assertEquals(row?.n, MIGRATIONS.length);
    assert((await b.schema.drift()).ok);
  } finally {
    await contextOf(a).executor.query(`drop schema if exists "${schema}" cascade`);
    await Promise.all([a.close(), b.close()]);
  }
});

testServer("autoMigrate is off by default on a server and on when asked", async (url) => {
  const schema = freshSchema();
  const plain = await Store.connect(url, { schema });
  try {
    assertEquals((await plain.schema.plan()).length, MIGRATIONS.length);
    const migrated = await Store.connect(url, { schema, autoMigrate: true });
    assertEquals(await migrated.schema.plan(), []);
    await migrated.close();
  } finally {
    await contextOf(plain).executor.query(`drop schema if exists "${schema}" cascade`);
    await plain.close();
  }
});

Deno.test("unsupported URLs are connection errors", async () => {
  for (const url of ["mysql://x/y", "", "not a url"]) {
    const error = await assertRejects(() => Store.connect(url), RillflowError);
    assertEquals(error.code, "CONNECTION_ERROR");
  }
});

Deno.test("a refused connection is a typed error naming host and database, not the password", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close(); // nothing listens there now
  const error = await assertRejects(
    () =>
      Store.connect(`postgres://app:s3cr3t-pw@127.0.0.1:${port}/orders`, {
        connectTimeoutMs: 3000,
      }),
    RillflowError,
  );
  assertEquals(error.code, "CONNECTION_ERROR");
  assert(error.message.includes(`127.0.0.1:${port}`), error.message);
  assert(error.message.includes(`"orders"`), error.message);
  assert(!error.message.includes("s3cr3t-pw"), error.message);
  assert(error.retryable);
});

Deno.test("a server that never answers fails within the connect timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) held.push(conn); // accept, never answer
  })().catch(() => {});
  const started = Date.now();
  try {
    const error = await assertRejects(
      () =>
        Store.connect(`postgres://app:hunter2@127.0.0.1:${listener.addr.port}/db`, {
          connectTimeoutMs: 500,
        }),
      RillflowError,
    );
    assertEquals(error.code, "CONNECTION_ERROR");
    assert(error.message.includes("500 ms"), error.message);
    assert(!error.message.includes("hunter2"));
    assert(Date.now() - started < 5000);
  } finally {
    listener.close();
    for (const conn of held) conn.close();
  }
});

testServer(
  "an unknown database or role is a connection error without the password",
  async (url) => {
    const parsed = new URL(url);
    parsed.password = "pa55word";
    parsed.pathname = "/no_such_database_rillflow";
    const error = await assertRejects(() => Store.connect(parsed.toString()), RillflowError);
    assertEquals(error.code, "CONNECTION_ERROR");
    assert(error.message.includes("no_such_database_rillflow"), error.message);
    assert(!error.message.includes("pa55word"), error.message);
  },
);

if (!SERVER_URL) console.warn("schema_test: concurrency and server tests need PostgreSQL");

testServer("autoMigrate refuses a schema whose applied migration changed", async (url) => {
  const schema = freshSchema();
  const store = await Store.connect(url, { schema, autoMigrate: true });
  const { executor } = contextOf(store);
  try {
    await executor.query(
      `update "${schema}".rillflow_migrations set checksum = 'edited' where version = 1`,
    );
    const error = await assertRejects(
      () => Store.connect(url, { schema, autoMigrate: true }),
      RillflowError,
      "0001_init",
    );
    assertEquals(error.code, "DATABASE_ERROR");
    assert(error.message.includes("rillflow health schema"), error.message);
    const plain = await Store.connect(url, { schema }); // without autoMigrate: no check
    assertEquals((await plain.schema.changedMigrations()).map((i) => i.kind), [
      "checksum-mismatch",
    ]);
    await plain.close();
  } finally {
    await executor.query(`drop schema if exists "${schema}" cascade`);
    await store.close();
  }
});

Deno.test("autoMigrate refuses a persisted embedded database whose migration changed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rillflow_pglite_" });
  try {
    const first = await Store.connect(`pglite:${dir}`);
    await contextOf(first).executor.query("update rillflow_migrations set checksum = 'edited'");
    await first.close();
    const error = await assertRejects(
      () => Store.connect(`pglite:${dir}`),
      RillflowError,
      "drifted",
    );
    assertEquals(error.code, "DATABASE_ERROR");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
