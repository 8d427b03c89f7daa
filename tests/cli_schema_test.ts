import { assert, assertEquals } from "./_assert.ts";
import { freshSchema, SERVER_URL } from "./_backends.ts";
import { ROOT, runCli, runCliProcess } from "./_cli.ts";
import { join } from "node:path";

const DB = SERVER_URL;

async function dropSchema(url: string, schema: string): Promise<void> {
  if (!url.startsWith("postgres")) return;
  const { Store } = await import("../mod.ts");
  const { contextOf } = await import("../src/_context.ts");
  const store = await Store.connect(url);
  await contextOf(store).executor.query(`drop schema if exists "${schema}" cascade`);
  await store.close();
}

Deno.test({
  name: "schema-plan, schema-sync, health schema and schema-down in-process [postgres]",
  ignore: !DB,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const schema = freshSchema();
    const base = ["--database-url", DB!, "--schema", schema];
    try {
      const plan = await runCli([...base, "schema-plan"]);
      assertEquals(plan.code, 0);
      assert(plan.stdout.includes("0001_init"), plan.stdout);

      const planJson = await runCli([...base, "--json", "schema-plan"]);
      assertEquals(JSON.parse(planJson.stdout).pending[0].name, "init");

      const drifting = await runCli([...base, "health", "schema"]);
      assertEquals(drifting.code, 1, "a pending schema is drift");

      const sync = await runCli([...base, "schema-sync"]);
      assertEquals(sync.code, 0);
      assert(sync.stdout.includes("Applied"), sync.stdout);

      const again = await runCli([...base, "schema-plan"]);
      assert(again.stdout.includes("up to date"), again.stdout);

      const health = await runCli([...base, "health", "schema"]);
      assertEquals(health.code, 0, health.stdout + health.stderr);
      assert(health.stdout.includes("no drift"));

      const refused = await runCli([...base, "schema-down"]);
      assertEquals(refused.code, 2);
      assert(refused.stderr.includes("--force"));
      assert((await runCli([...base, "schema-plan"])).stdout.includes("up to date"));

      const down = await runCli([...base, "schema-down", "--force"]);
      assertEquals(down.code, 0);
      assert((await runCli([...base, "schema-plan"])).stdout.includes("0001_init"));
    } finally {
      await dropSchema(DB!, schema);
    }
  },
});

Deno.test("usage errors exit 2, connection errors exit 3", async () => {
  assertEquals((await runCli(["schema-plan"])).code, 2, "no database URL");
  const unknown = await runCli(["schema-plam"]);
  assertEquals(unknown.code, 2);
  assert(unknown.stderr.includes("schema-plan"), "suggests the right command");
  assertEquals(
    (await runCli(["--schema", "x;drop", "--database-url", "pglite://memory", "schema-plan"])).code,
    2,
  );
  const refused = await runCli([
    "--database-url",
    "postgres://u:secretpw@127.0.0.1:1/db",
    "schema-plan",
  ]);
  assertEquals(refused.code, 3);
  assert(!refused.stderr.includes("secretpw"));
  assertEquals((await runCli(["--help"])).code, 0);
  assertEquals((await runCli(["health", "--help"])).code, 0);
  assertEquals((await runCli(["health"])).code, 2);
});

Deno.test("DATABASE_URL is the default database", async () => {
  const run = await runCli(["schema-plan"], { DATABASE_URL: "mysql://nope" });
  assertEquals(run.code, 3, run.stderr);
  assert(run.stderr.includes("Unsupported database URL"));
});

Deno.test({
  name: "a real process reports drift after an applied migration file is edited",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // A copy of the project, so editing its migration file cannot disturb other tests.
    const dir = await Deno.makeTempDir({ prefix: "rillflow_cli_" });
    const schema = freshSchema();
    const url = DB ?? `pglite:${join(dir, "db")}`;
    try {
      for (const entry of ["cli.ts", "mod.ts", "deno.json", "deno.lock", "src", "sql"]) {
        await new Deno.Command("cp", { args: ["-r", join(ROOT, entry), dir] }).output();
      }
      const env = { DATABASE_URL: url };
      const plan = await runCliProcess(["--schema", schema, "schema-plan"], { cwd: dir, env });
      assertEquals(plan.code, 0, plan.stderr);
      assert(plan.stdout.includes("0001_init"), plan.stdout);
      const sync = await runCliProcess(["--schema", schema, "schema-sync"], { cwd: dir, env });
      assertEquals(sync.code, 0, sync.stderr);
      const clean = await runCliProcess(["--schema", schema, "health", "schema"], {
        cwd: dir,
        env,
      });
      assertEquals(clean.code, 0, clean.stdout + clean.stderr);

      const file = join(dir, "sql", "0001_init.sql");
      await Deno.writeTextFile(file, (await Deno.readTextFile(file)) + "\n-- edited\n");
      const drift = await runCliProcess(["--schema", schema, "--json", "health", "schema"], {
        cwd: dir,
        env,
      });
      assertEquals(drift.code, 1, drift.stderr);
      const report = JSON.parse(drift.stdout);
      assertEquals(report.ok, false);
      assertEquals(report.items.map((i: { kind: string }) => i.kind), ["checksum-mismatch"]);
    } finally {
      await dropSchema(url, schema);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
