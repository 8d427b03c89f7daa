import { assert, assertEquals } from "./_assert.ts";
import { runCli, runCliProcess } from "./_cli.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;

/** `upcasters path` with its four options. */
const pathArgs = (fromType: string, fromVersion: string, toType: string, toVersion: string) => [
  "upcasters",
  "path",
  ...["--from-type", fromType, "--from-version", fromVersion],
  ...["--to-type", toType, "--to-version", toVersion],
];

/** Writes a config module with an order chain (one async step) into a temp directory. */
async function writeConfig(): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "rillflow_upcasters_" });
  const path = `${dir}/rillflow.config.ts`;
  await Deno.writeTextFile(
    path,
    `import { defineConfig, defineUpcaster, UpcasterRegistry } from "${MOD}";

const upcasters = new UpcasterRegistry()
  .register(defineUpcaster({
    fromType: "OrderCreated", fromVersion: 1, toType: "OrderPlaced", toVersion: 2,
    description: "renamed; currency defaults to EUR",
    upcast: (data) => ({ ...(data as object), currency: "EUR" }),
  }))
  .registerAsync({
    fromType: "OrderPlaced", fromVersion: 2, toType: "OrderPlaced", toVersion: 3,
    upcast: async (data) => ({ ...(data as object), lines: [] }),
  });

export default defineConfig({ upcasters });
`,
  );
  return { dir, path };
}

Deno.test("upcasters list and path read the registry of the config module", async () => {
  const { dir, path } = await writeConfig();
  try {
    const list = await runCli(["--config", path, "upcasters", "list"]);
    assertEquals(list.code, 0, list.stderr);
    assertEquals(
      list.stdout,
      "2 upcaster(s):\n" +
        "  OrderCreated v1 → OrderPlaced v2  sync  renamed; currency defaults to EUR\n" +
        "  OrderPlaced v2 → OrderPlaced v3  async\n",
    );
    const json = await runCli(["--config", path, "--json", "upcasters", "list"]);
    assertEquals(JSON.parse(json.stdout).upcasters.map((u: { async: boolean }) => u.async), [
      false,
      true,
    ]);

    const found = await runCli([
      "--config",
      path,
      ...pathArgs("OrderCreated", "1", "OrderPlaced", "3"),
    ]);
    assertEquals(found.code, 0, found.stderr);
    assertEquals(found.stdout, "OrderCreated v1 → OrderPlaced v2 → OrderPlaced v3 (2 step(s))\n");

    const missing = await runCli([
      "--config",
      path,
      "--json",
      ...pathArgs("OrderPlaced", "3", "OrderCreated", "1"),
    ]);
    assertEquals(missing.code, 1);
    assertEquals(JSON.parse(missing.stdout).path, null);

    const bad = await runCli([
      "--config",
      path,
      ...pathArgs("A", "zero", "B", "1"),
    ]);
    assertEquals(bad.code, 2);
    assert(bad.stderr.includes("--from-version must be a positive integer"), bad.stderr);
    const incomplete = await runCli(["--config", path, "upcasters", "path", "--from-type", "A"]);
    assertEquals(incomplete.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing config module is a usage error naming the path", async () => {
  const result = await runCli(["--config", "/nonexistent/rillflow.config.ts", "upcasters", "list"]);
  assertEquals(result.code, 2);
  assert(result.stderr.includes("/nonexistent/rillflow.config.ts"), result.stderr);
});

Deno.test({
  name: "upcasters commands work through a real process",
  sanitizeResources: false,
  async fn() {
    const { dir, path } = await writeConfig();
    try {
      const list = await runCliProcess(["--config", path, "upcasters", "list"]);
      assertEquals(list.code, 0, list.stderr);
      assert(list.stdout.includes("OrderPlaced v2 → OrderPlaced v3  async"), list.stdout);
      const found = await runCliProcess([
        "--config",
        path,
        "--json",
        ...pathArgs("OrderCreated", "1", "OrderPlaced", "2"),
      ]);
      assertEquals(found.code, 0, found.stderr);
      assertEquals(JSON.parse(found.stdout).path, [["OrderCreated", 1], ["OrderPlaced", 2]]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
