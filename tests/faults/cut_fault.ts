/**
 * Document writes, queries and session commits while every connection is cut
 * again and again through a proxy (issue #17): each caller gets a retryable
 * `CONNECTION_ERROR` (never a hang), and retrying lands each write exactly
 * once, a session's documents and events together. Part of
 * `deno task test:faults`; runs against the main test server through
 * `tests/_tcp_proxy.ts`.
 */
import { assert, assertEquals } from "../_assert.ts";
import { event, Expected, Predicate, RillflowError, Store } from "../../mod.ts";
import { TcpProxy } from "../_tcp_proxy.ts";
import { waitFor } from "../_wait.ts";
import { contextOf } from "../../src/_context.ts";
import { pause, retries, retrying, TEST_URL } from "./_faults.ts";

/** At least this many items each, and on until the connections were cut this often. */
const ITEMS = 120;
const CUTS = 4;
/** No call may take longer (connectTimeoutMs is 1 s): a call that does has hung. */
const HUNG_MS = 20_000;

/** `work`, failing the test when it does not settle within {@linkcode HUNG_MS}. */
async function settles<T>(what: string, work: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} hung for ${HUNG_MS} ms`)), HUNG_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "document writes, queries and session commits through repeated connection cuts: each once",
  ignore: !TEST_URL,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const url = TEST_URL!;
    const schema = `faults_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const direct = await Store.connect(url, { schema, autoMigrate: true });
    const proxy = await TcpProxy.start(url);
    const store = await Store.connect(proxy.url(url), {
      schema,
      connectTimeoutMs: 1_000,
      maxConnections: 6,
    });
    const things = store.docs<{ i: number }>("things");
    const retriedBefore = retries();
    let cuts = 0;
    let working = true;
    // Cuts every connection for 150 ms, every 250 ms, while the work runs.
    const cutter = (async () => {
      while (working) {
        await pause(250);
        proxy.cut();
        cuts++;
        await pause(150);
        await waitFor("the proxy to accept again", async () => (await proxy.restore(), true));
      }
    })();
    try {
      const writer = async () => {
        for (let i = 0; i < ITEMS || cuts < CUTS; i++) {
          const id = ids[i] ??= crypto.randomUUID();
          await retrying(() => settles(`put ${i}`, () => things.put(id, { i })));
          const read = await retrying(() => settles(`get ${i}`, () => things.get(id)));
          assertEquals(read?.doc, { i }, `document ${i} reads back`);
          const found = await retrying(() =>
            settles(`query ${i}`, () => things.query().filter(Predicate.eq("i", i)).fetchAll())
          );
          assertEquals(found, [{ i }], `document ${i} is found by a query`);
        }
      };
      const committer = async () => {
        for (let i = 0; i < ITEMS || cuts < CUTS; i++) {
          streams[i] ??= crypto.randomUUID();
          const session = store.session();
          session.store("orders", streams[i]!, { i });
          session.enqueueEvent(streams[i]!, Expected.noStream, event("Placed", { i }));
          await retrying(async () => {
            try {
              await settles(`session ${i}`, () => session.saveChanges());
            } catch (error) {
              // The attempt whose answer a cut swallowed had committed: the stream exists now.
              if (!(error instanceof RillflowError) || error.code !== "CONCURRENCY_CONFLICT") {
                throw error;
              }
            }
          });
        }
      };
      const ids: string[] = [];
      const streams: string[] = [];
      await Promise.all([writer(), committer()]);
      working = false;
      await cutter;
      assert(cuts >= CUTS, `the work ran through ${cuts} cuts`);
      assert(retries() > retriedBefore, "the cuts failed some calls, which were retried");

      const [docs] = await contextOf(direct).executor.query<{ n: number; distinct_n: number }>(
        `select count(*)::int as n, count(distinct (doc->>'i'))::int as distinct_n
           from "${schema}".things`,
      );
      assertEquals(docs, { n: ids.length, distinct_n: ids.length }, "one document per put");
      for (const [i, stream] of streams.entries()) {
        const events = await direct.events.readStream(stream);
        assertEquals(events.map((e) => e.data), [{ i }], `session ${i}: its event once`);
        assertEquals((await direct.docs("orders").get(stream))?.doc, { i }, `session ${i}: doc`);
      }
    } finally {
      working = false;
      await cutter;
      proxy.close();
      await store.close();
      await contextOf(direct).executor.query(`drop schema "${schema}" cascade`);
      await direct.close();
    }
  },
});
