/**
 * `projections run-loop --all-tenants` as a real process, on a database of its
 * own (it runs every tenant it finds, so it must not see other tests' tenants).
 */
import { assert, assertEquals } from "./_assert.ts";
import { testServer } from "./_backends.ts";
import { ROOT } from "./_cli.ts";
import { waitFor } from "./_wait.ts";
import { event, Expected, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { parsePrometheusText, sampleValue } from "./_prometheus.ts";

const CONFIG = `import { defineConfig } from ${
  JSON.stringify(new URL("../mod.ts", import.meta.url).href)
};

export default defineConfig({
  projections: {
    counted: {
      eventTypes: ["Counted"],
      async setup(tx) {
        await tx.query("create table if not exists counted (global_seq bigint primary key)");
      },
      async apply(envelope, tx) {
        await tx.query("insert into counted values ($1)", [envelope.globalSeq]);
      },
    },
  },
});
`;

/** A fresh database on the test server, dropped afterwards. */
async function withDatabase(url: string, work: (url: string) => Promise<void>): Promise<void> {
  const name = `rillflow_tenants_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  await using admin = await Store.connect(url);
  const { executor } = contextOf(admin);
  await executor.query(`create database "${name}"`);
  try {
    const own = new URL(url);
    own.pathname = `/${name}`;
    await work(own.href);
  } finally {
    await executor.query(`drop database "${name}" with (force)`);
  }
}

async function appendCounted(store: Store, tenant: string, n: number): Promise<void> {
  await store.forTenant(tenant).events.append(
    crypto.randomUUID(),
    Expected.any,
    Array.from({ length: n }, (_, i) => event("Counted", { i })),
  );
}

async function counted(store: Store, tenant: string): Promise<number> {
  const [row] = await contextOf(store).executor.query<{ n: number }>(
    `select count(*)::int as n from "tenant_${tenant}".counted`,
  );
  return row?.n ?? 0;
}

testServer(
  "run-loop --all-tenants fills every tenant's read model, new tenants too",
  async (url) => {
    await withDatabase(url, async (dbUrl) => {
      const store = await Store.connect(dbUrl, { tenancy: { strategy: "schema-per-tenant" } });
      const dir = await Deno.makeTempDir({ prefix: "rillflow_tenants_config_" });
      const config = `${dir}/rillflow.config.ts`;
      await Deno.writeTextFile(config, CONFIG);
      let stderr = "";
      let child: Deno.ChildProcess | undefined;
      try {
        await store.tenants.ensure("alpha");
        await store.tenants.ensure("beta");
        await appendCounted(store, "alpha", 3);
        await appendCounted(store, "beta", 5);
        child = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            "cli.ts",
            "--database-url",
            dbUrl,
            "--config",
            config,
            "projections",
            "run-loop",
            "--all-tenants",
            "--discover-interval-ms",
            "100",
            "--poll-interval-ms",
            "50",
            "--health-bind",
            "127.0.0.1:0",
          ],
          cwd: ROOT,
          stdin: "null",
          stdout: "null",
          stderr: "piped",
        }).spawn();
        const drained = (async () => {
          for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
            stderr += text;
          }
        })();
        const failing = (error: Error) => {
          throw new Error(`${error.message}; daemon stderr: ${stderr}`);
        };
        const both = async () =>
          (await counted(store, "alpha")) === 3 &&
          (await counted(store, "beta")) === 5;
        await waitFor("both read models to fill", both, { timeoutMs: 30_000 }).catch(failing);

        await store.tenants.ensure("gamma");
        await appendCounted(store, "gamma", 4);
        await appendCounted(store, "alpha", 2);
        await waitFor(
          "the new tenant's read model to fill",
          async () =>
            (await counted(store, "gamma")) === 4 && (await counted(store, "alpha")) === 5,
          { timeoutMs: 30_000 },
        ).catch(failing);
        assertEquals(await counted(store, "beta"), 5, "beta saw no other tenant's events");

        // One health server for all tenants: / lists projections per tenant, /metrics has them all.
        const port = Number(/http:\/\/[^:]+:(\d+)\//.exec(stderr)?.[1]);
        assert(port > 0, stderr);
        const health = await (await fetch(`http://127.0.0.1:${port}/`)).json();
        const byTenant = Object.fromEntries(
          health.tenants.map((t: { tenant: string; projections: Array<{ name: string }> }) => [
            t.tenant,
            t.projections.map((p) => p.name),
          ]),
        );
        assertEquals(byTenant, { alpha: ["counted"], beta: ["counted"], gamma: ["counted"] });
        const samples = parsePrometheusText(
          await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
        );
        for (const [tenant, n] of [["alpha", 5], ["beta", 5], ["gamma", 4]] as const) {
          const labels = { tenant, schema: `tenant_${tenant}`, projection: "counted" };
          assertEquals(
            sampleValue(samples, "rillflow_projection_events_processed_total", labels),
            n,
          );
        }

        child.kill("SIGTERM");
        const status = await child.status;
        await drained;
        child = undefined;
        assertEquals(status.code, 0, stderr);
        assert(stderr.includes('Tenant "gamma": running'), stderr);
        assert(stderr.includes("Stopped."), stderr);
        const [leases] = await contextOf(store).executor.query<{ n: number }>(
          `select count(*)::int as n from "tenant_alpha".projections
          where lease_expires_at > clock_timestamp()`,
        );
        assertEquals(leases?.n, 0, "leases are released on a clean stop");
      } finally {
        if (child) {
          child.kill("SIGKILL");
          await child.status;
        }
        await Deno.remove(dir, { recursive: true });
        await store.close();
      }
    });
  },
);
