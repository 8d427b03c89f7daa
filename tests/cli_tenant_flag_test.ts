/** The global `--tenant` option routes every CLI command to the tenant's schema. */
import { assert, assertEquals } from "./_assert.ts";
import { SERVER_URL } from "./_backends.ts";
import { runCli } from "./_cli.ts";
import { event, Expected, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

const tenantName = () => `t${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;

Deno.test({
  name: "--tenant routes docs, projections and subscriptions commands [postgres]",
  ignore: !SERVER_URL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const [a, b] = [tenantName(), tenantName()];
    const store = await Store.connect(SERVER_URL!, { tenancy: { strategy: "schema-per-tenant" } });
    const db = ["--database-url", SERVER_URL!];
    try {
      await store.tenants.ensure(a);
      await store.tenants.ensure(b);
      const id = crypto.randomUUID();
      await store.forTenant(a).docs().put(id, { owner: "a" });
      await store.forTenant(b).docs().put(id, { owner: "b" });
      for (const [t, n] of [[a, 1], [b, 2]] as const) {
        const view = store.forTenant(t);
        await view.events.append(crypto.randomUUID(), Expected.any, [event("E", { n })]);
        await view.subscriptions.create(`sub_${t}`, { eventTypes: ["E"] });
      }

      for (const [t, owner] of [[a, "a"], [b, "b"]]) {
        const got = await runCli([...db, "--tenant", t!, "--json", "docs", "get", id]);
        assertEquals(got.code, 0, got.stderr);
        assertEquals(JSON.parse(got.stdout).doc, { owner });
      }
      // The option may also follow the command.
      const after = await runCli([...db, "--json", "docs", "get", id, "--tenant", b]);
      assertEquals(JSON.parse(after.stdout).doc, { owner: "b" });

      const config = ["--config", "tests/fixtures/projections.config.ts"];
      const ran = await runCli([...db, ...config, "--tenant", b, "projections", "run-until-idle"]);
      assertEquals(ran.code, 0, ran.stderr);
      const listed = async (t: string) => {
        const run = await runCli([
          ...db,
          ...config,
          "--tenant",
          t,
          "--json",
          "projections",
          "list",
        ]);
        assertEquals(run.code, 0, run.stderr);
        return JSON.parse(run.stdout).map((p: { name: string; checkpoint: number }) => [
          p.name,
          p.checkpoint,
        ]);
      };
      const [headB] = (await store.forTenant(b).events.readAll()).map((e) => e.globalSeq);
      assertEquals(await listed(b), [["log", headB]]);
      assertEquals(await listed(a), [["log", 0]], "tenant A's checkpoint did not move");
      const [logged] = await contextOf(store).executor.query<{ n: number }>(
        `select count(*)::int as n from "tenant_${b}".cli_log`,
      );
      assertEquals(logged?.n, 1);

      const subs = await runCli([...db, "--tenant", a, "--json", "subscriptions", "list"]);
      assertEquals(subs.code, 0, subs.stderr);
      const names = JSON.parse(subs.stdout).map((s: { name: string }) => s.name);
      assertEquals(names, [`sub_${a}`]);

      const ghost = await runCli([...db, "--tenant", tenantName(), "docs", "get", id]);
      assertEquals(ghost.code, 1);
      assert(ghost.stderr.includes("TENANT_NOT_FOUND"), ghost.stderr);
      assertEquals((await runCli([...db, "--tenant", "Bad-Name", "docs", "get", id])).code, 2);
      const both = await runCli([...db, "--tenant", a, "--schema", "x", "docs", "get", id]);
      assertEquals(both.code, 2);
      assert(both.stderr.includes("--tenant or --schema"), both.stderr);

      // Tenant commands keep their own arguments.
      const health = await runCli([...db, "health", "schema", "--tenant", a]);
      assertEquals(health.code, 0, health.stdout + health.stderr);
      assert(health.stdout.includes(`Tenant "${a}": no drift.`), health.stdout);
      const list = await runCli([...db, "--tenant", a, "--json", "tenants", "list"]);
      assert(JSON.parse(list.stdout).tenants.includes(b), "tenants list is not routed");
    } finally {
      for (const t of [a, b]) await store.tenants.drop(t).catch(() => {});
      await store.close();
    }
  },
});
