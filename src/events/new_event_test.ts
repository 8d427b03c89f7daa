import { assertEquals, assertThrows } from "../../tests/_assert.ts";
import { event, serializeEventData } from "./new_event.ts";

Deno.test("event() freezes type, data, version and metadata", () => {
  const e = event("Placed", { n: 1 }, { version: 3, metadata: { source: "web" } });
  assertEquals(e, { type: "Placed", data: { n: 1 }, version: 3, metadata: { source: "web" } });
  assertEquals(Object.isFrozen(e), true);
  assertEquals(event("Plain", {}).version, undefined);
  assertEquals("metadata" in event("Plain", {}), false);
});

Deno.test("event() rejects what JSON or PostgreSQL cannot carry", () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.me = cyclic;
  assertThrows(() => event("", {}), TypeError, "non-empty");
  assertThrows(() => event("E", { n: 1n }), TypeError, "BigInt");
  assertThrows(() => event("E", cyclic), TypeError, "not JSON-serialisable");
  assertThrows(() => event("E", { f() {} }), TypeError, "a function");
  assertThrows(() => event("E", [1, Symbol("s")]), TypeError, "a symbol");
  assertThrows(() => event("E", undefined), TypeError, 'Event "E" data is not JSON-serialisable');
  assertThrows(() => event("E", { s: "a\u0000b" }), TypeError, "U+0000");
  assertThrows(() => event("E", { s: "\ud800" }), TypeError, "surrogate");
  assertThrows(() => event("E", {}, { version: 1.5 }), TypeError, "positive integer");
  assertThrows(() => event("E", {}, { version: 2 ** 31 }), TypeError, "below 2^31");
  assertThrows(() => event("E", {}, { metadata: [] as never }), TypeError, "plain object");
  assertThrows(() => event("E", {}, { metadata: { f: () => 1 } }), TypeError, "a function");
});

Deno.test("escaped backslashes and valid pairs are not mistaken for bad characters", () => {
  assertEquals(serializeEventData("E", { s: "\\u0000 \\ud800" }), '{"s":"\\\\u0000 \\\\ud800"}');
  assertEquals(serializeEventData("E", { s: "😀" }), '{"s":"😀"}');
  assertEquals(serializeEventData("E", { d: new Date(0) }), '{"d":"1970-01-01T00:00:00.000Z"}');
  assertEquals(serializeEventData("E", { s: "tab\there" }), '{"s":"tab\\there"}');
});
