/**
 * Multi-process daemon tests: real `deno run cli.ts projections run-loop`
 * processes, killed with SIGKILL mid-run.
 */
import { assert, assertEquals } from "./_assert.ts";
import { freshSchema, testServer } from "./_backends.ts";
import { waitFor } from "./_wait.ts";
import { event, Expected, type NewEvent, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import exampleConfig, { customerActivity, orderTotals } from "../examples/rillflow.config.ts";

/** A `projections run-loop` child process and what it wrote to stderr. */
class RunLoop {
  readonly child: Deno.ChildProcess;
  stderr = "";
  readonly #drained: Promise<void>;

  constructor(globals: string[], flags: string[] = []) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "cli.ts", ...globals, "projections", "run-loop", ...flags],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.child = child;
    this.#drained = (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.stderr += text;
      }
    })();
  }

  /** Sends a signal and waits for the exit; returns the exit code. */
  async stop(signal: Deno.Signal): Promise<number> {
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
    const { code } = await this.child.status;
    await this.#drained;
    return code;
  }
}

async function positions(store: Store) {
  const { executor, table } = contextOf(store);
  const rows = await executor.query<
    { name: string; checkpoint: number; lease_owner: string | null }
  >(
    `select name, checkpoint, case when lease_expires_at > clock_timestamp() then lease_owner end
            as lease_owner
       from ${table("projections")} order by name`,
  );
  const { position: head } = await store.events.watermark();
  return { rows, head };
}

/** Orders for 50 customers, each order its own stream with placed and shipped events. */
async function appendOrders(store: Store, orders: number, offset = 0): Promise<void> {
  const appends: Array<[string, NewEvent[]]> = [];
  for (let i = offset; i < offset + orders; i++) {
    const order = { orderId: `o-${i}`, customerId: `c-${i % 50}`, amount: (i % 7) + 0.5 };
    appends.push([crypto.randomUUID(), [
      event("OrderPlaced", order),
      event("OrderShipped", order),
    ]]);
  }
  for (let i = 0; i < appends.length; i += 8) {
    await Promise.all(
      appends.slice(i, i + 8).map(([stream, events]) =>
        store.events.append(stream, Expected.noStream, events)
      ),
    );
  }
}

testServer("kill -9 mid-batch, restart: the read model equals a rebuild", async (url) => {
  const schema = freshSchema();
  const store = await Store.connect(url, { schema, autoMigrate: true });
  const args = [
    "--config",
    "examples/rillflow.config.ts",
    "--database-url",
    url,
    "--schema",
    schema,
  ];
  try {
    await appendOrders(store, 1_500);
    // A short lease: the restarted process (a new worker name) takes over quickly.
    const first = new RunLoop(args, ["--batch-size", "100", "--lease-ttl-ms", "1500"]);
    const atKill = await waitFor("a projection to be part-way", async () => {
      const { rows, head } = await positions(store);
      return rows.length === 2 && rows.some((r) => r.checkpoint > 0 && r.checkpoint < head) &&
        { rows, head };
    }, { timeoutMs: 60_000, intervalMs: 5 }).catch((error) => {
      throw new Error(`${error.message}; daemon stderr: ${first.stderr}`);
    });
    await first.stop("SIGKILL");
    const { rows: afterKill } = await positions(store);
    assert(afterKill.some((r) => r.checkpoint < atKill.head), "killed before catching up");

    const second = new RunLoop(args, ["--lease-ttl-ms", "1500"]);
    await appendOrders(store, 200, 1_500);
    await waitFor("the restarted daemon to catch up", async () => {
      const { rows, head } = await positions(store);
      return rows.every((r) => r.checkpoint === head);
    }, { timeoutMs: 60_000 });
    assertEquals(await second.stop("SIGTERM"), 0, second.stderr);

    const live = {
      totals: await orderTotals.read(store),
      activity: await customerActivity.read(store),
    };
    assertEquals(live.totals.length, 50);
    assertEquals(live.totals.reduce((n, row) => n + Number(row.orders), 0), 1_700);

    const daemon = store.projections();
    for (const [name, projection] of Object.entries(exampleConfig.projections!)) {
      daemon.register(name, projection);
      await daemon.rebuild(name);
    }
    assertEquals(await orderTotals.read(store), live.totals);
    assertEquals(await customerActivity.read(store), live.activity);
  } finally {
    await contextOf(store).executor.query(`drop schema "${schema}" cascade`);
    await store.close();
  }
});

testServer(
  "two daemon processes never both apply an event; the survivor takes over",
  async (url) => {
    const schema = freshSchema();
    const store = await Store.connect(url, { schema, autoMigrate: true });
    const base = [
      "--config",
      "tests/fixtures/projections.config.ts",
      "--database-url",
      url,
      "--schema",
      schema,
    ];
    const flags = ["--lease-ttl-ms", "1000", "--poll-interval-ms", "50", "--batch-size", "50"];
    const processes = new Map([
      ["one", new RunLoop(base, [...flags, "--node", "one"])],
      ["two", new RunLoop(base, [...flags, "--node", "two"])],
    ]);
    const { executor, table } = contextOf(store);
    try {
      const append = async (n: number) => {
        for (let i = 0; i < n; i += 50) {
          await store.events.append(
            crypto.randomUUID(),
            Expected.any,
            Array.from({ length: 50 }, () => event("E", {})),
          );
        }
      };
      await append(1_000);
      const holder = await waitFor("a lease holder that applied events", async () => {
        const [row] = (await positions(store)).rows;
        return row && row.checkpoint > 0 && row.lease_owner;
      }, { timeoutMs: 60_000 });
      await processes.get(holder)!.stop("SIGKILL");
      processes.delete(holder);
      await append(1_000);
      await waitFor("the survivor to catch up", async () => {
        const { rows, head } = await positions(store);
        return rows[0]?.checkpoint === head && rows[0].lease_owner !== holder;
      }, { timeoutMs: 60_000 });

      const [counts] = await executor.query<{ n: number; distinct_n: number; pids: number }>(
        `select count(*)::int as n, count(distinct global_seq)::int as distinct_n,
              count(distinct pid)::int as pids
         from ${table("cli_log")}`,
      );
      const [events] = await executor.query<{ n: number }>(
        `select count(*)::int as n from ${table("events")}`,
      );
      assertEquals(counts, { n: events!.n, distinct_n: events!.n, pids: counts!.pids });
      assertEquals(events!.n, 2_000);
      assert(counts!.pids >= 2, "the survivor applied events after the holder died");
    } finally {
      for (const child of processes.values()) await child.stop("SIGTERM");
      await executor.query(`drop schema "${schema}" cascade`);
      await store.close();
    }
  },
);
