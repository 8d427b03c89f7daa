import { assertEquals, assertThrows } from "../../tests/_assert.ts";
import { backoffDelayMs, DEFAULT_BACKOFF, exhausted, resolveBackoff } from "./backoff.ts";

Deno.test("backoff doubles from baseMs and stops at maxMs", () => {
  const options = resolveBackoff({ baseMs: 100, maxMs: 1_000, maxAttempts: 9 });
  assertEquals([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, options)), [
    100,
    200,
    400,
    800,
    1_000,
    1_000,
  ]);
  assertEquals(backoffDelayMs(10_000, options), 1_000);
});

Deno.test("backoff gives up after maxAttempts attempts in all", () => {
  const options = resolveBackoff({ maxAttempts: 3 });
  assertEquals([1, 2, 3].map((n) => exhausted(n, options)), [false, false, true]);
  assertEquals(exhausted(1, resolveBackoff({ maxAttempts: 1 })), true);
});

Deno.test("backoff options are checked and defaulted", () => {
  assertEquals(resolveBackoff(), DEFAULT_BACKOFF);
  assertEquals(resolveBackoff({ baseMs: undefined, maxAttempts: 2 }).baseMs, 500);
  assertThrows(() => resolveBackoff({ baseMs: -1 }), RangeError, "backoff.baseMs");
  assertThrows(() => resolveBackoff({ baseMs: 10, maxMs: 5 }), RangeError, "backoff.maxMs");
  assertThrows(() => resolveBackoff({ maxAttempts: 0 }), RangeError, "backoff.maxAttempts");
});
