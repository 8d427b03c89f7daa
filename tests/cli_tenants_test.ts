import { assert, assertEquals } from "./_assert.ts";
import { SERVER_URL } from "./_backends.ts";
import { runCli, runCliProcess } from "./_cli.ts";
import { Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

const name = () => `t${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;

async function dropTenants(url: string, tenants: string[]) {
  await using store = await Store.connect(url);
  for (const t of tenants) {
    await contextOf(store).executor.query(`drop schema if exists "tenant_${t}" cascade`);
  }
}

Deno.test({
  name: "tenants ensure, list, status, archive, drop and restore in-process [postgres]",
  ignore: !SERVER_URL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const [a, b] = [name(), name()];
    const db = ["--database-url", SERVER_URL!];
    const dir = await Deno.makeTempDir({ prefix: "rillflow_cli_archive_" });
    try {
      const ensured = await runCli([...db, "tenants", "ensure", a]);
      assertEquals(ensured.code, 0, ensured.stderr);
      assert(ensured.stdout.includes("Provisioned"));
      assert((await runCli([...db, "tenants", "ensure", a])).stdout.includes("up to date"));
      await runCli([...db, "tenants", "ensure", b]);
      const list = JSON.parse((await runCli([...db, "--json", "tenants", "list"])).stdout);
      assert(list.tenants.includes(a) && list.tenants.includes(b));

      const status = await runCli([...db, "tenants", "status", a]);
      assertEquals(status.code, 0, status.stdout);
      assert(status.stdout.includes("drift: none"));
      assertEquals((await runCli([...db, "tenants", "status", name()])).code, 1);

      const healthy = await runCli([...db, "health", "schema", "--tenant", a]);
      assertEquals(healthy.code, 0, healthy.stdout);
      await using store = await Store.connect(SERVER_URL!);
      await contextOf(store).executor.query(`alter table "tenant_${b}".docs add column rogue int`);
      const drift = await runCli([...db, "--json", "health", "schema", "--all-tenants"]);
      assertEquals(drift.code, 1);
      const report = JSON.parse(drift.stdout).tenants.find((t: { tenant: string }) =>
        t.tenant === b
      );
      assertEquals(report.report.items[0].object, "docs.rogue");
      assertEquals((await runCli([...db, "health", "schema", "--tenant", a])).code, 0);

      const archived = await runCli([...db, "tenants", "archive", a, "--output", dir]);
      assertEquals(archived.code, 0, archived.stderr);
      assertEquals((await runCli([...db, "tenants", "drop", a])).code, 2, "drop needs --force");
      assertEquals((await runCli([...db, "tenants", "status", a])).code, 0, "still there");
      assertEquals((await runCli([...db, "tenants", "drop", a, "--force"])).code, 0);
      assertEquals((await runCli([...db, "tenants", "status", a])).code, 1);
      const restored = await runCli([...db, "tenants", "restore", a, "--input", dir]);
      assertEquals(restored.code, 0, restored.stderr);
      assertEquals((await runCli([...db, "tenants", "status", a])).code, 0);
      assertEquals((await runCli([...db, "tenants", "ensure", "Bad-Name"])).code, 2);
    } finally {
      await dropTenants(SERVER_URL!, [a, b]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a single-tenant schema moves into a tenant with schema-archive and tenants restore [postgres]",
  ignore: !SERVER_URL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const schema = `s${name()}`;
    const t = name();
    const dir = await Deno.makeTempDir({ prefix: "rillflow_cli_move_" });
    const db = ["--database-url", SERVER_URL!];
    try {
      await using single = await Store.connect(SERVER_URL!, { schema, autoMigrate: true });
      const id = crypto.randomUUID();
      await single.docs().put(id, { moved: true });
      const archived = await runCli([...db, "--schema", schema, "schema-archive", "--output", dir]);
      assertEquals(archived.code, 0, archived.stderr);
      assertEquals((await runCli([...db, "tenants", "restore", t, "--input", dir])).code, 0);
      await using tenanted = await Store.connect(SERVER_URL!, {
        tenancy: { strategy: "schema-per-tenant" },
      });
      assertEquals((await tenanted.forTenant(t).docs().get(id))?.doc, { moved: true });
      await contextOf(single).executor.query(`drop schema "${schema}" cascade`);
    } finally {
      await dropTenants(SERVER_URL!, [t]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "tenants commands run as a real process [postgres]",
  ignore: !SERVER_URL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const t = name();
    const env = { DATABASE_URL: SERVER_URL! };
    try {
      const ensured = await runCliProcess(["tenants", "ensure", t], { env });
      assertEquals(ensured.code, 0, ensured.stderr);
      const refused = await runCliProcess(["tenants", "drop", t], { env });
      assertEquals(refused.code, 2);
      assert(refused.stderr.includes("--force"));
      const dropped = await runCliProcess(["--json", "tenants", "drop", t, "--force"], { env });
      assertEquals(JSON.parse(dropped.stdout), { tenant: t, dropped: true });
    } finally {
      await dropTenants(SERVER_URL!, [t]);
    }
  },
});
