import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { freshSchema, testBoth, testServer } from "./_backends.ts";
import { parsePrometheusText, sampleValue } from "./_prometheus.ts";
import { TcpProxy } from "./_tcp_proxy.ts";
import { waitFor } from "./_wait.ts";
import {
  AggregateRepository,
  event,
  Expected,
  healthHandler,
  metricsRegistry,
  type Projection,
  type ProjectionDaemon,
  RillflowError,
  Store,
  whileServingHealth,
} from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { parseBind, serveHealth } from "../src/observability/health_server.ts";

const counter: Projection = {
  async setup(tx) {
    await tx.query("create table if not exists seen (n int)");
  },
  async apply(_event, tx) {
    await tx.query("insert into seen values (1)");
  },
};

const get = (handler: (r: Request) => Promise<Response>, path: string, method = "GET") =>
  handler(new Request(`http://health.test${path}`, { method }));

async function scrape() {
  return parsePrometheusText(await metricsRegistry.metrics());
}

Deno.test("the Prometheus parser accepts escapes and rejects malformed text", () => {
  const samples = parsePrometheusText(
    '# HELP m_total A help with \\\\ and \\n.\n# TYPE m_total counter\nm_total{a="q\\"\\\\\\n"} 2\n',
  );
  assertEquals(samples, [{ name: "m_total", labels: { a: 'q"\\\n' }, value: 2 }]);
  for (
    const bad of [
      '# TYPE m counter\nm{a="x"y"} 1',
      '# TYPE m counter\nm{a="x\\t"} 1',
      "m 1",
      "# TYPE m counter\nm one",
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 0',
    ]
  ) {
    assertThrows(() => parsePrometheusText(bad), SyntaxError);
  }
});

testBoth("health, readiness and metrics answer in-process", async (store) => {
  // A name with characters the text format must escape in label values.
  const name = 'orders "eu" \\ v2';
  const daemon = store.projections().register(name, counter);
  const { schema } = contextOf(store);
  const processedBefore = sampleValue(
    await scrape(),
    "rillflow_projection_events_processed_total",
    {
      projection: name,
      schema,
    },
  );
  for (let i = 0; i < 3; i++) {
    await store.events.append(crypto.randomUUID(), Expected.any, [event("E", { i })]);
  }
  await daemon.runUntilIdle();
  const handler = healthHandler(store, { daemon });

  const health = await get(handler, "/");
  assertEquals(health.status, 200);
  assertEquals(health.headers.get("content-type"), "application/json; charset=utf-8");
  const body = await health.json();
  assertEquals(body.status, "ok");
  assertEquals(body.database.ok, true);
  assertEquals(body.projections.length, 1);
  assertEquals(body.projections[0].name, name);
  assertEquals([body.projections[0].state, body.projections[0].lag], ["idle", 0]);
  assertEquals(body.daemon, { node: daemon.node, notify: "stopped" });

  assertEquals([(await get(handler, "/health/live")).status], [200]);
  const ready = await get(handler, "/health/ready");
  assertEquals([ready.status, await ready.text()], [200, "ready\n"]);
  assertEquals((await get(handler, "/nope")).status, 404);
  assertEquals((await get(handler, "/", "POST")).status, 405);

  const metrics = await get(handler, "/metrics");
  assertEquals(metrics.headers.get("content-type"), metricsRegistry.contentType);
  const text = await metrics.text();
  assert(text.includes(`projection="orders \\"eu\\" \\\\ v2"`), "label values are escaped");
  const samples = parsePrometheusText(text);
  const labels = { projection: name, schema, tenant: "" };
  assertEquals(
    sampleValue(samples, "rillflow_projection_events_processed_total", labels) - processedBefore,
    3,
  );
  assertEquals(sampleValue(samples, "rillflow_projection_lag", labels), 0);
  assertEquals(sampleValue(samples, "rillflow_projection_dead_letters", labels), 0);
  assert(sampleValue(samples, "rillflow_projection_batch_duration_seconds_count", labels) >= 1);
  assert(samples.some((s) => s.name === "rillflow_pool_max_connections"));
});

testBoth(
  "metrics count appends, conflicts and document reads, writes and conflicts",
  async (store) => {
    const before = await scrape();
    const stream = crypto.randomUUID();
    await store.events.append(stream, Expected.noStream, [event("A", {}), event("B", {})]);
    await store.events.append(stream, Expected.noStream, [event("C", {})]).catch(() => {});
    // Appends that run in a transaction (advisory locks, inline projections) count too, as do
    // a session's and an aggregate repository's.
    await store.events.withAdvisoryLocks().append(stream, Expected.exact(2), [event("D", {})]);
    const session = store.session();
    session.enqueueEvent(stream, Expected.exact(3), event("E", {}));
    session.store("docs", crypto.randomUUID(), { s: 1 });
    await session.saveChanges();
    const counters = new AggregateRepository(store, {
      name: "counter",
      initialState: () => 0,
      evolve: (n: number) => n + 1,
    });
    await counters.commit(crypto.randomUUID(), Expected.noStream, [event("F", {}), event("G", {})]);
    const docs = store.docs("docs");
    const id = crypto.randomUUID();
    await docs.put(id, { v: 1 });
    await docs.put(id, { v: 2 }, 7).catch((error) => assert(error instanceof RillflowError));
    await docs.get(id);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      sampleValue(after, name, labels) - sampleValue(before, name, labels);
    assertEquals(delta("rillflow_events_appended_total"), 6);
    assertEquals(delta("rillflow_appends_total"), 4);
    assertEquals(delta("rillflow_append_conflicts_total"), 1);
    assertEquals(
      delta("rillflow_document_writes_total", { collection: "docs" }),
      2,
      "put, session",
    );
    assertEquals(delta("rillflow_document_conflicts_total", { collection: "docs" }), 1);
    assertEquals(delta("rillflow_document_reads_total", { collection: "docs" }), 1);
    assertEquals(
      delta("rillflow_query_duration_seconds_count", { operation: "append" }),
      4,
      "conflicting appends are timed too",
    );
    assertEquals(
      delta("rillflow_query_duration_seconds_count", { operation: "document_write" }),
      2,
    );
    assertEquals(
      delta("rillflow_query_duration_seconds_count", { operation: "session_commit" }),
      1,
      "the session's commit is timed as a whole",
    );
  },
);

