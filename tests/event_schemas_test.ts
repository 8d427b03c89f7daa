import { assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { event, EventSchemas, Expected, RillflowError } from "../mod.ts";

const schemas = new EventSchemas()
  .register("OrderPlaced", 1, {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "Order placed",
    type: "object",
    required: ["orderId", "total"],
    additionalProperties: false,
    properties: {
      orderId: { type: "integer", minimum: 1 },
      total: { type: "number", exclusiveMinimum: 0 },
      currency: { enum: ["EUR", "USD"] },
      lines: { type: "array", items: { type: "string", minLength: 1, pattern: "^[A-Z]" } },
    },
  });

testBoth(
  "appends whose data violates its schema are refused with every violation",
  async (store, backend) => {
    const s = crypto.randomUUID();
    const error = await assertRejects(
      () =>
        store.events.append(s, Expected.any, [
          event("OrderPlaced", { orderId: 1, total: 3, lines: ["Ok"] }),
          event("OrderPlaced", {
            orderId: 0,
            total: 3,
            currency: "GBP",
            extra: 1,
            lines: ["", "x"],
          }),
          event("OrderPlaced", { total: "3" }),
        ]),
      RillflowError,
      "event 1 (OrderPlaced v1) at /orderId: must be >= 1",
    );
    assertEquals(error.code, "INVALID_INPUT");
    assertEquals(
      (error.details.violations as Array<{ index: number; path: string }>).map((v) => [
        v.index,
        v.path,
      ]),
      [
        [1, "/orderId"],
        [1, "/currency"],
        [1, "/lines/0"], // too short
        [1, "/lines/0"], // and not matching the pattern
        [1, "/lines/1"],
        [1, "/extra"],
        [2, ""],
        [2, "/total"],
      ],
    );
    assertEquals(await store.events.streamVersion(s), 0);
    await store.events.append(s, Expected.noStream, [
      event("OrderPlaced", { orderId: 1, total: 0.5, currency: "EUR" }),
      event("OrderPlaced", { orderId: 1, total: -1 }, { version: 2 }), // no schema for v2
      event("Untyped", { anything: true }),
    ]);
    assertEquals(await store.events.streamVersion(s), 3);
    // Registered after connecting: applies from then on (one type per backend run).
    const late = `Late_${backend.name}`;
    await store.events.append(s, Expected.any, [event(late, {})]);
    schemas.register(late, 1, { type: "object", required: ["id"] });
    await assertRejects(
      () => store.events.append(s, Expected.any, [event(late, {})]),
      RillflowError,
      'must have property "id"',
    );
  },
  { eventSchemas: schemas },
);

Deno.test("unsupported schemas are refused at registration", () => {
  const registry = new EventSchemas();
  assertThrows(() => registry.register("E", 1, { oneOf: [] } as never), TypeError, '"oneOf"');
  assertThrows(() => registry.register("E", 1, { minimum: "1" } as never), TypeError, "minimum");
  assertThrows(() => registry.register("E", 1, { pattern: "(" }), TypeError, "pattern");
  assertThrows(() => registry.register("E", 0, {}), TypeError, "version");
  assertThrows(() => registry.register("", 1, {}), TypeError, "type");
  assertEquals(registry.describe(), []);
  registry.register("B", 2, {}).register("A", 1, { type: "null" });
  assertEquals(registry.describe().map((d) => [d.type, d.version]), [["A", 1], ["B", 2]]);
});
