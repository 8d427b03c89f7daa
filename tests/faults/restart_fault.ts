/**
 * Server restarts and cut connections under load (issue #17): restarts on a
 * second PostgreSQL cluster that these tests restart (`.ci/fault_cluster.sh` creates it; its URL comes in
 * `RILLFLOW_FAULT_DATABASE_URL`). A slow suite of its own: `deno task
 * test:faults`, which `.ci/run` runs after the main suite.
 *
 * Each test asserts no loss and no unexpected duplicate: appends retried with
 * their idempotency key land once, a projection whose checkpoint commits with
 * its work applies every event exactly once, and a shared subscription group
 * delivers every event at least once, all without a manual step.
 */
import { assert, assertEquals } from "../_assert.ts";
import { waitFor } from "../_wait.ts";
import { event, Expected, RillflowError, Store } from "../../mod.ts";
import { contextOf } from "../../src/_context.ts";
import { TcpProxy } from "../_tcp_proxy.ts";

const URL_VAR = "RILLFLOW_FAULT_DATABASE_URL";
const TEST_URL = Deno.env.get("RILLFLOW_TEST_DATABASE_URL");
const FAULT_URL = Deno.env.get(URL_VAR);
const CLUSTER = Deno.env.get("RILLFLOW_FAULT_CLUSTER") ?? "rillflow_faults";

if (!FAULT_URL && Deno.env.get("CI") === "true") {
  throw new Error(`CI=true needs ${URL_VAR} (run .ci/fault_cluster.sh)`);
}
if (!FAULT_URL) console.log(`%cfault tests ignored: set ${URL_VAR}`, "color: yellow");

function faultTest(name: string, fn: (url: string) => Promise<void>): void {
  Deno.test({
    name,
    ignore: !FAULT_URL,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      // Up, whatever an earlier run left behind ("already running" is fine).
      await cluster("start");
      await fn(FAULT_URL!);
    },
  });
}

/** Runs `pg_ctlcluster ACTION` on the fault cluster. */
async function cluster(...action: string[]): Promise<{ success: boolean; stderr: string }> {
  const version = [...Deno.readDirSync("/etc/postgresql")].map((e) => e.name).sort().at(-1)!;
  const result = await new Deno.Command("pg_ctlcluster", {
    args: ["--skip-systemctl-redirect", version, CLUSTER, ...action],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { success: result.success, stderr: new TextDecoder().decode(result.stderr) };
}

/** Restarts the fault cluster (fast shutdown: open transactions are cut). */
async function restartServer(): Promise<void> {
  const result = await cluster("restart", "-m", "fast");
  if (!result.success) throw new Error(`restart failed: ${result.stderr}`);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How many attempts failed with a retryable error so far (proof that the fault hit the work). */
let retried = 0;

/** Runs `work` until it succeeds, retrying retryable errors (the server is away) for 60 s. */
async function retrying<T>(work: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    try {
      return await work();
    } catch (error) {
      const retryable = error instanceof RillflowError && error.retryable;
      if (!retryable || performance.now() > deadline) throw error;
      retried++;
      await pause(100);
    }
  }
}

async function openStore(url: string, schema: string): Promise<Store> {
  return await retrying(() =>
    Store.connect(url, { schema, autoMigrate: true, connectTimeoutMs: 2_000, maxConnections: 12 })
  );
}

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
      const before = retried;
      await restartServer();
      await writing;
      assert(retried > before, "the restart failed some appends, which were retried");
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
    const appending = (async () => {
      for (let i = 0; i < total; i++) {
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
        if (i % 20 === 0) await pause(10);
      }
    })();
    await waitFor("a third appended and applied", async () => appended.length > total / 3);
    const [retriedBefore, errorsBefore] = [retried, errors.length];
    await fault();
    await appending;
    // The fault was felt: appends were retried, or the daemon and members reported it (appends
    // that only waited for a connection through the outage count as neither).
    assert(
      retried > retriedBefore || errors.length > errorsBefore,
      `the fault reached the work: ${retried - retriedBefore} retries, ${
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
