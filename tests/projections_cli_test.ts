import { assert, assertEquals } from "./_assert.ts";
import { freshSchema, testServer } from "./_backends.ts";
import { event, Expected, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { main } from "../src/cli/main.ts";
import { assertExamplePrints, runCliProcess } from "./_cli.ts";
import { TcpProxy } from "./_tcp_proxy.ts";

const CONFIG = "tests/fixtures/projections.config.ts";

/** Runs the CLI in-process; returns exit code and output. */
async function cli(args: string[]) {
  let out = "", err = "";
  const code = await main(args, {
    out: (text) => out += text,
    err: (text) => err += text,
    env: () => undefined,
  });
  return { code, out, err, json: () => JSON.parse(out) };
}

async function withSchema(url: string, work: (store: Store, args: string[]) => Promise<void>) {
  const schema = freshSchema();
  const store = await Store.connect(url, { schema, autoMigrate: true });
  try {
    await work(store, ["--database-url", url, "--schema", schema]);
  } finally {
    await contextOf(store).executor.query(`drop schema "${schema}" cascade`);
    await store.close();
  }
}

testServer("projections commands work without a config until handlers are needed", async (url) => {
  await withSchema(url, async (_store, db) => {
    const list = await cli([...db, "--json", "projections", "list"]);
    assertEquals([list.code, list.json()], [0, []]);
    assertEquals(
      (await cli([...db, "projections", "list"])).out,
      "No projections recorded or configured.\n",
    );
    const run = await cli([...db, "projections", "run-once"]);
    assertEquals(run.code, 2);
    assert(
      run.err.includes("runs projection handlers, which come from the config module"),
      run.err,
    );
    assert(run.err.includes("No config module at rillflow.config.ts"), run.err);
    const missing = await cli([...db, "--config", "nope.config.ts", "projections", "list"]);
    assertEquals(missing.code, 2, "an explicit --config must exist");
    const empty = await cli([
      ...db,
      "--config",
      "examples/rillflow.config.ts",
      "projections",
      "status",
      "nope",
    ]);
    assertEquals(empty.code, 1);
    assert(empty.err.includes("UNKNOWN_PROJECTION"), empty.err);
  });
});

testServer("projections commands administer and run the config's projections", async (url) => {
  await withSchema(url, async (store, db) => {
    const run = (...args: string[]) =>
      cli([...db, "--config", CONFIG, "--json", "projections", ...args]);
    const seqs: number[] = [];
    for (const type of ["A", "Poison", "B"]) {
      seqs.push(
        ...(await store.events.append(crypto.randomUUID(), Expected.any, [event(type, {})]))
          .globalSeqs,
      );
    }
    const idle = await run("run-until-idle");
    assertEquals([idle.code, idle.json()], [0, { applied: 2, deadLettered: 1 }]);
    const status = (await run("status", "log")).json();
    assertEquals([status.checkpoint, status.deadLetters, status.registered], [seqs[2], 1, true]);
    const metrics = (await run("metrics", "log")).json();
    assertEquals([metrics.checkpoint, metrics.head, metrics.lag, metrics.deadLetters], [
      seqs[2],
      seqs[2],
      0,
      1,
    ]);
    assertEquals(metrics.lastError, `poisoned at ${seqs[1]}`);
    const human = await cli([...db, "--config", CONFIG, "projections", "metrics", "log"]);
    assert(human.out.includes(`last error    poisoned at ${seqs[1]}`), human.out);

    const [dead] = (await run("dlq-list", "log", "--limit", "5")).json();
    assertEquals(dead.globalSeq, seqs[1]);
    const requeue = await run("dlq-requeue", "log", "--id", String(dead.id));
    assertEquals(requeue.code, 1, "the handler still fails");
    assert(requeue.err.includes(`poisoned at ${seqs[1]}`));
    assertEquals((await run("dlq-delete", "log", "--id", String(dead.id))).code, 0);
    assertEquals((await run("dlq-list", "log")).json(), []);

    assertEquals((await run("pause", "log")).json(), { name: "log", paused: true });
    assertEquals((await run("run-once")).json().log.status, "paused");
    assertEquals((await run("resume", "log")).code, 0);
    assertEquals((await run("run-once", "--name", "log")).json().log.status, "idle");
    assertEquals((await run("reset-checkpoint", "log", "0")).json(), {
      name: "log",
      checkpoint: 0,
    });
    const rebuilt = await run("rebuild", "log");
    assertEquals(rebuilt.json(), { name: "log", applied: 2, deadLettered: 1 });
    const { executor, table } = contextOf(store);
    const rows = await executor.query<{ global_seq: number }>(
      `select global_seq from ${table("cli_log")} order by 1`,
    );
    assertEquals(rows.map((r) => r.global_seq), [seqs[0], seqs[2]], "rebuild reset the read model");

    for (
      const [args, code] of [
        [["reset-checkpoint", "log", "abc"], 2],
        [["dlq-delete", "log"], 2],
        [["run-loop", "--use-notify", "maybe"], 2],
        [["run-loop", "--health-bind", "nowhere"], 2],
        [["run-once", "--name", "nope"], 1],
        [["reset-checkpoint", "log", "999999"], 1],
      ] as const
    ) {
      const result = await run(...args);
      assertEquals(result.code, code, `${args.join(" ")}: ${result.err}`);
    }
  });
});

testServer("run-loop runs as a process and stops cleanly on SIGTERM", async (url) => {
  await withSchema(url, async (store, db) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "cli.ts",
        ...db,
        "--config",
        CONFIG,
        "projections",
        "run-loop",
        "--node",
        "proc",
        "--health-bind",
        "127.0.0.1:0",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!/http:\/\/127\.0\.0\.1:(\d+)\//.test(seen)) {
      const { value, done } = await stderr.read();
      if (done) throw new Error(`run-loop exited early: ${seen}`);
      seen += value;
    }
    const port = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(seen)![1];
    const [seq] =
      (await store.events.append(crypto.randomUUID(), Expected.any, [event("A", {})])).globalSeqs;
    const { executor, table } = contextOf(store);
    for (let i = 0;; i++) {
      const health = await (await fetch(`http://127.0.0.1:${port}/`)).json();
      if (health.projections[0]?.checkpoint === seq) break;
      assert(i < 500, "the process applies the event");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill("SIGTERM");
    const { code } = await child.status;
    stderr.releaseLock();
    await child.stderr.cancel().catch(() => {});
    await child.stdout.cancel();
    assertEquals(code, 0);
    const [row] = await executor.query<{ lease_owner: string | null }>(
      `select lease_owner from ${table("projections")} where name = 'log'`,
    );
    assertEquals(row?.lease_owner, null, "the lease is released on SIGTERM");
  });
});

