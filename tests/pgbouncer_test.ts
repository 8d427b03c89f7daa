/**
 * Rillflow behind PgBouncer in transaction pooling mode (`.ci/pgbouncer.sh`):
 * with `pooler: "transaction"` documents, queries, appends, sessions and
 * projections work through the bouncer; LISTEN and dedicated connections work
 * through `directUrl` and, without it, fail at start naming the option.
 *
 * Runs when RILLFLOW_PGBOUNCER_URL (the bouncer) and RILLFLOW_TEST_DATABASE_URL
 * (the server itself, used as `directUrl`) are set; otherwise it is ignored
 * with a printed reason, and with CI=true it fails.
 */
import postgres from "postgres";
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, SERVER_URL } from "./_backends.ts";
import { waitFor } from "./_wait.ts";
import {
  event,
  Expected,
  Predicate,
  type Projection,
  RillflowError,
  Store,
  type StoreOptions,
} from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { runCli } from "./_cli.ts";

const BOUNCER_URL = Deno.env.get("RILLFLOW_PGBOUNCER_URL");

if (Deno.env.get("CI") === "true" && !BOUNCER_URL) {
  throw new Error(
    "CI=true but RILLFLOW_PGBOUNCER_URL is not set: .ci/run sets it to the URL that " +
      ".ci/pgbouncer.sh prints",
  );
}
if (!BOUNCER_URL || !SERVER_URL) {
  console.warn(
    "RILLFLOW_PGBOUNCER_URL or RILLFLOW_TEST_DATABASE_URL is not set: the PgBouncer tests are " +
      "ignored (start one with `bash .ci/pgbouncer.sh`, which prints the URL).",
  );
}

/** Registers a test that needs the bouncer and the server. */
function testBouncer(name: string, fn: (bouncerUrl: string, directUrl: string) => Promise<void>) {
  Deno.test({
    name: `${name} [pgbouncer]`,
    ignore: !BOUNCER_URL || !SERVER_URL,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => fn(BOUNCER_URL!, SERVER_URL!),
  });
}

/** A migrated store on a fresh schema, through the bouncer. */
function openPooled(url: string, options: StoreOptions = {}): Promise<Store> {
  return Store.connect(url, {
    schema: freshSchema("pgb"),
    autoMigrate: true,
    pooler: "transaction",
    ...options,
  });
}

/** Errs unless `error` is the INVALID_INPUT that names `directUrl`. */
function assertNamesDirectUrl(error: unknown): void {
  assert(error instanceof RillflowError, `a RillflowError, got ${error}`);
  assertEquals(error.code, "INVALID_INPUT");
  assertEquals(error.retryable, false);
  assert(error.message.includes("directUrl"), error.message);
  assert(error.message.includes('pooler: "transaction"'), error.message);
}

testBouncer("the bouncer pools by transaction", async (url) => {
  // What every other test here relies on, asked of the bouncer's admin console.
  const admin = postgres(url.replace(/\/[^/?]*$/, "/pgbouncer"), {
    max: 1,
    fetch_types: false,
    prepare: false,
    onnotice: () => {},
  });
  try {
    const rows = await admin.unsafe("show config").simple();
    const mode = rows.find((row) => row.key === "pool_mode");
    assertEquals(mode?.value, "transaction");
  } finally {
    await admin.end({ timeout: 1 });
  }
});

