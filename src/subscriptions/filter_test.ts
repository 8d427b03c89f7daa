import { assertEquals, assertThrows } from "../../tests/_assert.ts";
import { describeFilter, normalizeFilter, validateName } from "./filter.ts";
import { desiredPartitions } from "./membership.ts";
import { ScanWindow } from "./scan.ts";

Deno.test("filters are sorted, deduplicated and validated", () => {
  const id = "0b5c4d7e-2f3a-4b1c-9d8e-7f6a5b4c3d2e";
  assertEquals(normalizeFilter({ eventTypes: ["B", "A", "B"], streamIds: [id.toUpperCase()] }), {
    eventTypes: ["A", "B"],
    streamIds: [id],
  });
  assertEquals(normalizeFilter({ categories: [] }), {});
  assertThrows(() => normalizeFilter({ eventTypes: [""] }), TypeError, "non-empty strings");
  assertThrows(() => normalizeFilter({ streamIds: ["42"] }), TypeError, "UUID");
  assertEquals(describeFilter({}), "all events");
  assertEquals(
    describeFilter({ eventTypes: ["A"], categories: ["orders"] }),
    "types A; categories orders",
  );
  assertEquals(validateName("orders.v2:eu-1", "subscription"), "orders.v2:eu-1");
  assertThrows(() => validateName("no spaces", "group"), TypeError, "group name");
  assertThrows(() => validateName("", "subscription"), TypeError);
});

Deno.test("shared groups split partitions round-robin over live members; exclusive ones claim 0", () => {
  assertEquals(desiredPartitions("exclusive", 1, ["a", "b"], "b"), [0]);
  assertEquals(desiredPartitions("shared", 8, ["a", "b", "c"], "a"), [0, 3, 6]);
  assertEquals(desiredPartitions("shared", 8, ["a", "b", "c"], "c"), [2, 5]);
  assertEquals(desiredPartitions("shared", 4, ["a"], "a"), [0, 1, 2, 3]);
  assertEquals(desiredPartitions("shared", 4, ["a"], "z"), []);
});

Deno.test("the scan window doubles on sparse reads and shrinks back on a full batch", () => {
  const window = new ScanWindow(100);
  window.adapt(10, 100);
  window.adapt(0, 100);
  assertEquals(window.size, 400);
  window.adapt(60, 100);
  assertEquals(window.size, 400);
  window.adapt(100, 100);
  assertEquals(window.size, 100);
});
