import { assertEquals } from "../../tests/_assert.ts";
import { Wakeup } from "./notify_listener.ts";

Deno.test("a wake-up ends the current wait, or the next one at once", async () => {
  const wakeup = new Wakeup();
  const waiting = wakeup.wait(60_000);
  wakeup.wake();
  assertEquals(await waiting, true);
  wakeup.wake();
  assertEquals(await wakeup.wait(60_000), true, "a wake-up while nobody waits is kept");
  assertEquals(await wakeup.wait(1), false, "and used once");
  const controller = new AbortController();
  const aborted = wakeup.wait(60_000, controller.signal);
  controller.abort();
  assertEquals(await aborted, false);
  assertEquals(await wakeup.wait(60_000, controller.signal), false);
});