/** Runs a daemon with its health server on a free port. */
async function runWithHealth(store: Store, daemon: ProjectionDaemon) {
  const controller = new AbortController();
  const bound = Promise.withResolvers<number>();
  const { signal } = controller;
  const running = whileServingHealth(
    () => healthHandler(store, { daemon }),
    { hostname: "127.0.0.1", port: 0, signal, onListen: ({ port }) => bound.resolve(port) },
    () => daemon.run({ signal }),
  );
  return {
    base: `http://127.0.0.1:${await bound.promise}`,
    stop: () => (controller.abort(), running),
  };
}

testServer("a running daemon serves / and /metrics over a real socket", async (url) => {
  const store = await Store.connect(url, { schema: freshSchema(), autoMigrate: true });
  const daemon = store.projections({ pollIntervalMs: 20 }).register("counter", counter);
  const { base, stop } = await runWithHealth(store, daemon);
  try {
    await store.events.append(crypto.randomUUID(), Expected.any, [event("E", {})]);
    const body = await waitFor("the event to be applied", async () => {
      const json = await (await fetch(`${base}/`)).json();
      return json.projections[0]?.checkpoint > 0 && json;
    });
    assertEquals(body.status, "ok");
    assertEquals(body.daemon.notify, "listening");
    const metrics = await fetch(`${base}/metrics`);
    assertEquals(metrics.status, 200);
    const samples = parsePrometheusText(await metrics.text());
    assertEquals(
      sampleValue(samples, "rillflow_projection_lag", { projection: "counter" }),
      0,
    );
    assert(sampleValue(samples, "rillflow_database_connections") >= 0);
  } finally {
    await stop();
    await contextOf(store).executor.query(`drop schema "${contextOf(store).schema}" cascade`);
    await store.close();
  }
});

testServer("/health/ready turns 503 while the database is unreachable", async (url) => {
  const proxy = await TcpProxy.start(url);
  const schema = freshSchema();
  const direct = await Store.connect(url, { schema, autoMigrate: true });
  const store = await Store.connect(proxy.url(url), { schema, connectTimeoutMs: 2_000 });
  const errors: unknown[] = [];
  const daemon = store.projections({ pollIntervalMs: 50, onError: (error) => errors.push(error) })
    .register("counter", counter);
  const { base, stop } = await runWithHealth(store, daemon);
  try {
    assertEquals((await fetch(`${base}/health/ready`)).status, 200);
    proxy.cut();
    const down = await fetch(`${base}/health/ready`);
    assertEquals(down.status, 503);
    assert((await down.text()).startsWith("not ready"));
    const health = await fetch(`${base}/`);
    assertEquals(health.status, 503);
    assertEquals((await health.json()).status, "unavailable");
    assertEquals((await fetch(`${base}/health/live`)).status, 200);
    assertEquals((await fetch(`${base}/metrics`)).status, 200, "metrics are served regardless");

    await proxy.restore();
    await waitFor("ready again", async () => (await fetch(`${base}/health/ready`)).status === 200);
    await direct.events.append(crypto.randomUUID(), Expected.any, [event("E", {})]);
    await waitFor("the daemon to resume", async () => (await daemon.status("counter")).lag === 0);
  } finally {
    await stop();
    proxy.close();
    await store.close();
    await contextOf(direct).executor.query(`drop schema "${schema}" cascade`);
    await direct.close();
  }
});

Deno.test("bind addresses parse as host:port", () => {
  assertEquals(parseBind("0.0.0.0:8080"), { hostname: "0.0.0.0", port: 8080 });
  assertEquals(parseBind("[::1]:9090"), { hostname: "::1", port: 9090 });
  assertEquals(parseBind(":0"), { hostname: "0.0.0.0", port: 0 });
  for (const bad of ["8080", "host:", "host:70000", "a b:1"]) {
    assertThrows(() => parseBind(bad), TypeError, "host:port");
  }
});

Deno.test("a health address already in use is named, and nothing is served", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    const error = assertThrows(
      () => serveHealth(() => Promise.resolve(new Response("ok")), { hostname: "127.0.0.1", port }),
      Deno.errors.AddrInUse,
    );
    assert(error.message.includes(`127.0.0.1:${port}`), error.message);
    assert(error.message.includes("--health-bind"), error.message);
  } finally {
    taken.close();
  }
});
