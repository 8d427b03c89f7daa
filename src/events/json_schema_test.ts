import { assertEquals, assertThrows } from "../../tests/_assert.ts";
import { compileJsonSchema, type JsonSchema } from "./json_schema.ts";

const paths = (schema: JsonSchema, value: unknown) =>
  compileJsonSchema(schema)(value).map((v) => `${v.path || "/"} ${v.message}`);

Deno.test("type, with integer as a kind of number and unions", () => {
  assertEquals(paths({ type: "integer" }, 1), []);
  assertEquals(paths({ type: "number" }, 1), []);
  assertEquals(paths({ type: "integer" }, 1.5), ["/ must be of type integer, got number"]);
  assertEquals(paths({ type: ["string", "null"] }, null), []);
  assertEquals(paths({ type: "object" }, []), ["/ must be of type object, got array"]);
  assertEquals(paths({ type: "array" }, {}), ["/ must be of type array, got object"]);
  assertEquals(paths({ type: "boolean" }, "true"), ["/ must be of type boolean, got string"]);
  // A wrong type stops further checks of that value.
  assertEquals(paths({ type: "string", minLength: 3 }, 5), [
    "/ must be of type string, got integer",
  ]);
});

Deno.test("enum and const compare JSON values, objects by content", () => {
  assertEquals(paths({ enum: [1, "a", { b: [1, 2] }] }, { b: [1, 2] }), []);
  assertEquals(paths({ enum: [1, "a"] }, "b"), ['/ must be one of [1,"a"]']);
  assertEquals(paths({ const: { x: 1, y: 2 } }, { y: 2, x: 1 }), []);
  assertEquals(paths({ const: null }, 0), ["/ must equal null"]);
});

Deno.test("numbers, lengths, items and patterns", () => {
  const schema: JsonSchema = {
    type: "object",
    properties: {
      n: { minimum: 0, maximum: 10 },
      x: { exclusiveMinimum: 0, exclusiveMaximum: 1 },
      s: { minLength: 2, maxLength: 3, pattern: "^a" },
      a: { type: "array", minItems: 1, maxItems: 2, items: { type: "integer" } },
    },
  };
  assertEquals(paths(schema, { n: 10, x: 0.5, s: "ab", a: [1] }), []);
  assertEquals(paths(schema, { n: 11, x: 1, s: "b", a: [] }), [
    "/n must be <= 10",
    "/x must be < 1",
    "/s must have at least 2 characters",
    "/s must match pattern ^a",
    "/a must have at least 1 items",
  ]);
  assertEquals(paths(schema, { n: -1, x: 0, s: "abcd", a: [1, "2", 3] }), [
    "/n must be >= 0",
    "/x must be > 0",
    "/s must have at most 3 characters",
    "/a must have at most 2 items",
    "/a/1 must be of type integer, got string",
  ]);
  assertEquals(paths({ maxLength: 1 }, "😀"), [], "length counts code points");
  assertEquals(paths({ minimum: 5 }, "not a number"), [], "keywords apply to their own type");
});

Deno.test("required, additionalProperties and escaped pointers", () => {
  const closed: JsonSchema = {
    required: ["a/b"],
    properties: { "a/b": { type: "string" } },
    additionalProperties: false,
  };
  assertEquals(paths(closed, { "a/b": 1, "c~d": 2 }), [
    "/a~1b must be of type string, got integer",
    "/c~0d is not an allowed property",
  ]);
  assertEquals(paths(closed, {}), ['/ must have property "a/b"']);
  const typed: JsonSchema = { properties: { k: {} }, additionalProperties: { type: "number" } };
  assertEquals(paths(typed, { k: "x", extra: "y" }), ["/extra must be of type number, got string"]);
});

Deno.test("malformed or unsupported schemas are TypeErrors naming the place", () => {
  assertThrows(() => compileJsonSchema({ $ref: "#/x" } as never), TypeError, '"$ref"');
  assertThrows(
    () => compileJsonSchema({ properties: { a: { type: "text" as never } } }),
    TypeError,
    "/properties/a",
  );
  assertThrows(() => compileJsonSchema({ items: [{}] as never }), TypeError, "tuple");
  assertThrows(() => compileJsonSchema({ maxLength: -1 }), TypeError, "non-negative");
  assertThrows(() => compileJsonSchema({ required: "a" as never }), TypeError, "required");
  assertThrows(() => compileJsonSchema([] as never), TypeError, "must be an object");
  assertEquals(paths({ title: "t", description: "d", format: "email", default: 1 }, 5), []);
});