testBouncer("documents: put, get, query and patch through the bouncer", async (url) => {
  const store = await openPooled(url);
  try {
    const docs = store.docs<{ n: number; tier: string; profile?: { name: string } }>("people");
    const ids = Array.from({ length: 40 }, () => crypto.randomUUID());
    // Concurrent statements spread over several server connections, where a named prepared
    // statement of another connection does not exist.
    const versions = await Promise.all(
      ids.map((id, n) => docs.put(id, { n, tier: n % 2 ? "pro" : "free" })),
    );
    assertEquals(versions, ids.map(() => 1));
    const got = await Promise.all(ids.map((id) => docs.get(id)));
    assertEquals(got.map((row) => row?.doc.n), ids.map((_, n) => n));
    assertEquals(await docs.query().count(), 40);
    const pro = await docs.query().filter(Predicate.eq("tier", "pro")).filter(
      Predicate.lt("n", 10),
    ).orderBy("n", "desc").fetchAll();
    assertEquals(pro.map((doc) => doc.n), [9, 7, 5, 3, 1]);
    const v2 = await docs.patch(ids[3]!, 1, "profile.name", "Alicia");
    assertEquals(v2, 2);
    assertEquals((await docs.get(ids[3]!))?.doc.profile?.name, "Alicia");
    const stale = await assertRejects(() => docs.patch(ids[3]!, 1, "tier", "free"), RillflowError);
    assertEquals(stale.code, "DOCUMENT_VERSION_CONFLICT");
    assertEquals((await docs.get(ids[3]!))?.version, 2, "the conflicting patch changed nothing");
  } finally {
    await dropSchemaAndClose(store);
  }
});

testBouncer("appends: single, batch, keyed and exact through the bouncer", async (url) => {
  const store = await openPooled(url);
  try {
    const streamId = crypto.randomUUID();
    const single = await store.events.append(streamId, Expected.noStream, [event("A", { i: 0 })]);
    assertEquals(single.streamVersion, 1);
    const batch = await store.events.append(
      streamId,
      Expected.exact(1),
      [1, 2, 3].map((i) => event("B", { i })),
    );
    assertEquals(batch.streamVersion, 4);
    assertEquals(batch.globalSeqs.length, 3);
    const keyed = await store.events.append(streamId, Expected.any, [event("C", {})], {
      idempotencyKey: "once",
    });
    assertEquals(keyed.streamVersion, 5);
    const repeat = await assertRejects(
      () =>
        store.events.append(streamId, Expected.any, [event("C", {})], { idempotencyKey: "once" }),
      RillflowError,
    );
    assertEquals(repeat.code, "IDEMPOTENCY_CONFLICT");
    const stale = await assertRejects(
      () => store.events.append(streamId, Expected.exact(4), [event("D", {})]),
      RillflowError,
    );
    assertEquals(stale.code, "CONCURRENCY_CONFLICT");
    const locked = await store.events.withAdvisoryLocks().append(streamId, Expected.exact(5), [
      event("E", {}),
    ]);
    assertEquals(locked.streamVersion, 6);
    // Many writers at once, on many streams.
    const streams = Array.from({ length: 30 }, () => crypto.randomUUID());
    await Promise.all(
      streams.map((id) => store.events.append(id, Expected.noStream, [event("F", {})])),
    );
    const read = await store.events.readStream(streamId);
    assertEquals(read.map((e) => e.type), ["A", "B", "B", "B", "C", "E"]);
    assertEquals((await store.events.readAll({ eventTypes: ["F"] })).length, 30);
  } finally {
    await dropSchemaAndClose(store);
  }
});

testBouncer("a session commits documents and events in one transaction", async (url) => {
  const store = await openPooled(url);
  try {
    const id = crypto.randomUUID();
    const session = store.session();
    session.store("customers", id, { email: "a@example.com" });
    session.enqueueEvent(id, Expected.noStream, event("CustomerRegistered", { id }));
    await session.saveChanges();
    assertEquals((await store.docs("customers").get(id))?.doc, { email: "a@example.com" });
    assertEquals(await store.events.streamVersion(id), 1);

    // A failing session writes nothing: its rollback reaches the server through the bouncer.
    const other = crypto.randomUUID();
    const failing = store.session();
    failing.store("customers", other, { email: "b@example.com" });
    failing.enqueueEvent(id, Expected.noStream, event("CustomerRegistered", { id }));
    const error = await assertRejects(() => failing.saveChanges(), RillflowError);
    assertEquals(error.code, "CONCURRENCY_CONFLICT");
    assertEquals(await store.docs("customers").get(other), null);
    assertEquals(await store.events.streamVersion(id), 1);
  } finally {
    await dropSchemaAndClose(store);
  }
});

/** A projection counting events per type in `counts` (its own table). */
const counter: Projection = {
  async setup(tx) {
    await tx.query("create table if not exists counts (type text primary key, n int not null)");
  },
  async apply(envelope, tx) {
    await tx.sql`insert into counts values (${envelope.type}, 1)
                 on conflict (type) do update set n = counts.n + 1`;
  },
};

