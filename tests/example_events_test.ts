import { assert, assertEquals } from "./_assert.ts";

Deno.test("examples/events.ts runs end to end on the embedded database", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "examples/events.ts"],
    env: { DATABASE_URL: "pglite://memory" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(output.stdout);
  assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
  for (
    const line of [
      "inline projection: { total: 42 }",
      "conflict: expected noStream actual 1",
      "already paid; identical retry: true",
      "INVALID_INPUT Event data violates its schema",
      "1:OrderPlaced 2:OrderPaid",
      "watermark 2",
    ]
  ) {
    assert(out.includes(line), `${line} in:\n${out}`);
  }
});
