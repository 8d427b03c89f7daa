import { assert, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { defaultNodeName, positiveInteger, resolveWorkerName } from "./worker_options.ts";

Deno.test("worker names default to host, pid and a random suffix", () => {
  const shape = new RegExp(`^.+:${Deno.pid}:[0-9a-f]{8}$`);
  const [first, second] = [defaultNodeName(), defaultNodeName()];
  assert(shape.test(first), first);
  assert(first !== second, "two names in one process differ");
  assert(shape.test(resolveWorkerName(undefined, "node")));
});

Deno.test("worker names are checked with the option's name in the message", () => {
  assertEquals(resolveWorkerName("worker-1", "node"), "worker-1");
  assertThrows(() => resolveWorkerName(" ", "node"), TypeError, "node must be a non-empty");
  assertThrows(() => resolveWorkerName("x".repeat(201), "memberId"), TypeError, "memberId must");
});

Deno.test("positive integer options take their default and respect their bound", () => {
  assertEquals(positiveInteger(undefined, "batchSize", 500), 500);
  assertEquals(positiveInteger(7, "batchSize", 500, 10), 7);
  assertThrows(() => positiveInteger(0, "batchSize", 500), RangeError, "a positive integer, got 0");
  assertThrows(() => positiveInteger(1.5, "leaseTtlMs", 1), RangeError, "a positive integer");
  assertThrows(() => positiveInteger("5", "leaseTtlMs", 1), RangeError, "a positive integer");
  assertThrows(
    () => positiveInteger(11, "partitions", 16, 10),
    RangeError,
    "partitions must be an integer from 1 to 10, got 11",
  );
});
