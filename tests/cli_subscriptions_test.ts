import { assert, assertEquals } from "./_assert.ts";
import { freshSchema, SERVER_URL } from "./_backends.ts";
import { ROOT, runCli, runCliProcess } from "./_cli.ts";
import { event, Expected, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { take } from "./_subscriptions.ts";
import { waitFor } from "./_wait.ts";

/** Runs `fn` with a migrated store on a fresh server schema (ignored without a server). */
function testCli(name: string, fn: (store: Store, schema: string) => Promise<void>): void {
  Deno.test({
    name: `${name} [postgres]`,
    ignore: !SERVER_URL,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const schema = freshSchema();
      const store = await Store.connect(SERVER_URL!, { schema, autoMigrate: true });
      try {
        await fn(store, schema);
      } finally {
        await contextOf(store).executor.query(`drop schema if exists "${schema}" cascade`);
        await store.close();
      }
    },
  });
}

/** A long-running `rillflow …` process whose output is collected line by line. */
function spawnCli(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "cli.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", DATABASE_URL: SERVER_URL! },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let stderr = "";
  const read = async (stream: ReadableStream<Uint8Array>, onText: (text: string) => void) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) onText(text);
  };
  let partial = "";
  const done = Promise.all([
    read(child.stdout, (text) => {
      const parts = (partial + text).split("\n");
      partial = parts.pop()!;
      lines.push(...parts);
    }),
    read(child.stderr, (text) => void (stderr += text)),
  ]);
  return { child, lines, stderr: () => stderr, done };
}

async function appendEvents(store: Store, streamId: string, types: string[]): Promise<number[]> {
  const result = await store.events.append(streamId, Expected.any, types.map((t) => event(t, {})));
  return result.globalSeqs;
}

testCli(
  "subscriptions commands in-process: create, list, status, groups, bounds, reset, dlq",
  async (store, schema) => {
    const base = ["--database-url", SERVER_URL!, "--schema", schema, "subscriptions"];
    const stream = crypto.randomUUID();
    const created = await runCli([
      ...base,
      "create",
      "s1",
      "--event-type",
      "A",
      "B",
      "--start-from",
      "0",
    ]);
    assertEquals(created.code, 0, created.stderr);
    const listed = await runCli(["--json", ...base, "list"]);
    assertEquals(JSON.parse(listed.stdout)[0].filter, { eventTypes: ["A", "B"] });
    assert((await runCli([...base, "list"])).stdout.includes("types A, B"));

    const [a] = await appendEvents(store, stream, ["A", "C", "B"]);
    const sub = await store.subscriptions.subscribe("s1", {
      group: "g",
      ackMode: "manual",
      backoff: { maxAttempts: 1 },
      useNotify: false,
    });
    const [first] = await take(sub, 1);
    await sub.nack(first!.globalSeq, { error: "bad payload" });
    const [second] = await take(sub, 1);
    await sub.ack(second!.globalSeq);

    const groupStatus = await runCli([...base, "group-status", "s1", "--group", "g"]);
    assertEquals(groupStatus.code, 0, groupStatus.stderr);
    for (const part of ["last position", "head", "lag", sub.memberId, "LEASE OWNER"]) {
      assert(groupStatus.stdout.includes(part), `${part} in ${groupStatus.stdout}`);
    }
    const statusJson = JSON.parse((await runCli(["--json", ...base, "status", "s1"])).stdout);
    assertEquals(statusJson.groups[0].group, "g");
    assertEquals(statusJson.groups[0].checkpoint, second!.globalSeq);
    assert((await runCli([...base, "groups", "s1"])).stdout.includes("exclusive"));

    const bound = await runCli([
      ...base,
      "set-group-max-in-flight",
      "s1",
      "--group",
      "g",
      "--value",
      "7",
    ]);
    assertEquals(bound.code, 0, bound.stderr);
    assertEquals((await store.subscriptions.groupStatus("s1", "g")).maxInFlight, 7);
    await runCli([...base, "set-group-max-in-flight", "s1", "--group", "g"]);
    assertEquals((await store.subscriptions.groupStatus("s1", "g")).maxInFlight, null);

    const dlq = JSON.parse((await runCli(["--json", ...base, "dlq-list", "s1"])).stdout);
    assertEquals(dlq.length, 1);
    assertEquals(dlq[0].error, "bad payload");
    assertEquals(dlq[0].globalSeq, a);
    assert(
      (await runCli([...base, "dlq-list", "s1", "--group", "g"])).stdout.includes("bad payload"),
    );
    assertEquals((await runCli([...base, "dlq-requeue", "s1", String(dlq[0].id)])).code, 0);
    const [requeued] = await take(sub, 1);
    assertEquals(requeued!.globalSeq, a);
    await sub.ack(a!);
    await sub.close();
    assertEquals((await runCli([...base, "dlq-delete", "s1", String(dlq[0].id)])).code, 1);

    assertEquals((await runCli([...base, "pause", "s1"])).code, 0);
    assertEquals((await store.subscriptions.list())[0]!.paused, true);
    assertEquals((await runCli([...base, "resume", "s1"])).code, 0);
    assertEquals((await runCli([...base, "reset", "s1", "0", "--group", "g"])).code, 0);
    assertEquals((await store.subscriptions.groupStatus("s1", "g")).checkpoint, 0);

    assertEquals((await runCli([...base, "status", "nope"])).code, 1);
    assertEquals((await runCli([...base, "reset", "s1", "-4"])).code, 2);
    assertEquals((await runCli([...base, "create", "bad name"])).code, 2);
    assertEquals((await runCli([...base, "group-status", "s1"])).code, 2, "--group is required");
    assertEquals((await runCli([...base, "delete", "s1"])).code, 0);
    assertEquals(await store.subscriptions.list(), []);
  },
);

