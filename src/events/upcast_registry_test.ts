import { assert, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { RillflowError } from "../errors.ts";
import { defineUpcaster } from "./upcaster.ts";
import { UpcasterRegistry } from "./upcast_registry.ts";

const step = (fromType: string, fromVersion: number, toType: string, toVersion: number) =>
  defineUpcaster({ fromType, fromVersion, toType, toVersion, upcast: (data) => data });

Deno.test("findPath follows a chain with a rename, and describe lists it sorted", () => {
  const registry = new UpcasterRegistry()
    .register(step("OrderPlaced", 2, "OrderPlaced", 3))
    .register(step("OrderCreated", 1, "OrderPlaced", 2));
  assertEquals(registry.findPath(["OrderCreated", 1], ["OrderPlaced", 3]), [
    ["OrderCreated", 1],
    ["OrderPlaced", 2],
    ["OrderPlaced", 3],
  ]);
  assertEquals(registry.findPath(["OrderPlaced", 2], ["OrderPlaced", 3]), [
    ["OrderPlaced", 2],
    ["OrderPlaced", 3],
  ]);
  assertEquals(registry.findPath(["OrderPlaced", 3], ["OrderPlaced", 3]), [["OrderPlaced", 3]]);
  assertEquals(registry.findPath(["OrderPlaced", 3], ["OrderPlaced", 2]), null);
  assertEquals(registry.findPath(["Unknown", 1], ["OrderPlaced", 3]), null);
  assertEquals(registry.describe().map((d) => `${d.fromType}@${d.fromVersion}`), [
    "OrderCreated@1",
    "OrderPlaced@2",
  ]);
  assertEquals(registry.describe()[0], {
    fromType: "OrderCreated",
    fromVersion: 1,
    toType: "OrderPlaced",
    toVersion: 2,
    async: false,
  });
});

Deno.test("a registration closing a cycle is refused with the cycle named", () => {
  const registry = new UpcasterRegistry()
    .register(step("A", 1, "A", 2))
    .register(step("A", 2, "B", 1));
  const error = assertThrows(() => registry.register(step("B", 1, "A", 1)), RillflowError);
  assertEquals(error.code, "UPCASTING_FAILED");
  assert(error.message.includes("cycle: B v1 → A v1 → A v2 → B v1"), error.message);
  assertEquals(error.details.cycle, [["B", 1], ["A", 1], ["A", 2], ["B", 1]]);
  assertEquals(registry.size, 2, "the refused upcaster is not registered");
  const self = assertThrows(() => registry.register(step("C", 1, "C", 1)), RillflowError);
  assert(self.message.includes("C v1 → C v1"), self.message);
});

Deno.test("a second upcaster for the same stored shape is a caller bug", () => {
  const registry = new UpcasterRegistry().register(step("A", 1, "A", 2));
  assertThrows(() => registry.register(step("A", 1, "A", 3)), TypeError, "already registered");
  assertThrows(
    () => registry.register({ fromType: "", fromVersion: 1, toType: "A", toVersion: 2 } as never),
    TypeError,
    "fromType",
  );
  assertThrows(() => step("A", 0, "A", 1), TypeError, "fromVersion must be a positive integer");
  assertThrows(() => registry.findPath(["A", 1.5], ["A", 2]), TypeError, "[type, version]");
});

Deno.test("currentVersion is the highest known version of a type", () => {
  const registry = new UpcasterRegistry()
    .register(step("OrderCreated", 1, "OrderPlaced", 2))
    .register(step("OrderPlaced", 2, "OrderPlaced", 3));
  assertEquals(registry.currentVersion("OrderPlaced"), 3);
  assertEquals(registry.currentVersion("OrderCreated"), 1);
  assertEquals(registry.currentVersion("Other"), 1);
});

Deno.test("renames lists the stored shapes whose chain ends in another type", () => {
  const registry = new UpcasterRegistry()
    .register(step("OrderCreated", 1, "OrderPlaced", 2))
    .register(step("OrderPlaced", 2, "OrderPlaced", 3))
    // Away and back: A v1 is read as an A, B v1 as an A too.
    .register(step("A", 1, "B", 1))
    .register(step("B", 1, "A", 2));
  assertEquals(registry.renames(), {
    types: ["OrderCreated", "B"],
    versions: [1, 1],
    finals: ["OrderPlaced", "A"],
  });
  registry.register(step("OrderPlaced", 3, "PurchasePlaced", 1));
  assertEquals(registry.renames(), {
    types: ["OrderCreated", "OrderPlaced", "B", "OrderPlaced"],
    versions: [1, 2, 1, 3],
    finals: ["PurchasePlaced", "PurchasePlaced", "A", "PurchasePlaced"],
  }, "a new upcaster extends the chains it continues");
  assertEquals(Object.isFrozen(registry.renames().types), true);
});
