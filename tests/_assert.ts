/** Assertions for tests, on top of `node:assert/strict` (JSR's std/assert is unreachable here). */
import nodeAssert from "node:assert/strict";

/** Asserts a truthy value. */
export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message);
}

/** Asserts deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Asserts that `fn` throws an instance of `type` whose message includes `includes`. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  type: abstract new (...args: never[]) => E,
  includes?: string,
): E {
  try {
    fn();
  } catch (error) {
    check(error, type, includes);
    return error as E;
  }
  throw new nodeAssert.AssertionError({ message: `Expected ${type.name} to be thrown` });
}

/** Asserts that `fn` rejects with an instance of `type` whose message includes `includes`. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type: abstract new (...args: never[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    check(error, type, includes);
    return error as E;
  }
  throw new nodeAssert.AssertionError({ message: `Expected ${type.name} to be rejected` });
}

function check(error: unknown, type: abstract new (...args: never[]) => Error, includes?: string) {
  if (!(error instanceof type)) {
    throw new nodeAssert.AssertionError({
      message: `Expected ${type.name}, got ${
        error instanceof Error ? error.name + ": " + error.message : String(error)
      }`,
    });
  }
  if (includes !== undefined && !error.message.includes(includes)) {
    throw new nodeAssert.AssertionError({
      message: `Expected message to include ${JSON.stringify(includes)}, got ${
        JSON.stringify(error.message)
      }`,
    });
  }
}
