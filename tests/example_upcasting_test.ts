import { assert, assertEquals } from "./_assert.ts";

Deno.test("examples/upcasting.ts runs end to end on the embedded database", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "examples/upcasting.ts"],
    env: { DATABASE_URL: "pglite://memory", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(output.stdout);
  assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
  for (
    const line of [
      "OrderPlaced v2 → OrderPlaced v3 (async): adds the customer's region",
      'Path: [["OrderCreated",1],["OrderPlaced",2],["OrderPlaced",3]]',
      '"currency":"EUR","region":"emea"',
      '"orderId":2,"currency":"USD"',
      '"byCurrency":{"EUR":10,"USD":20,"GBP":30}},"version":3}',
    ]
  ) {
    assert(out.includes(line), `${line} in:\n${out}`);
  }
  const lines = out.split("\n").filter((l) => l.startsWith("  #"));
  assertEquals(lines.map((l) => l.trim().split(" ").slice(1, 3).join(" ")), [
    "OrderPlaced v3",
    "OrderPlaced v3",
    "OrderPlaced v3",
  ]);
});
