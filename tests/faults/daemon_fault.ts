/**
 * A projection daemon and a two-member shared subscription group while 8
 * writers append, through a server restart and through every connection cut for
 * a second (issue #17): the projection applies each event exactly once, the
 * group delivers each at least once, nothing is restarted by hand.
 *
 * Part of `deno task test:faults` (CI). It used to end the process about one
 * run in six: postgres.js 3.4.9 wrote a transaction's COMMIT or ROLLBACK to a
 * socket the restart had closed (fixed in src/db/postgres_js.ts, see
 * docs/reliability.md "Driver faults we work around").
 */
import { assert, assertEquals } from "../_assert.ts";
import { waitFor } from "../_wait.ts";
import { event, Expected, RillflowError } from "../../mod.ts";
import { contextOf } from "../../src/_context.ts";
import { TcpProxy } from "../_tcp_proxy.ts";
import {
  faultTest,
  openStore,
  pause,
  restartServer,
  retries,
  retrying,
  TEST_URL,
} from "./_faults.ts";

/**
 * A daemon and a two-member shared group run while events are appended; `fault` strikes once a
 * third is appended. Afterwards: the projection applied each event exactly once, the group
 * delivered each at least once, and nothing was restarted by hand.
 */
async function daemonAndGroupThrough(url: string, fault: () => Promise<void>): Promise<void> {
  const schema = `faults_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const store = await openStore(url, schema);
  const { executor } = contextOf(store);
  await executor.query(`create table "${schema}".applied (global_seq bigint not null)`);
  const stop = new AbortController();
  const errors: string[] = [];
  const daemon = store.projections({
    pollIntervalMs: 50,
    leaseTtlMs: 2_000,
    onError: (error) => errors.push(String(error)),
  });
  daemon.register("applied", {
    eventTypes: ["Work"],
    apply: async (envelope, tx) =>
      void await tx.query("insert into applied (global_seq) values ($1)", [envelope.globalSeq]),
  });
  await store.subscriptions.create("faults", { eventTypes: ["Work"] });
  const delivered = new Set<number>();
  let deliveries = 0;
  const consume = async (memberId: string) => {
    const member = await store.subscriptions.subscribe("faults", {
      group: "workers",
      members: "shared",
      memberId,
      ackMode: "manual",
      batchSize: 50,
      leaseTtlMs: 2_000,
      pollIntervalMs: 50,
      useNotify: false,
      signal: stop.signal,
      onError: (error) => errors.push(`${memberId}: ${error}`),
    });
    for await (const envelope of member) {
      delivered.add(envelope.globalSeq);
      deliveries++;
      await retrying(() => member.ack(envelope.globalSeq));
    }
  };
  const total = 400;
  const appended: number[] = [];
  try {
    const running = daemon.run({ signal: stop.signal, useNotify: false });
    running.catch(() => {}); // awaited below
    const members = Promise.all(["m1", "m2"].map(consume));
    members.catch(() => {}); // awaited below; a failure fails the test there
    // 8 writers, each appending its share of the events to streams of its own.
    const writers = 8;
    const appending = Promise.all(Array.from({ length: writers }, async (_, w) => {
      for (let i = w; i < total; i += writers) {
        const stream = crypto.randomUUID();
        const result = await retrying(async () => {
          try {
            return await store.events.append(stream, Expected.noStream, [event("Work", { i })]);
          } catch (error) {
            // A lost answer whose append committed: the stream is at 1 now.
            if (error instanceof RillflowError && error.code === "CONCURRENCY_CONFLICT") {
              const [first] = await store.events.readStream(stream);
              return { streamVersion: 1, globalSeqs: [first!.globalSeq] };
            }
            throw error;
          }
        });
        appended.push(result.globalSeqs[0]!);
        if (i % 20 === w) await pause(10);
      }
    }));
    await waitFor("a third appended and applied", () => appended.length > total / 3);
    const [retriedBefore, errorsBefore] = [retries(), errors.length];
    await fault();
    await appending;
    // The fault was felt: appends were retried, or the daemon and members reported it (appends
    // that only waited for a connection through the outage count as neither).
    assert(
      retries() > retriedBefore || errors.length > errorsBefore,
      `the fault reached the work: ${retries() - retriedBefore} retries, ${
        errors.length - errorsBefore
      } errors reported`,
    );
    await waitFor("every event applied", async () => {
      const [row] = await executor.query<{ n: number }>(
        `select count(*)::int as n from "${schema}".applied`,
      ).catch(() => [{ n: 0 }]);
      return row!.n >= total;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    await waitFor("every event delivered", () => appended.every((s) => delivered.has(s)), {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    const [counts] = await executor.query<{ n: number; distinct_n: number }>(
      `select count(*)::int as n, count(distinct global_seq)::int as distinct_n
           from "${schema}".applied`,
    );
    assertEquals(counts, { n: total, distinct_n: total }, "the projection applied each once");
    assert(deliveries >= total, "the group delivered every event at least once");
    stop.abort();
    await running;
    await members;
    console.log(
      `  redeliveries after the fault: ${
        deliveries - delivered.size
      }; errors reported: ${errors.length}`,
    );
  } finally {
    stop.abort();
    await retrying(() => executor.query(`drop schema "${schema}" cascade`));
    await store.close();
  }
}

faultTest(
  "a daemon and a shared subscription group resume by themselves after a server restart",
  (url) => daemonAndGroupThrough(url, restartServer),
);

Deno.test({
  name:
    "a daemon and a shared subscription group resume by themselves after every connection is cut",
  ignore: !TEST_URL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const proxy = await TcpProxy.start(TEST_URL!);
    try {
      await daemonAndGroupThrough(proxy.url(TEST_URL!), async () => {
        proxy.hangUp();
        await pause(1_000);
        await proxy.restore();
      });
    } finally {
      proxy.close();
    }
  },
});
