import { assert, assertEquals } from "./_assert.ts";
import { freshSchema, testBoth, testServer } from "./_backends.ts";
import { waitFor } from "./_wait.ts";
import { appendOutOfOrder } from "./_out_of_order.ts";
import { event, Expected, type Projection, Store } from "../mod.ts";
import { contextOf, StoreContext } from "../src/_context.ts";
import type { Executor } from "../src/db/executor.ts";
import { RillflowError } from "../src/errors.ts";
import { ProjectionDaemon } from "../src/projections/daemon.ts";

/** A projection recording applied positions in `log` (a primary key: a repeat fails). */
function recorder(onApply?: (globalSeq: number) => void): Projection {
  return {
    async setup(tx) {
      await tx.query("create table if not exists log (global_seq bigint primary key)");
    },
    async apply(envelope, tx) {
      await tx.query("insert into log values ($1)", [envelope.globalSeq]);
      onApply?.(envelope.globalSeq);
    },
  };
}

async function logged(store: Store): Promise<number[]> {
  const { executor, table } = contextOf(store);
  const rows = await executor.query<{ global_seq: number }>(
    `select global_seq from ${table("log")} order by 1`,
  );
  return rows.map((r) => r.global_seq);
}

async function append(store: Store, type = "E"): Promise<number> {
  const result = await store.events.append(crypto.randomUUID(), Expected.any, [event(type, {})]);
  return result.globalSeqs[0]!;
}

testBoth("an idle run wakes on the NOTIFY of an append, then releases its lease", async (store) => {
  const applied = new Map<number, number>();
  // Polling would take a minute: an apply within seconds proves the notification.
  const daemon = store.projections({ pollIntervalMs: 60_000, leaseTtlMs: 600_000 });
  daemon.register("log", recorder((seq) => applied.set(seq, performance.now())));
  const controller = new AbortController();
  const running = daemon.run({ signal: controller.signal, useNotify: true });
  try {
    await waitFor("the first idle tick", async () => (await daemon.status("log")).leaseOwner);
    assertEquals(daemon.notifyState, "listening");
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const seq = await append(store);
      const at = await waitFor("the notified apply", () => applied.get(seq), { timeoutMs: 10_000 });
      assert(at - started < 10_000);
    }
  } finally {
    controller.abort();
    await running;
  }
  assertEquals(daemon.notifyState, "stopped");
  assertEquals((await daemon.status("log")).leaseOwner, null, "a clean stop releases the lease");
});

testBoth("without NOTIFY an idle run polls", async (store) => {
  const daemon = store.projections({ pollIntervalMs: 20 });
  daemon.register("log", recorder());
  const controller = new AbortController();
  const running = daemon.run({ signal: controller.signal, useNotify: false });
  try {
    const seq = await append(store);
    await waitFor("the polled apply", async () => (await logged(store)).includes(seq));
    assertEquals(daemon.notifyState, "polling");
  } finally {
    controller.abort();
    await running;
  }
});

testBoth("when LISTEN is unavailable the run falls back to polling", async (store) => {
  const context = contextOf(store);
  // An executor that refuses LISTEN, as a transaction-pooling proxy does.
  const noListen: Executor = Object.create(context.executor, {
    listen: { value: () => Promise.reject(new RillflowError("DATABASE_ERROR", "LISTEN refused")) },
  });
  const errors: string[] = [];
  const daemon = new ProjectionDaemon(
    new StoreContext(noListen, context.schema, context.settings),
    { pollIntervalMs: 20, onError: (error, where) => errors.push(`${where.during}: ${error}`) },
  );
  daemon.register("log", recorder());
  const controller = new AbortController();
  const running = daemon.run({ signal: controller.signal, useNotify: true });
  try {
    const seq = await append(store);
    await waitFor("the polled apply", async () => (await logged(store)).includes(seq));
    assertEquals(daemon.notifyState, "polling");
    assert(errors.some((e) => e.includes("LISTEN") && e.includes("polling")), errors.join("\n"));
  } finally {
    controller.abort();
    await running;
  }
});

testBoth("one worker per projection: leases block, release and expire", async (store) => {
  const a = store.projections({ node: "a", leaseTtlMs: 60_000 }).register("log", recorder());
  const b = store.projections({ node: "b", leaseTtlMs: 150 }).register("log", recorder());
  const seq = await append(store);
  assertEquals((await a.tickOnce("log")).status, "processed");
  const first = await a.status("log");
  assertEquals(first.leaseOwner, "a");
  assertEquals(await b.tickOnce("log"), { status: "leased-by-other", count: 0, deadLettered: 0 });

  await a.run({ signal: AbortSignal.abort() }); // a clean stop releases the lease
  assertEquals((await b.tickOnce("log")).status, "idle");
  const taken = await b.status("log");
  assertEquals(taken.leaseOwner, "b");
  assert(taken.fencingToken > first.fencingToken, "a new holder gets a new fencing token");

  await waitFor("b's lease to expire", async () => (await a.status("log")).leaseOwner === null);
  assertEquals((await a.tickOnce("log")).status, "idle");
  assert((await a.status("log")).fencingToken > taken.fencingToken);
  assertEquals(await logged(store), [seq]);
});

