/**
 * One opener at a time per PGlite directory (issue #17): a second opener, in
 * this process or another, gets a clear error naming the holder; the lock
 * goes with a close, and with the process however it ends.
 */
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { event, Expected, RillflowError, Store } from "../mod.ts";
import { runDeno } from "./_cli.ts";

Deno.test("a second opener of a PGlite directory is refused, naming the holder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rillflow_lock_" });
  try {
    const first = await Store.connect(`pglite:${dir}`);
    const stream = crypto.randomUUID();
    try {
      await first.events.append(stream, Expected.noStream, [event("A", {})]);
      const refused = await assertRejects(() => Store.connect(`pglite:${dir}`), RillflowError);
      assertEquals(refused.code, "CONNECTION_ERROR");
      assertEquals(refused.retryable, false);
      assert(refused.message.includes(`process ${Deno.pid}`), refused.message);
      // Another process is refused the same way, while this one holds the directory.
      const other = await runDeno([
        "eval",
        `import { Store } from "${new URL("../mod.ts", import.meta.url).href}";
         try { await Store.connect("pglite:${dir}"); console.log("opened"); }
         catch (error) { console.log(error.code, error.message); }`,
      ]);
      assert(other.stdout.startsWith("CONNECTION_ERROR"), other.stdout + other.stderr);
      assert(other.stdout.includes(`process ${Deno.pid}`), other.stdout);
    } finally {
      await first.close();
    }
    // Closed: the next opener gets the directory and its data.
    const second = await Store.connect(`pglite:${dir}`);
    try {
      assertEquals(await second.events.streamVersion(stream), 1);
    } finally {
      await second.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
