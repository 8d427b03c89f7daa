import { assertExamplePrints } from "./_cli.ts";

Deno.test("examples/events.ts runs end to end on the embedded database", async () => {
  await assertExamplePrints("examples/events.ts", { DATABASE_URL: "pglite://memory" }, [
    "inline projection: { total: 42 }",
    "conflict: expected noStream actual 1",
    "already paid; identical retry: true",
    "INVALID_INPUT Event data violates its schema",
    "1:OrderPlaced 2:OrderPaid",
    "global 1 OrderPlaced",
    "global 3 OrderPaid", // position 2 was drawn by the refused noStream append
    "watermark 3",
  ]);
});
