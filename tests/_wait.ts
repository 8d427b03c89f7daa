/** Polling with a deadline: tests wait for conditions, never for fixed times. */

/**
 * Polls `probe` until it returns a truthy value and returns that value.
 *
 * @param what What is awaited, for the timeout message.
 * @param probe The condition.
 * @param options The deadline and the pause between polls.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T> | T,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<Exclude<T, false | null | undefined | 0 | "">> {
  const deadline = performance.now() + (options.timeoutMs ?? 15_000);
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value as Exclude<T, false | null | undefined | 0 | "">;
      last = value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 10));
  }
  throw new Error(
    `Timed out waiting for ${what} (last: ${last instanceof Error ? last.message : String(last)})`,
  );
}
