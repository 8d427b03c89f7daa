import { assertEquals } from "./_assert.ts";
import { assertExamplePrints } from "./_cli.ts";

Deno.test("examples/upcasting.ts runs end to end on the embedded database", async () => {
  const out = await assertExamplePrints("examples/upcasting.ts", {
    DATABASE_URL: "pglite://memory",
  }, [
    "OrderPlaced v2 → OrderPlaced v3 (async): adds the customer's region",
    'Path: [["OrderCreated",1],["OrderPlaced",2],["OrderPlaced",3]]',
    '"currency":"EUR","region":"emea"',
    '"orderId":2,"currency":"USD"',
    '"byCurrency":{"EUR":10,"USD":20,"GBP":30}},"version":3}',
  ]);
  const lines = out.split("\n").filter((l) => l.startsWith("  #"));
  assertEquals(lines.map((l) => l.trim().split(" ").slice(1, 3).join(" ")), [
    "OrderPlaced v3",
    "OrderPlaced v3",
    "OrderPlaced v3",
  ]);
});
