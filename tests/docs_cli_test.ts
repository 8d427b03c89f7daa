import { assert, assertEquals } from "./_assert.ts";
import { freshSchema, testServer } from "./_backends.ts";
import { DuplicatedField, Predicate, SchemaConfig, Store } from "../mod.ts";
import { main } from "../src/cli/main.ts";
import { contextOf } from "../src/_context.ts";

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, {
    out: (text) => void (out += text),
    err: (text) => void (err += text),
    env: () => undefined,
  });
  return { code, out, err };
}

async function seeded(url: string, schema: string) {
  const store = await Store.connect(url, { schema, autoMigrate: true });
  const customers = store.docs<{ email: string; age: number; tags: string[] }>("customers");
  const ids = Array.from({ length: 300 }, () => crypto.randomUUID());
  await customers.bulkInsert(ids.map((id, i) => ({
    id,
    doc: { email: `u${i}@x.io`, age: i % 80, tags: i % 2 ? ["odd"] : ["even"] },
  })));
  return { store, ids };
}

testServer("docs get, soft-delete and restore through the CLI", async (url) => {
  const schema = freshSchema();
  const { store, ids } = await seeded(url, schema);
  const g = ["--database-url", url, "--schema", schema];
  try {
    const got = await run([...g, "--json", "docs", "get", ids[3]!, "--collection", "customers"]);
    assertEquals(got.code, 0, got.err);
    const parsed = JSON.parse(got.out);
    assertEquals(parsed.doc, { email: "u3@x.io", age: 3, tags: ["odd"] });
    assertEquals(parsed.metadata.version, 1);
    assertEquals(
      (await run([...g, "docs", "soft-delete", ids[3]!, "--collection", "customers"])).code,
      0,
    );
    const hidden = await run([...g, "docs", "get", ids[3]!, "--collection", "customers"]);
    assertEquals(hidden.code, 1);
    assert(hidden.err.includes("DOCUMENT_NOT_FOUND"), hidden.err);
    const shown = await run([
      ...g,
      "docs",
      "get",
      ids[3]!,
      "--collection",
      "customers",
      "--include-deleted",
    ]);
    assert(shown.out.includes('"deletedAt"'), shown.out);
    assertEquals(
      (await run([...g, "docs", "restore", ids[3]!, "--collection", "customers"])).code,
      0,
    );
    assertEquals((await store.docs("customers").get(ids[3]!))?.version, 3);
    assertEquals((await run([...g, "docs", "get", "not-a-uuid"])).code, 2);
    const unknown = await run([...g, "docs", "get", ids[0]!, "--collection", "nope"]);
    assertEquals(unknown.code, 1);
    assert(unknown.err.includes("Unknown collection"), unknown.err);
    assertEquals((await run([...g, "docs", "get", ids[0]!, "--collection", "Bad;Name"])).code, 2);
  } finally {
    await contextOf(store).executor.query(`drop schema "${schema}" cascade`);
    await store.close();
  }
});

testServer(
  "docs index-advisor prints DDL on the collection table that queries then use",
  async (url) => {
    const schema = freshSchema();
    const { store } = await seeded(url, schema);
    const g = ["--database-url", url, "--schema", schema];
    try {
      const { executor } = contextOf(store);
      for (const gin of [false, true]) {
        const field = gin ? "tags" : "email";
        const advice = await run([
          ...g,
          "--json",
          "docs",
          "index-advisor",
          "--field",
          field,
          "--collection",
          "customers",
          ...(gin ? ["--gin"] : []),
        ]);
        assertEquals(advice.code, 0, advice.err);
        const { ddl, name } = JSON.parse(advice.out);
        assertEquals(name, gin ? "customers_tags_gin" : "customers_email_idx");
        assert(ddl.includes(`on "${schema}"."customers"`), ddl);
        await executor.query(ddl);
        const predicate = gin
          ? Predicate.contains("tags", ["odd"])
          : Predicate.between("email", "u5", "u51");
        const q = store.docs("customers").query().filter(predicate).toSql();
        const plan = await executor.transaction(async (tx) => {
          await tx.query("set local enable_seqscan = off");
          const rows = await tx.query<Record<string, string>>(`explain ${q.text}`, q.params);
          return rows.map((r) => Object.values(r)[0]).join("\n");
        });
        assert(plan.includes(name), plan);
      }
      assertEquals((await run([...g, "docs", "index-advisor", "--field", "a..b"])).code, 2);
      const human = await run([...g, "docs", "index-advisor", "--field", "age"]);
      assert(
        human.out.includes(`create index concurrently if not exists "docs_age_idx"`),
        human.out,
      );
    } finally {
      await contextOf(store).executor.query(`drop schema "${schema}" cascade`);
      await store.close();
    }
  },
);