async function counts(store: Store): Promise<Record<string, number>> {
  const { executor, table } = contextOf(store);
  const rows = await executor.query<{ type: string; n: number }>(
    `select type, n from ${table("counts")} order by type`,
  );
  return Object.fromEntries(rows.map((row) => [row.type, row.n]));
}

testBouncer("a projection runs once through the bouncer", async (url) => {
  const store = await openPooled(url);
  try {
    for (let i = 0; i < 3; i++) {
      await store.events.append(crypto.randomUUID(), Expected.any, [
        event("X", {}),
        event("Y", {}),
      ]);
    }
    const daemon = store.projections().register("counts", counter);
    await daemon.runUntilIdle();
    assertEquals(await counts(store), { X: 3, Y: 3 });
    assertEquals((await daemon.status("counts")).checkpoint, 6);
    await daemon.runUntilIdle();
    assertEquals(await counts(store), { X: 3, Y: 3 }, "a second run applies nothing again");
  } finally {
    await dropSchemaAndClose(store);
  }
});

testBouncer(
  "with directUrl the daemon listens, and a notification wakes it",
  async (url, direct) => {
    const store = await openPooled(url, { directUrl: direct });
    // A poll interval far beyond the test: what applies the event was woken by NOTIFY.
    const daemon = store.projections({ pollIntervalMs: 600_000 }).register("counts", counter);
    const stop = new AbortController();
    const running = daemon.run({ signal: stop.signal, useNotify: true });
    try {
      await waitFor("the daemon to listen", () => daemon.notifyState === "listening");
      await waitFor("the first idle tick", async () => (await daemon.status("counts")).leaseOwner);
      await store.events.append(crypto.randomUUID(), Expected.any, [event("Woken", {})]);
      await waitFor("the notified apply", async () => (await counts(store)).Woken === 1, {
        timeoutMs: 10_000,
      });
    } finally {
      stop.abort();
      await running;
      await dropSchemaAndClose(store);
    }
  },
);

testBouncer(
  "with directUrl a dedicated connection holds a session advisory lock",
  async (url, direct) => {
    const store = await openPooled(url, { directUrl: direct });
    const connection = await contextOf(store).executor.dedicated();
    try {
      const [{ pid }] = await connection.query<{ pid: number }>(
        "select pg_backend_pid() as pid, pg_advisory_lock(31337)",
      ) as [{ pid: number }];
      // The lock stays held across statements: the session is the connection's own.
      const held = await contextOf(store).executor.query<{ pid: number }>(
        "select pid from pg_locks where locktype = 'advisory' and objid = 31337 and granted",
      );
      assertEquals(held.map((row) => row.pid), [pid]);
      await connection.query("select pg_advisory_unlock(31337)");
    } finally {
      await connection.release();
      await dropSchemaAndClose(store);
    }
  },
);

testBouncer("without directUrl what needs a session fails at start, naming it", async (url) => {
  const store = await openPooled(url);
  try {
    await store.events.append(crypto.randomUUID(), Expected.any, [event("X", {})]);
    const daemon = store.projections({ pollIntervalMs: 20 }).register("counts", counter);
    const errors: unknown[] = [];
    const failing = store.projections({ onError: (error) => errors.push(error) })
      .register("counts", counter);
    const error = await assertRejects(
      () => failing.run({ signal: new AbortController().signal, useNotify: true }),
      RillflowError,
    );
    assertNamesDirectUrl(error);
    assert(error.message.includes("useNotify: false"), error.message);
    assertEquals(errors, [], "a failed start is thrown, not reported as a fallback to polling");
    assertEquals((await daemon.status("counts")).checkpoint, 0, "nothing was applied");

    await store.subscriptions.create("feed", { startFrom: 0 });
    assertNamesDirectUrl(
      await assertRejects(() => store.subscriptions.subscribe("feed"), RillflowError),
    );
    assertNamesDirectUrl(
      await assertRejects(() => contextOf(store).executor.dedicated(), RillflowError),
    );

    // Polling needs no session.
    const stop = new AbortController();
    const running = daemon.run({ signal: stop.signal, useNotify: false });
    try {
      await waitFor("the polled apply", async () => (await counts(store)).X === 1);
    } finally {
      stop.abort();
      await running;
    }
    const sub = await store.subscriptions.subscribe("feed", {
      useNotify: false,
      stopWhenCaughtUp: true,
    });
    const delivered: string[] = [];
    for await (const envelope of sub) delivered.push(envelope.type);
    assertEquals(delivered, ["X"]);
  } finally {
    await dropSchemaAndClose(store);
  }
});