testServer(
  "8 writers with out-of-order commits while the daemon runs: each event once",
  async (url) => {
    const store = await Store.connect(url, {
      schema: freshSchema(),
      autoMigrate: true,
      maxConnections: 14,
    });
    const context = contextOf(store);
    const daemon = store.projections({
      batchSize: 20,
      backoff: { maxAttempts: 1 },
      pollIntervalMs: 50,
    });
    daemon.register("log", recorder());
    const controller = new AbortController();
    const running = daemon.run({ signal: controller.signal, useNotify: true });
    try {
      await appendOutOfOrder(store, 8, 25);
      const all = (await context.executor.query<{ global_seq: number }>(
        `select global_seq from ${context.table("events")} order by 1`,
      )).map((r) => r.global_seq);
      assertEquals(all.length, 200);
      await waitFor("the daemon to catch up", async () => {
        const status = await daemon.status("log");
        return status.checkpoint === all.at(-1) && status.lag === 0;
      });
      assertEquals(await logged(store), all);
      assertEquals(await daemon.dlqList("log"), [], "no event was applied twice");
    } finally {
      controller.abort();
      await running;
      await context.executor.query(`drop schema "${context.schema}" cascade`);
      await store.close();
    }
  },
);

testServer(
  "a connection killed between apply and commit loses and repeats nothing",
  async (url) => {
    const store = await Store.connect(url, { schema: freshSchema(), autoMigrate: true });
    let kill = true;
    const daemon = store.projections().register("log", {
      ...recorder(),
      async apply(envelope, tx) {
        await tx.query("insert into log values ($1)", [envelope.globalSeq]);
        if (kill && envelope.type === "Last") {
          kill = false;
          await tx.query("select pg_terminate_backend(pg_backend_pid())");
        }
      },
    });
    try {
      const seqs = [await append(store), await append(store), await append(store, "Last")];
      let failed = false;
      await daemon.tickOnce("log").catch(() => failed = true);
      assert(failed, "the batch's connection died");
      assertEquals(await logged(store), []);
      assertEquals((await daemon.status("log")).checkpoint, 0);
      assertEquals((await daemon.tickOnce("log")).count, 3);
      assertEquals(await logged(store), seqs);
    } finally {
      const { executor, schema } = contextOf(store);
      await executor.query(`drop schema "${schema}" cascade`);
      await store.close();
    }
  },
);

testServer("a worker deposed mid-batch cannot commit (LEASE_LOST)", async (url) => {
  const store = await Store.connect(url, { schema: freshSchema(), autoMigrate: true });
  const gate = Promise.withResolvers<void>();
  const entered = Promise.withResolvers<void>();
  const slow = store.projections({ node: "slow", leaseTtlMs: 100 }).register("log", {
    ...recorder(),
    async apply(envelope, tx) {
      await tx.query("insert into log values ($1)", [envelope.globalSeq]);
      entered.resolve();
      await gate.promise;
    },
  });
  const fast = store.projections({ node: "fast", leaseTtlMs: 60_000 }).register("log", recorder());
  try {
    const seqs = [await append(store), await append(store)];
    const stalled = slow.tickOnce("log").then(() => null, (error) => error);
    await entered.promise;
    await waitFor(
      "the stalled lease to expire",
      async () => (await fast.status("log")).leaseOwner === null,
    );
    // The new holder's writes wait on the stalled batch's row locks until it gives up.
    const taking = fast.tickOnce("log");
    await waitFor(
      "the new holder to take the lease",
      async () => (await fast.status("log")).leaseOwner === "fast",
    );
    gate.resolve();
    assertEquals((await taking).count, 2);
    const error = await stalled;
    assert(error instanceof RillflowError && error.code === "LEASE_LOST", String(error));
    assertEquals(await logged(store), seqs, "only the new holder's batch committed");
    assertEquals((await slow.tickOnce("log")).status, "leased-by-other");
  } finally {
    gate.resolve();
    const { executor, schema } = contextOf(store);
    await executor.query(`drop schema "${schema}" cascade`);
    await store.close();
  }
});