testServer(
  "docs explain shows SQL, parameters and plan; bad JSON is a usage error",
  async (url) => {
    const schema = freshSchema();
    const { store } = await seeded(url, schema);
    const g = ["--database-url", url, "--schema", schema];
    try {
      const query = JSON.stringify({
        collection: "customers",
        filter: { and: [{ gt: ["age", 70] }, { not: { eq: ["tags", ["odd"]] } }] },
        orderBy: [["age", "desc"], "email"],
        limit: 5,
      });
      const explained = await run([...g, "docs", "explain", query, "--analyze"]);
      assertEquals(explained.code, 0, explained.err);
      assert(explained.out.includes(`from "${schema}"."customers" d`), explained.out);
      assert(explained.out.includes('-- params: [["age"],["age"],"70"'), explained.out);
      assert(explained.out.includes("actual time"), explained.out);
      for (
        const bad of ["{", '{"filter": {"eq": ["a"]}}', '{"nope": 1}', '{"filter": {"zz": []}}']
      ) {
        const result = await run([...g, "docs", "explain", bad]);
        assertEquals(result.code, 2, bad);
        assert(result.err.includes("Invalid query JSON"), result.err);
      }
    } finally {
      await contextOf(store).executor.query(`drop schema "${schema}" cascade`);
      await store.close();
    }
  },
);

testServer("docs duplicated-fields list, suggest and backfill", async (url) => {
  const schema = freshSchema();
  const { store } = await seeded(url, schema);
  const g = ["--database-url", url, "--schema", schema];
  try {
    const suggested = await run([
      ...g,
      "--json",
      "docs",
      "duplicated-fields",
      "suggest",
      "--collection",
      "customers",
    ]);
    assertEquals(suggested.code, 0, suggested.err);
    const suggestions = JSON.parse(suggested.out);
    assertEquals(
      suggestions.map((s: { path: string; type: string }) => `${s.path}:${s.type}`),
      ["email:text", "age:bigint"],
    );
    await store.schema.sync(
      SchemaConfig.singleTenant().addDuplicatedField(
        "customers",
        new DuplicatedField("age", "age", "integer"),
      ),
    );
    // Simulate an interrupted backfill: the field is pending and the column empty.
    const { executor, table } = contextOf(store);
    await executor.query(`update ${table("rillflow_duplicated_fields")} set state = 'pending'`);
    await executor.query(`alter table ${table("customers")} disable trigger all`);
    await executor.query(`update ${table("customers")} set age = null`);
    await executor.query(`alter table ${table("customers")} enable trigger all`);
    const listed = await run([...g, "docs", "duplicated-fields", "list"]);
    assertEquals(listed.out.trim(), "customers.age integer ← age, indexed, pending");
    const backfilled = await run([
      ...g,
      "docs",
      "duplicated-fields",
      "backfill",
      "--batch-size",
      "70",
    ]);
    assertEquals(backfilled.code, 0, backfilled.err);
    assertEquals(backfilled.out.trim(), "customers: 300 rows recomputed, fields ready");
    const [row] = await executor.query<{ n: number }>(
      `select count(*)::int as n from ${table("customers")} where age = (doc->>'age')::int`,
    );
    assertEquals(row?.n, 300);
    const after = await run([...g, "--json", "docs", "duplicated-fields", "list"]);
    assertEquals(JSON.parse(after.out)[0].state, "ready");
  } finally {
    await contextOf(store).executor.query(`drop schema "${schema}" cascade`);
    await store.close();
  }
});

testServer("the docs commands work from a real process", async (url) => {
  const schema = freshSchema();
  const { store, ids } = await seeded(url, schema);
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "cli.ts",
        "--schema",
        schema,
        "--json",
        "docs",
        "get",
        ids[7]!,
        "--collection",
        "customers",
      ],
      env: { DATABASE_URL: url, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
    assertEquals(JSON.parse(new TextDecoder().decode(output.stdout)).doc.email, "u7@x.io");
  } finally {
    await contextOf(store).executor.query(`drop schema "${schema}" cascade`);
    await store.close();
  }
});

Deno.test("docs get works on an embedded database directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await Store.connect(`pglite:${dir}`);
    const id = crypto.randomUUID();
    await store.docs().put(id, { hello: "world" });
    await store.close();
    const got = await run(["--database-url", `pglite:${dir}`, "--json", "docs", "get", id]);
    assertEquals(got.code, 0, got.err);
    assertEquals(JSON.parse(got.out).doc, { hello: "world" });
    const explained = await run([
      "--database-url",
      `pglite:${dir}`,
      "docs",
      "explain",
      '{"filter": {"exists": "hello"}}',
    ]);
    assertEquals(explained.code, 0, explained.err);
    assert(explained.out.includes("d.doc #> $1::text[] is not null"), explained.out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
