/**
 * A server restart under 8 writers (issue #17), on the second cluster
 * (`.ci/fault_cluster.sh`): appends retried with their idempotency key land
 * exactly once. Part of `deno task test:faults`, which `.ci/run` runs.
 */
import { assert, assertEquals } from "../_assert.ts";
import { waitFor } from "../_wait.ts";
import { event, Expected, RillflowError } from "../../mod.ts";
import { contextOf } from "../../src/_context.ts";
import { faultTest, openStore, restartServer, retries, retrying } from "./_faults.ts";

faultTest(
  "8 writers with idempotency keys across a server restart: every append once",
  async (url) => {
    const schema = `faults_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const store = await openStore(url, schema);
    const writers = 8;
    const perWriter = 60;
    const streams = Array.from({ length: writers }, () => crypto.randomUUID());
    let done = 0;
    let conflictsAfterRetry = 0;
    try {
      const writing = Promise.all(streams.map(async (stream, w) => {
        for (let i = 0; i < perWriter; i++) {
          await retrying(async () => {
            try {
              await store.events.append(stream, Expected.any, [event("Work", { w, i })], {
                idempotencyKey: `${stream}:${i}`,
              });
            } catch (error) {
              // The attempt whose answer the restart swallowed had committed: the key says so.
              if (!(error instanceof RillflowError) || error.code !== "IDEMPOTENCY_CONFLICT") {
                throw error;
              }
              conflictsAfterRetry++;
            }
          });
          done++;
        }
      }));
      await waitFor("a fifth of the appends", () => done >= (writers * perWriter) / 5);
      const before = retries();
      await restartServer();
      await writing;
      assert(retries() > before, "the restart failed some appends, which were retried");
      for (const [w, stream] of streams.entries()) {
        const read = await retrying(() => store.events.readStream(stream));
        const seen = read.map((e) => (e.data as { i: number }).i);
        assertEquals(
          seen,
          Array.from({ length: perWriter }, (_, i) => i),
          `writer ${w}: once each`,
        );
      }
      console.log(
        `  appends whose commit was only known through their key: ${conflictsAfterRetry}`,
      );
    } finally {
      await retrying(() => contextOf(store).executor.query(`drop schema "${schema}" cascade`));
      await store.close();
    }
  },
);
