import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, testBoth, testServer } from "./_backends.ts";
import { event, Expected, RillflowError, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { main } from "../src/cli/main.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

testBoth("resolve gives a stable id per alias and records its category", async (store) => {
  const id = await store.streams.resolve("orders:42");
  assert(UUID.test(id), id);
  assertEquals(await store.streams.resolve("orders:42"), id);
  assertEquals(await store.streams.lookup("orders:42"), id);
  const other = await store.streams.resolve("orders:43");
  assert(other !== id);
  assertEquals(await store.streams.lookup("orders:44"), null, "lookup never creates");
  const info = await store.streams.describe("orders:42");
  assertEquals(
    [info?.streamId, info?.version, info?.category, info?.archived, info?.aliases],
    [id, 0, "orders", false, ["orders:42"]],
  );
  assertEquals((await store.streams.describe(id))?.aliases, ["orders:42"]);
  assertEquals(await store.streams.describe("orders:44"), null);
  assertEquals(await store.streams.describe(crypto.randomUUID()), null);
  assertEquals(
    (await store.streams.describe(await store.streams.resolve("plain")))?.category,
    null,
  );
  assertEquals((await store.streams.describe(await store.streams.resolve(":x")))?.category, null);
  await assertRejects(() => store.streams.resolve(""), TypeError, "alias");
  await assertRejects(() => store.streams.resolve(42 as never), TypeError, "alias");
  await assertRejects(() => store.streams.resolve("x".repeat(513)), TypeError, "512");
});

testBoth("a resolved stream has version 0 until its first append", async (store) => {
  const id = await store.streams.resolve("carts:1");
  assertEquals(await store.events.streamVersion(id), 0);
  const exists = await assertRejects(
    () => store.events.append(id, Expected.streamExists, [event("A", {})]),
    RillflowError,
  );
  assertEquals([exists.code, exists.details.actual], ["CONCURRENCY_CONFLICT", 0]);
  assertEquals(
    (await store.events.append(id, Expected.noStream, [event("A", {})])).streamVersion,
    1,
  );
  const second = await store.streams.resolve("carts:2");
  assertEquals(
    (await store.events.append(second, Expected.exact(0), [event("A", {})])).streamVersion,
    1,
  );
  const third = await store.streams.resolve("carts:3");
  assertEquals((await store.events.append(third, Expected.any, [event("A", {})])).streamVersion, 1);
  const info = await store.streams.describe("carts:1");
  assertEquals([info?.version, info?.category], [1, "carts"]);
  // The alias's category stands; an append naming another one is refused.
  const refused = await assertRejects(
    () => store.events.append(id, Expected.any, [event("B", {})], { category: "orders" }),
    RillflowError,
  );
  assertEquals(refused.code, "INVALID_INPUT");
});

testServer("concurrent first resolves from several connections agree", async (url) => {
  const schema = freshSchema();
  const a = await Store.connect(url, { schema, autoMigrate: true, maxConnections: 8 });
  const b = await Store.connect(url, { schema, maxConnections: 8 });
  try {
    for (const alias of ["race:1", "race:2", "race:3"]) {
      const ids = await Promise.all(
        Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).streams.resolve(alias)),
      );
      assertEquals(new Set(ids).size, 1, `all resolves of ${alias} agree`);
    }
    const { executor, table } = contextOf(a);
    const [row] = await executor.query<{ aliases: number; streams: number }>(
      `select (select count(*)::int from ${table("stream_aliases")}) as aliases,
              (select count(*)::int from ${table("streams")}) as streams`,
    );
    assertEquals(row, { aliases: 3, streams: 3 });
  } finally {
    await b.close();
    await dropSchemaAndClose(a);
  }
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      out: (s: string) => void out.push(s),
      err: (s: string) => void err.push(s),
      env: () => undefined,
    },
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

testServer("CLI streams resolve and show, in process", async (url) => {
  const schema = freshSchema();
  const store = await Store.connect(url, { schema, autoMigrate: true });
  const run = async (...args: string[]) => {
    const c = capture();
    const code = await main(["--database-url", url, "--schema", schema, ...args], c.io);
    return { code, out: c.out(), err: c.err() };
  };
  try {
    const first = await run("streams", "resolve", "orders:7");
    assertEquals(first.code, 0, first.err);
    const id = first.out.trim();
    assert(UUID.test(id), first.out);
    assertEquals(await store.streams.lookup("orders:7"), id);
    const json = await run("--json", "streams", "resolve", "orders:7");
    assertEquals(JSON.parse(json.out), { alias: "orders:7", streamId: id });
    await store.events.append(id, Expected.noStream, [event("A", {}), event("B", {})]);
    const shown = await run("streams", "show", "orders:7");
    assertEquals(shown.code, 0, shown.err);
    for (
      const line of [id, "version:  2", "category: orders", "archived: no", "aliases:  orders:7"]
    ) {
      assert(shown.out.includes(line), `${line} in ${shown.out}`);
    }
    const byId = JSON.parse((await run("--json", "streams", "show", id)).out);
    assertEquals([byId.version, byId.category, byId.archived], [2, "orders", false]);
    const missing = await run("streams", "show", "orders:8");
    assertEquals(missing.code, 1);
    assert(missing.err.includes('"orders:8"'), missing.err);
    assertEquals(await store.streams.lookup("orders:8"), null, "show never creates");
    assertEquals((await run("streams", "resolve")).code, 2);
    assertEquals((await run("streams", "resolve", "")).code, 2);
  } finally {
    await dropSchemaAndClose(store);
  }
});

testServer("CLI streams resolve through a real process", async (url) => {
  const schema = freshSchema();
  const store = await Store.connect(url, { schema, autoMigrate: true });
  const cli = async (...args: string[]) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "cli.ts", "--database-url", url, "--schema", schema, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: output.code, out: decode(output.stdout), err: decode(output.stderr) };
  };
  try {
    const resolved = await cli("streams", "resolve", "invoices:1");
    assertEquals(resolved.code, 0, resolved.err);
    assertEquals(resolved.out.trim(), await store.streams.resolve("invoices:1"));
    const shown = await cli("--json", "streams", "show", "invoices:1");
    assertEquals(shown.code, 0, shown.err);
    assertEquals(JSON.parse(shown.out).category, "invoices");
    assertEquals((await cli("streams", "show", "nope")).code, 1);
  } finally {
    await dropSchemaAndClose(store);
  }
});
