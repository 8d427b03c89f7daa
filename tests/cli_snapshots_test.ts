import { assert, assertEquals } from "./_assert.ts";
import { runCli, runCliProcess } from "./_cli.ts";
import { freshSchema, testServer } from "./_backends.ts";
import { type Aggregate, AggregateRepository, event, Expected, Store } from "../mod.ts";
import { main } from "../src/cli/main.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;

/** Writes a config module declaring a counter aggregate (which chokes on "Poison"). */
async function writeConfig(body?: string): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "rillflow_snapshots_" });
  const path = `${dir}/rillflow.config.ts`;
  await Deno.writeTextFile(
    path,
    body ?? `import { type Aggregate, defineConfig } from "${MOD}";

export const Counter: Aggregate<{ count: number }> = {
  name: "counter",
  initialState: () => ({ count: 0 }),
  evolve(state, e) {
    if (e.type === "Poison") throw new Error("poisoned at #" + e.streamSeq);
    return { count: state.count + 1 };
  },
};

export default defineConfig({ aggregates: [Counter] });
`,
  );
  return { dir, path };
}

/** Seeds 3 streams of 12 events (and a poisoned one) through the config's aggregate. */
async function seed(store: Store, configPath: string, poison = true): Promise<string> {
  const { Counter } = await import(new URL(`file://${configPath}`).href) as {
    Counter: Aggregate<{ count: number }>;
  };
  const repo = new AggregateRepository(store, Counter);
  const ticks = Array.from({ length: 12 }, () => event("Ticked", {}));
  const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  for (const id of ids) await repo.commit(id, Expected.noStream, ticks);
  const poisoned = crypto.randomUUID();
  if (poison) await repo.commit(poisoned, Expected.noStream, [...ticks, event("Poison", {})]);
  return poisoned;
}

async function withSchema(url: string, fn: (schema: string) => Promise<void>): Promise<void> {
  const schema = freshSchema();
  const store = await Store.connect(url, { schema, autoMigrate: true });
  try {
    await fn(schema);
  } finally {
    const { contextOf } = await import("../src/_context.ts");
    await contextOf(store).executor.query(`drop schema "${schema}" cascade`);
    await store.close();
  }
}

testServer("snapshots compact-once and run-until-idle use the config's aggregates", async (url) => {
  const { dir, path } = await writeConfig();
  try {
    await withSchema(url, async (schema) => {
      const store = await Store.connect(url, { schema });
      await seed(store, path, false);
      const base = ["--database-url", url, "--schema", schema, "--config", path, "snapshots"];
      const once = await runCli([...base, "compact-once", "--threshold", "10", "--batch", "2"]);
      assertEquals(once.code, 0, once.stderr);
      assert(
        once.stdout.startsWith("Examined 2 lagging stream(s), wrote 2 snapshot(s)"),
        once.stdout,
      );
      const poisoned = await seed(store, path);
      await store.close();

      let stderr = "";
      let stdout = "";
      const code = await main([...base, "run-until-idle", "--threshold", "10", "--batch", "1"], {
        out: (text) => void (stdout += text),
        err: (text) => void (stderr += text),
        env: () => undefined,
        errIsTerminal: () => true,
      });
      assertEquals(code, 1, "a failed stream makes the exit code 1");
      assert(stdout.startsWith("Examined 5 lagging stream(s), wrote 4 snapshot(s)"), stdout);
      assert(stdout.includes(`failed counter ${poisoned}: poisoned at #13`), stdout);
      assert(stderr.includes("snapshots: counter: 1 examined, "), stderr);

      const json = await runCli([
        ...base.slice(0, -1),
        "--json",
        "snapshots",
        "run-until-idle",
        "--threshold",
        "10",
      ]);
      assertEquals(json.code, 1);
      assertEquals(json.stderr, "", "no progress when stderr is not a terminal");
      const result = JSON.parse(json.stdout);
      assertEquals([result.examined, result.written, result.failed.length], [1, 0, 1]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

testServer("snapshots run-until-idle works through a real process", async (url) => {
  const { dir, path } = await writeConfig();
  try {
    await withSchema(url, async (schema) => {
      const store = await Store.connect(url, { schema });
      await seed(store, path);
      await store.close();
      const run = await runCliProcess(
        ["--schema", schema, "--config", path, "--json", "snapshots", "run-until-idle"],
        { env: { DATABASE_URL: url } },
      );
      assertEquals(run.code, 0, run.stderr);
      assertEquals(JSON.parse(run.stdout).examined, 0, "nothing lags 100 events");
      const low = await runCliProcess(
        ["--schema", schema, "--config", path, "snapshots", "run-until-idle", "--threshold", "5"],
        { env: { DATABASE_URL: url } },
      );
      assertEquals(low.code, 1);
      assert(
        low.stdout.startsWith("Examined 4 lagging stream(s), wrote 3 snapshot(s)"),
        low.stdout,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshots refuses a config without aggregates and bad numbers", async () => {
  const { dir, path } = await writeConfig(
    `import { defineConfig } from "${MOD}";\nexport default defineConfig({});\n`,
  );
  try {
    const none = await runCli([
      "--database-url",
      "postgres://127.0.0.1:1/none",
      "--config",
      path,
      "snapshots",
      "compact-once",
    ]);
    assertEquals(none.code, 2);
    assert(none.stderr.includes("declares no aggregates"), none.stderr);
    const bad = await runCli(["--config", path, "snapshots", "compact-once", "--batch", "0"]);
    assertEquals(bad.code, 2);
    assert(bad.stderr.includes("--batch must be a positive integer"), bad.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
