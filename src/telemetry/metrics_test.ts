import { assertEquals } from "../../tests/_assert.ts";
import { parsePrometheusText, sampleValue } from "../../tests/_prometheus.ts";
import { metricsRegistry, observeQuery, recordAppend, recordDocumentRead } from "./metrics.ts";

const scrape = async () => parsePrometheusText(await metricsRegistry.metrics());

Deno.test("hot-path recordings all reach the registry, however many wait", async () => {
  metricsRegistry.resetMetrics();
  for (let i = 0; i < 2_500; i++) observeQuery("append", 0.0004);
  recordAppend(3);
  recordAppend(1);
  recordDocumentRead("orders");
  recordDocumentRead("orders");
  recordDocumentRead("users");
  const samples = await scrape();
  const append = { operation: "append" };
  assertEquals(sampleValue(samples, "rillflow_query_duration_seconds_count", append), 2_500);
  assertEquals(
    sampleValue(samples, "rillflow_query_duration_seconds_bucket", { ...append, le: "0.0005" }),
    2_500,
  );
  assertEquals(sampleValue(samples, "rillflow_appends_total"), 2);
  assertEquals(sampleValue(samples, "rillflow_events_appended_total"), 4);
  assertEquals(sampleValue(samples, "rillflow_document_reads_total", { collection: "orders" }), 2);
  assertEquals(sampleValue(samples, "rillflow_document_reads_total", { collection: "users" }), 1);
  // Read again: nothing is counted twice.
  assertEquals(sampleValue(await scrape(), "rillflow_appends_total"), 2);
});

Deno.test("resetting the registry drops recordings not yet read", async () => {
  recordAppend(5);
  observeQuery("document_read", 0.002);
  metricsRegistry.resetMetrics();
  const samples = await scrape();
  assertEquals(sampleValue(samples, "rillflow_appends_total"), 0);
  assertEquals(sampleValue(samples, "rillflow_events_appended_total"), 0);
  assertEquals(
    sampleValue(samples, "rillflow_query_duration_seconds_count", { operation: "document_read" }),
    0,
  );
});
