import { assertEquals, assertRejects } from "./_assert.ts";
import { testTenancy } from "./_backends.ts";
import {
  type Aggregate,
  AggregateRepository,
  event,
  Expected,
  RillflowError,
  Snapshotter,
  UpcasterRegistry,
} from "../mod.ts";

let current: string | undefined;

/** Old "Moved" events get the region of the tenant's only customer document. */
const regions = new UpcasterRegistry().registerAsync({
  fromType: "Moved",
  fromVersion: 1,
  toType: "Moved",
  toVersion: 2,
  async upcast(data, db) {
    const [row] = await db.query<{ region: string }>("select doc->>'region' as region from docs");
    return { ...(data as object), region: row?.region ?? "none" };
  },
});

const Travels: Aggregate<{ regions: string[] }> = {
  name: "travels",
  initialState: () => ({ regions: [] }),
  evolve: (state, e) => ({ regions: [...state.regions, (e.data as { region: string }).region] }),
};

testTenancy(
  "aggregates, snapshots and async upcasters work in the current tenant's schema",
  async (store, tenant) => {
    const [a, b] = [tenant(), tenant()];
    await store.tenants.ensure(a);
    await store.tenants.ensure(b);
    await store.forTenant(a).docs().put(crypto.randomUUID(), { region: "emea" });
    await store.forTenant(b).docs().put(crypto.randomUUID(), { region: "apac" });

    const travels = new AggregateRepository(store, Travels); // routes per call
    const id = crypto.randomUUID();
    const moved = () => event("Moved", {}, { version: 1 });
    current = a;
    await travels.commit(id, Expected.noStream, [moved()]);
    current = b;
    await travels.commit(id, Expected.noStream, [moved(), moved()]);

    current = a;
    assertEquals(await travels.load(id), { state: { regions: ["emea"] }, version: 1 });
    current = b;
    assertEquals(await travels.load(id), { state: { regions: ["apac", "apac"] }, version: 2 });

    const summary = await new Snapshotter(store.forTenant(b), [Travels], { threshold: 2 })
      .runUntilIdle();
    assertEquals([summary.examined, summary.written], [1, 1]);
    const inA = await new Snapshotter(store.forTenant(a), [Travels], { threshold: 1 })
      .runUntilIdle();
    assertEquals(inA.written, 1, "tenant a's stream is its own");

    current = undefined;
    const error = await assertRejects(() => travels.load(id), RillflowError);
    assertEquals(error.code, "TENANT_REQUIRED");
  },
  { tenancy: { strategy: "schema-per-tenant", resolver: () => current }, upcasters: regions },
);