testServer("projections commands refuse an unmigrated schema unless --migrate", async (url) => {
  const schema = freshSchema();
  const db = ["--database-url", url, "--schema", schema, "--config", CONFIG];
  try {
    const refused = await cli([...db, "projections", "run-until-idle"]);
    assertEquals(refused.code, 1);
    assert(refused.err.includes("pending migration(s)"), refused.err);
    const migrated = await cli([...db, "--json", "projections", "run-until-idle", "--migrate"]);
    assertEquals([migrated.code, migrated.json()], [0, { applied: 0, deadLettered: 0 }]);
  } finally {
    const store = await Store.connect(url);
    await contextOf(store).executor.query(`drop schema if exists "${schema}" cascade`);
    await store.close();
  }
});

Deno.test("examples/projection_run_once.ts applies and prints the read models", async () => {
  const out = await assertExamplePrints(
    "examples/projection_run_once.ts",
    { DATABASE_URL: "" },
    [],
  );
  assert(out.includes("Applied 10 event(s)."), out);
  assert(out.includes('{ key: "ada", orders: 2, revenue: 55 }'), out);
  assert(
    out.includes('customer_activity grace: { placed: 1, shipped: 0, lastOrderId: "o-2" }'),
    out,
  );
});

/** A `run-loop` process whose stderr the test reads as it comes. */
function spawnRunLoop(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const run = {
    seen: "",
    async readUntil(pattern: RegExp) {
      while (!pattern.test(run.seen)) {
        const { value, done } = await stderr.read();
        if (done) throw new Error(`run-loop exited early: ${run.seen}`);
        run.seen += value;
      }
    },
    /** Stops it with SIGTERM and returns its exit code. */
    async stop() {
      child.kill("SIGTERM");
      return (await child.status).code;
    },
    async cleanup() {
      stderr.releaseLock();
      await child.stderr.cancel().catch(() => {});
      await child.stdout.cancel().catch(() => {});
    },
  };
  return run;
}

testServer("run-loop --wait-for-db waits for a database that does not answer yet", async (url) => {
  const proxy = await TcpProxy.start(url);
  await withSchema(url, async (_store, direct) => {
    proxy.hangUp();
    const db = direct.map((arg) => arg === url ? proxy.url(url) : arg);
    const args = [...db, "--config", CONFIG, "projections", "run-loop", "--use-notify", "false"];
    // Without the flag: a connection error at once (exit 3).
    const refused = await runCliProcess(args);
    assertEquals(refused.code, 3, refused.stderr);
    const run = spawnRunLoop([...args, "--wait-for-db", "30"]);
    try {
      await run.readUntil(/Waiting up to 30 s for the database/);
      await proxy.restore();
      await run.readUntil(/Running 1 projection/);
      assertEquals(await run.stop(), 0, run.seen);
    } finally {
      await run.cleanup();
      proxy.close();
    }
  });
});

testServer("run-loop logs an outage once and its recovery once, as JSON lines", async (url) => {
  const proxy = await TcpProxy.start(url);
  await withSchema(url, async (_store, direct) => {
    const db = direct.map((arg) => arg === url ? proxy.url(url) : arg);
    const run = spawnRunLoop([
      ...db,
      ...["--config", CONFIG, "projections", "run-loop", "--use-notify", "false"],
      ...["--poll-interval-ms", "50", "--log-format", "json"],
    ]);
    try {
      await run.readUntil(/Running 1 projection/);
      proxy.hangUp();
      await run.readUntil(/unreachable/);
      // Dozens of polls fail while the database is away; none of them adds a line.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await proxy.restore();
      await run.readUntil(/Recovered/);
      assertEquals(await run.stop(), 0, run.seen);
      const lines = run.seen.trim().split("\n").map((line) => JSON.parse(line));
      for (const line of lines) {
        assert(!Number.isNaN(Date.parse(line.time)), JSON.stringify(line));
        assert(["info", "warn", "error"].includes(line.level), JSON.stringify(line));
      }
      assertEquals(lines.filter((l) => l.level === "error").length, 1, run.seen);
      const recovered = lines.filter((l) => /Recovered/.test(l.message));
      assertEquals(recovered.length, 1, run.seen);
      assert(recovered[0].failedTicks > 1, `several ticks failed: ${run.seen}`);
    } finally {
      await run.cleanup();
      proxy.close();
    }
  });
});