testBouncer(
  "a directUrl that does not answer fails the connect, naming it",
  async (url, direct) => {
    const wrong = new URL(direct);
    wrong.password = "wrong-password";
    const error = await assertRejects(
      () => openPooled(url, { directUrl: wrong.href, autoMigrate: false }),
      RillflowError,
    );
    assertEquals(error.code, "CONNECTION_ERROR");
    assert(error.message.includes("(directUrl)"), error.message);
    assert(!error.message.includes("wrong-password"), "the password never shows");
  },
);

Deno.test("pooler and directUrl are checked before anything opens", async () => {
  const unreachable = "postgres://nobody@127.0.0.1:1/none";
  const bad: Array<[string, StoreOptions]> = [
    [unreachable, { pooler: "session" as "none" }],
    [unreachable, { pooler: true as unknown as "none" }],
    [unreachable, { directUrl: "mysql://db/app" }],
    [unreachable, { directUrl: 5 as unknown as string }],
    [unreachable, { directUrl: "postgres://[broken" }],
    ["pglite://memory", { pooler: "transaction" }],
    ["pglite://memory", { directUrl: "postgres://db/app" }],
  ];
  for (const [url, options] of bad) {
    // A TypeError, not a CONNECTION_ERROR from the unreachable server: nothing was opened.
    await assertRejects(() => Store.connect(url, options), TypeError);
  }
  const error = await assertRejects(
    () => Store.connect(unreachable, { directUrl: "mysql://user:hunter2@db/app" }),
    TypeError,
  );
  assert(!error.message.includes("hunter2"), "the URL is not echoed");
});

testBouncer(
  "the CLI through the bouncer: --pooler transaction, and --direct-url for run-loop's LISTEN",
  async (url, directUrl) => {
    const store = await openPooled(url);
    try {
      await store.events.append(crypto.randomUUID(), Expected.any, [event("Work", {})]);
      const base = [
        ...["--database-url", url, "--pooler", "transaction"],
        ...[
          "--schema",
          contextOf(store).schema,
          "--config",
          "tests/fixtures/projections.config.ts",
        ],
      ];
      const idle = await runCli([...base, "projections", "run-until-idle"]);
      assertEquals(idle.code, 0, idle.stderr);
      const [applied] = await contextOf(store).executor.query<{ n: number }>(
        `select count(*)::int as n from "${contextOf(store).schema}".cli_log`,
      );
      assertEquals(applied?.n, 1, "the projection applied the event through the bouncer");

      // run-loop listens for NOTIFY by default: without a direct URL it refuses to start.
      const refused = await runCli([...base, "projections", "run-loop"]);
      assert(refused.code !== 0, refused.stderr);
      assert(refused.stderr.includes("--direct-url"), refused.stderr);

      const wrong = await runCli([...base.with(3, "session"), "projections", "run-until-idle"]);
      assertEquals(wrong.code, 2, wrong.stderr);
      assert(wrong.stderr.includes("--pooler"), wrong.stderr);

      // With --direct-url it listens on the server and runs until stopped.
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "cli.ts",
          ...base,
          "--direct-url",
          directUrl,
          "projections",
          "run-loop",
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      try {
        while (!/Running 1 projection/.test(seen)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`run-loop exited early: ${seen}`);
          seen += value;
        }
      } finally {
        child.kill("SIGTERM");
        assertEquals((await child.status).code, 0, seen);
        reader.releaseLock();
        await child.stderr.cancel().catch(() => {});
      }
    } finally {
      await dropSchemaAndClose(store);
    }
  },
);
