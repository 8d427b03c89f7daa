import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { testServer, testTenancy } from "./_backends.ts";
import { event, Expected, RillflowError, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { MIGRATIONS } from "../src/schema/migrations.ts";
import { runCliProcess } from "./_cli.ts";

testTenancy(
  "the same document and stream ids in two tenants are independent",
  async (store, tenant) => {
    const [a, b] = [tenant(), tenant()];
    await store.tenants.ensure(a);
    await store.tenants.ensure(b);
    const id = crypto.randomUUID();
    await store.forTenant(a).docs().put(id, { owner: "a" });
    await store.forTenant(b).docs().put(id, { owner: "b" });
    await store.forTenant(b).docs().put(id, { owner: "b2" });
    assertEquals(await store.forTenant(a).docs().get(id), { doc: { owner: "a" }, version: 1 });
    assertEquals(await store.forTenant(b).docs().get(id), { doc: { owner: "b2" }, version: 2 });

    await store.forTenant(a).events.append(id, Expected.noStream, [event("A", {})]);
    await store.forTenant(b).events.append(id, Expected.noStream, [
      event("B1", {}),
      event("B2", {}),
    ]);
    assertEquals((await store.forTenant(a).events.readStream(id)).map((e) => e.type), ["A"]);
    assertEquals((await store.forTenant(a).events.readStream(id)).map((e) => e.tenantId), [a]);
    assertEquals((await store.forTenant(b).events.readAll()).map((e) => e.tenantId), [b, b]);
    await store.forTenant(b).docs().put(crypto.randomUUID(), { owner: "b" });
    assertEquals(await store.forTenant(a).docs().query().count(), 1);
    assertEquals(await store.forTenant(b).docs().query().count(), 2);
    assertEquals((await store.forTenant(b).events.readAll()).map((e) => e.type), ["B1", "B2"]);
    assertEquals((await store.forTenant(a).events.readAll()).map((e) => e.type), ["A"]);
  },
);

testTenancy("an operation without a tenant is TENANT_REQUIRED", (store) => {
  for (const attempt of [() => store.docs(), () => store.events]) {
    const error = assertThrows(attempt, RillflowError);
    assertEquals(error.code, "TENANT_REQUIRED");
  }
  return Promise.resolve();
});

testTenancy(
  "a tenant whose schema does not exist is TENANT_NOT_FOUND naming it",
  async (store, tenant) => {
    const ghost = tenant();
    const error = await assertRejects(
      () => store.forTenant(ghost).docs().get(crypto.randomUUID()),
      RillflowError,
    );
    assertEquals(error.code, "TENANT_NOT_FOUND");
    assert(error.message.includes(ghost));
    const append = await assertRejects(
      () =>
        store.forTenant(ghost).events.append(crypto.randomUUID(), Expected.any, [event("X", {})]),
      RillflowError,
    );
    assertEquals(append.code, "TENANT_NOT_FOUND");
    assertEquals(await store.tenants.exists(ghost), false);
  },
);

testTenancy("tenant names are validated, never rewritten", async (store) => {
  for (const bad of ["Acme", "a-b", "a b", "", "x".repeat(49), "tenant;drop", "é"]) {
    assertThrows(() => store.forTenant(bad), TypeError, "Invalid tenant name");
    await assertRejects(() => store.tenants.ensure(bad), TypeError, "Invalid tenant name");
  }
  assertEquals(store.forTenant("x".repeat(48)).url, store.url);
});

let current: string | undefined;
testTenancy("the resolver routes every call", async (store, tenant) => {
  const [a, b] = [tenant(), tenant()];
  await store.tenants.ensure(a);
  await store.tenants.ensure(b);
  const id = crypto.randomUUID();
  current = a;
  await store.docs().put(id, { t: "a" });
  current = b;
  assertEquals(await store.docs().get(id), null);
  await store.events.append(id, Expected.any, [event("InB", {})]);
  current = a;
  assertEquals((await store.docs().get(id))?.doc, { t: "a" });
  assertEquals(await store.events.readStream(id), []);
  current = undefined;
  assertEquals(assertThrows(() => store.docs(), RillflowError).code, "TENANT_REQUIRED");
}, { tenancy: { strategy: "schema-per-tenant", resolver: () => current } });

testTenancy(
  "ensure is idempotent; list, exists and status report tenants",
  async (store, tenant) => {
    const t = tenant();
    assertEquals((await store.tenants.ensure(t)).length, MIGRATIONS.length);
    assertEquals(await store.tenants.ensure(t), []);
    assert((await store.tenants.list()).includes(t));
    assert(await store.tenants.exists(t));
    const status = await store.tenants.status(t);
    assertEquals(status.exists, true);
    assertEquals(status.pending, []);
    assertEquals(status.applied.length, MIGRATIONS.length);
    assertEquals(status.drift?.ok, true);
    await store.tenants.drop(t);
    assertEquals(await store.tenants.exists(t), false);
    assertEquals((await store.tenants.status(t)).drift, null);
    const error = await assertRejects(() => store.tenants.drop(t), RillflowError);
    assertEquals(error.code, "TENANT_NOT_FOUND");
  },
);

testTenancy("drift in one tenant is reported for that tenant only", async (store, tenant) => {
  const [a, b] = [tenant(), tenant()];
  await store.tenants.ensure(a);
  await store.tenants.ensure(b);
  await contextOf(store).executor.query(`alter table "tenant_${a}".events add column rogue int`);
  const drifted = await store.tenants.status(a);
  assertEquals(drifted.drift?.ok, false);
  assertEquals(drifted.drift?.items.map((i) => `${i.kind} ${i.object}`), [
    "extra-column events.rogue",
  ]);
  assertEquals((await store.tenants.status(b)).drift?.ok, true);
});

testTenancy("archive, drop and restore keep every row", async (store, tenant) => {
  const t = tenant();
  await store.tenants.ensure(t);
  const view = store.forTenant(t);
  const ids = Array.from({ length: 7 }, () => crypto.randomUUID());
  for (const [i, id] of ids.entries()) {
    await view.docs().put(id, { i, text: `quote ' backslash \\ unicode ✓` });
    await view.events.append(id, Expected.noStream, [
      event("Made", { i }),
      event("Changed", { i }),
    ], { category: "made" }); // a metadata row in streams
  }
  const orderId = crypto.randomUUID();
  await view.docs("orders").put(orderId, { total: 42, note: "express delivery" });
  const before = await view.events.readAll();
  const dir = await Deno.makeTempDir({ prefix: "rillflow_archive_" });
  try {
    const manifest = await store.tenants.archive(t, dir);
    const rows = Object.fromEntries(manifest.tables.map((x) => [x.name, x.rows]));
    assertEquals(rows.docs, 7);
    assertEquals(rows.events, 14);
    assertEquals(rows.streams, 7);
    await store.tenants.drop(t);
    await store.tenants.restore(t, dir);
    const after = await view.events.readAll();
    assertEquals(after, before);
    for (const [i, id] of ids.entries()) {
      assertEquals((await view.docs().get(id))?.doc, { i, text: `quote ' backslash \\ unicode ✓` });
    }
    assertEquals((await view.docs("orders").get(orderId))?.doc, {
      total: 42,
      note: "express delivery",
    });
    assertEquals(await view.docs("orders").query().search("express").count(), 1);
    // Positions continue after the restored ones.
    const next = await view.events.append(ids[0]!, Expected.exact(2), [event("Later", {})]);
    assert(next.globalSeqs[0]! > before[before.length - 1]!.globalSeq);
    const again = await assertRejects(() => store.tenants.restore(t, dir), RillflowError);
    assertEquals(again.code, "INVALID_INPUT");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

testTenancy("a damaged archive is rejected before anything is written", async (store, tenant) => {
  const t = tenant();
  await store.tenants.ensure(t);
  await store.forTenant(t).docs().put(crypto.randomUUID(), { a: 1 });
  const dir = await Deno.makeTempDir({ prefix: "rillflow_archive_" });
  try {
    await store.tenants.archive(t, dir);
    await Deno.writeTextFile(`${dir}/docs.jsonl`, "{}\n", { append: true });
    const fresh = tenant();
    const error = await assertRejects(() => store.tenants.restore(fresh, dir), RillflowError);
    assertEquals(error.code, "INVALID_INPUT");
    assertEquals(await store.tenants.exists(fresh), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("forTenant on a single-tenant store is an error", async () => {
  await using store = await Store.connect("pglite://memory", { autoMigrate: false });
  const error = assertThrows(() => store.forTenant("acme"), RillflowError);
  assertEquals(error.code, "INVALID_INPUT");
});

testServer("concurrent ensure from 4 connections provisions once", async (url) => {
  const t = `t${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const stores = await Promise.all(
    Array.from(
      { length: 4 },
      () => Store.connect(url, { tenancy: { strategy: "schema-per-tenant" } }),
    ),
  );
  try {
    const applied = await Promise.all(stores.map((s) => s.tenants.ensure(t)));
    assertEquals(applied.reduce((n, a) => n + a.length, 0), MIGRATIONS.length);
    const [row] = await contextOf(stores[0]!).executor.query<{ n: number }>(
      `select count(*)::int as n from "tenant_${t}".rillflow_migrations`,
    );
    assertEquals(row?.n, MIGRATIONS.length);
  } finally {
    await contextOf(stores[0]!).executor.query(`drop schema if exists "tenant_${t}" cascade`);
    await Promise.all(stores.map((s) => s.close()));
  }
});

testServer("a tenant provisioned by another process is usable without a restart", async (url) => {
  const t = `t${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const tenancy = { strategy: "schema-per-tenant" as const };
  const [a, b] = await Promise.all([
    Store.connect(url, { tenancy }),
    Store.connect(url, { tenancy }),
  ]);
  try {
    const id = crypto.randomUUID();
    const missing = await assertRejects(() => a.forTenant(t).docs().get(id), RillflowError);
    assertEquals(missing.code, "TENANT_NOT_FOUND");
    const ensured = await runCliProcess(["tenants", "ensure", t], { env: { DATABASE_URL: url } });
    assertEquals(ensured.code, 0, ensured.stderr);
    await b.forTenant(t).docs().put(id, { by: "b" });
    assertEquals((await a.forTenant(t).docs().get(id))?.doc, { by: "b" });
  } finally {
    await contextOf(a).executor.query(`drop schema if exists "tenant_${t}" cascade`);
    await Promise.all([a.close(), b.close()]);
  }
});

testServer(
  "1,000 interleaved operations of two tenants on a pool of 2 leak nothing",
  async (url) => {
    const [a, b] = [0, 1].map(() => `t${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`) as [
      string,
      string,
    ];
    const store = await Store.connect(url, {
      maxConnections: 2,
      tenancy: { strategy: "schema-per-tenant" },
    });
    const { executor } = contextOf(store);
    try {
      await store.tenants.ensure(a);
      await store.tenants.ensure(b);
      const [defaultPath] = await executor.query<{ p: string }>(
        "select current_setting('search_path') as p",
      );
      await Promise.all(Array.from({ length: 1000 }, async (_, i) => {
        const t = i % 2 === 0 ? a : b;
        await store.forTenant(t).docs().put(crypto.randomUUID(), { t });
      }));
      for (const t of [a, b]) {
        const rows = await executor.query<{ t: string; n: number }>(
          `select doc->>'t' as t, count(*)::int as n from "tenant_${t}".docs group by 1`,
        );
        assertEquals(rows, [{ t, n: 500 }]);
      }
      for (let i = 0; i < 4; i++) {
        const [path] = await executor.query<{ p: string }>(
          "select current_setting('search_path') as p",
        );
        assertEquals(path, defaultPath);
      }
    } finally {
      for (const t of [a, b]) await executor.query(`drop schema if exists "tenant_${t}" cascade`);
      await store.close();
    }
  },
);

testTenancy(
  "a session names its tenant and saves in that tenant's schema",
  async (store, tenant) => {
    const [a, b] = [tenant(), tenant()];
    await store.tenants.ensure(a);
    await store.tenants.ensure(b);
    const id = crypto.randomUUID();
    const session = store.session({ tenant: a });
    session.store("docs", id, { in: "a" });
    session.enqueueEvent(id, Expected.noStream, event("Noted", {}));
    await session.saveChanges();
    assertEquals((await store.forTenant(a).docs().get(id))?.doc, { in: "a" });
    assertEquals((await store.forTenant(a).events.readStream(id)).map((e) => e.tenantId), [a]);
    assertEquals(await store.forTenant(b).docs().get(id), null);
    assertEquals(await store.forTenant(b).events.readStream(id), []);
    assertEquals(assertThrows(() => store.session(), RillflowError).code, "TENANT_REQUIRED");
  },
);
