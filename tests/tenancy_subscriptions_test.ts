/** Subscriptions and metrics per tenant: isolation and the `tenant` label. */
import { assert, assertEquals } from "./_assert.ts";
import { testTenancy } from "./_backends.ts";
import { appendOne, take } from "./_subscriptions.ts";
import { waitFor } from "./_wait.ts";
import { metricsRegistry } from "../mod.ts";
import { parsePrometheusText, sampleValue } from "./_prometheus.ts";

testTenancy(
  "a subscription in tenant A never delivers tenant B's events",
  async (store, tenant) => {
    const [a, b] = [tenant(), tenant()];
    await store.tenants.ensure(a);
    await store.tenants.ensure(b);
    const [viewA, viewB] = [store.forTenant(a), store.forTenant(b)];
    const stream = crypto.randomUUID();
    // The same subscription name in both tenants: each keeps its own definition and checkpoint.
    await viewA.subscriptions.create("feed", { startFrom: 0 });
    await viewB.subscriptions.create("feed", { startFrom: 0 });
    const sub = await viewA.subscriptions.subscribe("feed", {
      group: "g",
      ackMode: "manual",
      useNotify: false,
      pollIntervalMs: 20,
    });
    try {
      await appendOne(viewB, stream, "Ping", { from: "b", n: 1 });
      await appendOne(viewA, stream, "Ping", { from: "a", n: 1 });
      await appendOne(viewB, stream, "Ping", { from: "b", n: 2 });
      await appendOne(viewA, stream, "Ping", { from: "a", n: 2 });
      const got = await take(sub, 2);
      assertEquals(got.map((e) => e.data), [{ from: "a", n: 1 }, { from: "a", n: 2 }]);
      for (const envelope of got) await sub.ack(envelope.globalSeq);
      // Nothing more arrives: B's events are not in A's feed (B's head is beyond A's).
      await appendOne(viewA, stream, "Ping", { from: "a", n: 3 });
      assertEquals((await take(sub, 1))[0]!.data, { from: "a", n: 3 });

      const labels = { tenant: a, subscription: "feed", group: "g" };
      await waitFor("tenant A's delivered counter", async () => {
        const samples = parsePrometheusText(await metricsRegistry.metrics());
        return sampleValue(samples, "rillflow_subscription_events_delivered_total", labels) === 3;
      });
      const samples = parsePrometheusText(await metricsRegistry.metrics());
      assertEquals(
        sampleValue(samples, "rillflow_subscription_events_delivered_total", { tenant: b }),
        0,
      );
    } finally {
      await sub.close();
    }
  },
);

testTenancy("projection metrics carry the tenant label", async (store, tenant) => {
  const [a, b] = [tenant(), tenant()];
  await store.tenants.ensure(a);
  await store.tenants.ensure(b);
  const counted = { apply: () => Promise.resolve() };
  for (const [t, n] of [[a, 2], [b, 3]] as const) {
    const view = store.forTenant(t);
    for (let i = 0; i < n; i++) await appendOne(view, crypto.randomUUID(), "E");
    await view.projections().register("counted", counted).runUntilIdle();
  }
  const samples = parsePrometheusText(await metricsRegistry.metrics());
  const processed = (t: string) =>
    sampleValue(samples, "rillflow_projection_events_processed_total", {
      schema: `tenant_${t}`,
      tenant: t,
      projection: "counted",
    });
  assertEquals([processed(a), processed(b)], [2, 3]);
  assert(
    samples.some((s) =>
      s.name === "rillflow_projection_lag" && s.labels.tenant === a && s.value === 0
    ),
  );
});