testCli(
  "tail through a real process prints stream id, sequence and type",
  async (store, schema) => {
    const stream = crypto.randomUUID();
    await appendEvents(store, stream, ["A", "B", "A"]);
    const env = { DATABASE_URL: SERVER_URL! };
    const created = await runCliProcess(
      ["--schema", schema, "subscriptions", "create", "t", "--event-type", "A"],
      { env },
    );
    assertEquals(created.code, 0, created.stderr);
    const tail = await runCliProcess([
      "--schema",
      schema,
      "subscriptions",
      "tail",
      "t",
      "--limit",
      "5",
    ], {
      env,
    });
    assertEquals(tail.code, 0, tail.stderr);
    const rows = tail.stdout.trim().split("\n").map((line) => line.split("\t"));
    assertEquals(rows.map((r) => [r[1], r[2], r[3]]), [[stream, "1", "A"], [stream, "3", "A"]]);
    const status = await runCliProcess(
      ["--schema", schema, "--json", "subscriptions", "group-status", "t", "--group", "tail"],
      { env },
    );
    assertEquals(JSON.parse(status.stdout).lag, 0);

    // The operator commands, each through its own process.
    const cli = (...args: string[]) =>
      runCliProcess(["--schema", schema, "--json", "subscriptions", ...args], { env });
    const bound = await cli("set-group-max-in-flight", "t", "--group", "tail", "--value", "3");
    assertEquals(bound.code, 0, bound.stderr);
    assertEquals((await store.subscriptions.groupStatus("t", "tail")).maxInFlight, 3);
    assertEquals((await cli("pause", "t")).code, 0);
    assertEquals(JSON.parse((await cli("list")).stdout)[0].paused, true);
    assertEquals((await cli("resume", "t")).code, 0);
    assertEquals((await cli("reset", "t", "0")).code, 0);
    const groups = JSON.parse((await cli("groups", "t")).stdout);
    assertEquals([groups[0].group, groups[0].checkpoint, groups[0].maxInFlight], ["tail", 0, 3]);
    assertEquals(JSON.parse((await cli("dlq-list", "t")).stdout), []);
    const unknown = await cli("status", "missing");
    assertEquals(unknown.code, 1);
    assert(unknown.stderr.includes("UNKNOWN_SUBSCRIPTION"), unknown.stderr);
  },
);

testCli("tail --follow stops cleanly on SIGINT and releases its lease", async (store, schema) => {
  const stream = crypto.randomUUID();
  await store.subscriptions.create("f");
  await appendEvents(store, stream, ["A"]);
  const tail = spawnCli([
    "--schema",
    schema,
    "subscriptions",
    "tail",
    "f",
    "--group",
    "g",
    "--follow",
  ]);
  try {
    await waitFor("the first event", () => tail.lines.length >= 1);
    await appendEvents(store, stream, ["B"]);
    await waitFor("the event appended while following", () => tail.lines.length >= 2);
    assertEquals(tail.lines.map((l) => l.split("\t")[3]), ["A", "B"]);
    tail.child.kill("SIGINT");
    const status = await tail.child.status;
    await tail.done;
    assertEquals(status.code, 0, tail.stderr());
    assert(tail.stderr().includes("Stopped after 2 event(s)"), tail.stderr());
    const group = await store.subscriptions.groupStatus("f", "g");
    assertEquals(group.leases[0]!.owner, null, "the lease is released at once");
    assertEquals(group.members, []);
    assertEquals(group.lag, 0);
  } finally {
    try {
      tail.child.kill("SIGKILL");
    } catch { /* already exited */ }
  }
});

testCli(
  "exclusive group: a standby takes over within the lease TTL when the active process is killed",
  async (store, schema) => {
    const stream = crypto.randomUUID();
    await store.subscriptions.create("fo");
    const seqs = await appendEvents(store, stream, ["A", "B", "C"]);
    const leaseTtlMs = 1_500;
    const active = spawnCli([
      "--schema",
      schema,
      "subscriptions",
      "tail",
      "fo",
      "--group",
      "g",
      "--follow",
      "--lease-ttl-ms",
      String(leaseTtlMs),
    ]);
    try {
      await waitFor("the active process to print 3 events", () => active.lines.length >= 3);
      await waitFor(
        "the active process to checkpoint",
        async () => (await store.subscriptions.groupStatus("fo", "g")).checkpoint === seqs[2],
      );
      const standby = await store.subscriptions.subscribe("fo", {
        group: "g",
        leaseTtlMs,
        pollIntervalMs: 20,
        memberId: "standby",
      });
      const before = await store.subscriptions.groupStatus("fo", "g");
      assert(before.leases[0]!.owner !== null && before.leases[0]!.owner !== "standby");
      assertEquals(before.members.length, 2);

      active.child.kill("SIGKILL");
      const killedAt = Date.now();
      await active.child.status;
      await appendEvents(store, stream, ["D"]);
      const [next] = await take(standby, 1, 10_000);
      const takeoverMs = Date.now() - killedAt;
      assertEquals(next!.type, "D", "the standby resumes after the killed member's checkpoint");
      // The lease expires at most leaseTtlMs after the kill; the standby claims it at its
      // next heartbeat (every leaseTtlMs / 4).
      assert(takeoverMs < leaseTtlMs * 1.25 + 750, `takeover took ${takeoverMs} ms`);
      assertEquals((await store.subscriptions.groupStatus("fo", "g")).leases[0]!.owner, "standby");
      await standby.close();
    } finally {
      try {
        active.child.kill("SIGKILL");
      } catch { /* already exited */ }
      await active.done.catch(() => {});
    }
  },
);
