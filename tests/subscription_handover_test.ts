/**
 * Handover in a shared group after a member dies: real member processes
 * killed with SIGKILL (or stopped with SIGSTOP) under a steady load, with the
 * survivors in this process so that each delivery can be timed. Run as
 * `deno run -A tests/subscription_handover_test.ts member …`, this file is
 * the member process.
 */
import { assert, assertEquals } from "./_assert.ts";
import { freshSchema, testServer } from "./_backends.ts";
import {
  consume,
  consumingHalf,
  DeliveryGaps,
  HANDOVER,
  handoverMember,
  leaseHolders,
  SteadyLoad,
  streamPerPartition,
} from "./_subscriptions.ts";
import { waitFor } from "./_wait.ts";
import { Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

const { partitions: PARTITIONS, leaseTtlMs: LEASE_TTL_MS, beatMs: BEAT_MS } = HANDOVER;
/** A partition without a delivery for this long stalled (handovers between live members take less). */
const STALL_MS = LEASE_TTL_MS * 0.4;

/** The member process: consumes in auto mode until SIGTERM, then closes. */
async function runMember(url: string, schema: string, memberId: string): Promise<void> {
  const store = await Store.connect(url, { schema, maxConnections: 4 });
  const controller = new AbortController();
  Deno.addSignalListener("SIGTERM", () => controller.abort());
  const sub = await store.subscriptions.subscribe("work", {
    ...handoverMember,
    memberId,
    signal: controller.signal,
  });
  for await (const _ of sub) { /* asking for the next event acknowledges this one */ }
  await store.close();
}

if (import.meta.main && Deno.args[0] === "member") {
  await runMember(Deno.args[1]!, Deno.args[2]!, Deno.args[3]!);
}

/** A member process. */
function spawnMember(url: string, schema: string, memberId: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "member", url, schema, memberId],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

/** A group under load: streams one per partition, a member process, in-process members. */
class Rig {
  readonly gaps = new DeliveryGaps();
  readonly #consumers: Promise<void>[] = [];
  readonly #children: Deno.ChildProcess[] = [];
  #load?: SteadyLoad;
  #partitionOf = new Map<string, number>();

  private constructor(readonly store: Store, readonly url: string) {}

  static async open(url: string): Promise<Rig> {
    const store = await Store.connect(url, {
      schema: freshSchema(),
      autoMigrate: true,
      maxConnections: 16,
    });
    const rig = new Rig(store, url);
    await store.subscriptions.create("work");
    const streams = await streamPerPartition(store, PARTITIONS);
    rig.#partitionOf = new Map(streams.map((id, p) => [id, p]));
    rig.#load = new SteadyLoad(store, streams, 40);
    return rig;
  }

  get schema(): string {
    return contextOf(this.store).schema;
  }

  spawn(memberId: string): Deno.ChildProcess {
    const child = spawnMember(this.url, this.schema, memberId);
    this.#children.push(child);
    return child;
  }

  async join(memberId: string): Promise<void> {
    const sub = await this.store.subscriptions.subscribe("work", { ...handoverMember, memberId });
    this.#consumers.push(
      consume(sub, (envelope) => this.gaps.delivered(this.#partitionOf.get(envelope.streamId)!)),
    );
  }

  holders(): Promise<Array<string | null>> {
    return leaseHolders(this.store, "work", "g");
  }

  /** Waits until these members hold every partition, evenly (±1), and returns when that was. */
  async balanced(members: readonly string[], timeoutMs = 20_000): Promise<number> {
    await waitFor(`${members.join(", ")} to share the partitions`, async () => {
      const holders = await this.holders();
      const counts = members.map((m) => holders.filter((h) => h === m).length);
      return holders.every((h) => h !== null && members.includes(h)) &&
        Math.max(...counts) - Math.min(...counts) <= 1;
    }, { timeoutMs, intervalMs: 10 });
    return performance.now();
  }

  /** Waits until every partition is held by one of these members; returns when that was. */
  async heldBy(members: readonly string[], timeoutMs = 20_000): Promise<number> {
    await waitFor(`every partition held by ${members.join(" or ")}`, async () => {
      const holders = await this.holders();
      return holders.every((h) => h !== null && members.includes(h));
    }, { timeoutMs, intervalMs: 10 });
    return performance.now();
  }

  /** Stops the load and waits until the group's checkpoint is the head: nothing was lost. */
  async drain(): Promise<void> {
    await this.#load?.stop();
    await waitFor("the group to catch up", async () => {
      const status = await this.store.subscriptions.groupStatus("work", "g");
      return status.checkpoint === status.head;
    }, { timeoutMs: 20_000 });
  }

  async close(): Promise<void> {
    await this.#load?.stop();
    for (const child of this.#children) {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
      await child.status;
    }
    // Closing the store closes its members, and their loops end.
    await this.store.close().finally(() => Promise.all(this.#consumers));
    const dropper = await Store.connect(this.url);
    await contextOf(dropper).executor.query(`drop schema if exists "${this.schema}" cascade`);
    await dropper.close();
  }
}

/** The partitions each member holds. */
function byHolder(holders: ReadonlyArray<string | null>): Map<string | null, number[]> {
  const result = new Map<string | null, number[]>();
  holders.forEach((h, p) => result.set(h, [...(result.get(h) ?? []), p]));
  return result;
}

/** The partitions that went `STALL_MS` or longer without a delivery. */
function stalledPartitions(gaps: Map<number, number>): number[] {
  return [...gaps].filter(([, gap]) => gap >= STALL_MS).map(([p]) => p);
}

function describeGaps(gaps: Map<number, number>, partitions: readonly number[]): string {
  return partitions.map((p) => `${p}:${Math.round(gaps.get(p)!)}`).join(" ");
}

/** Registers a server test on a group under load; it ends with nothing lost (lag 0). */
function testRig(name: string, fn: (rig: Rig) => Promise<void>): void {
  testServer(name, async (url) => {
    const rig = await Rig.open(url);
    try {
      await fn(rig);
      await rig.drain();
    } finally {
      await rig.close();
    }
  });
}

/** How long ago (database clock) a member last beat. */
async function silentForMs(rig: Rig, member: string): Promise<number> {
  const { executor, table } = contextOf(rig.store);
  const [row] = await executor.query<{ ms: number }>(
    `select extract(epoch from clock_timestamp() - heartbeat_at)::float8 * 1000 as ms
       from ${table("subscription_members")} where member_id = $1`,
    [member],
  );
  return row?.ms ?? 0;
}

testRig(
  "kill -9 of one of two members under load: every partition is held again within leaseTtl + one beat",
  async (rig) => {
    await rig.join("s");
    const dead = rig.spawn("d");
    await consumingHalf(rig.store, "d");
    dead.kill("SIGKILL");
    const killedAt = performance.now();
    await dead.status;
    const heldMs = (await rig.heldBy(["s"])) - killedAt;
    console.log(
      `kill -9: the survivor held all ${PARTITIONS} partitions ${Math.round(heldMs)} ms ` +
        `after the kill (leaseTtl ${LEASE_TTL_MS} ms, beat ${BEAT_MS} ms)`,
    );
    assert(heldMs <= LEASE_TTL_MS + BEAT_MS, `every partition held again after ${heldMs} ms`);
  },
);

testRig(
  "kill -9 with a replacement joining at once: only the dead member's partitions stall",
  async (rig) => {
    await rig.join("s");
    const dead = rig.spawn("d");
    const deadHeld = await consumingHalf(rig.store, "d");
    dead.kill("SIGKILL");
    const killedAt = performance.now();
    rig.gaps.start(killedAt, PARTITIONS);
    // Ids sort d < r < s: while "d" still counts as live, a third of the partitions would
    // be assigned to it, half of them the survivor's.
    await rig.join("r");
    await dead.status;
    const heldAt = await rig.heldBy(["r", "s"]);
    const balancedAt = await rig.balanced(["r", "s"]);
    await waitFor(
      "a delivery on every partition after the rebalance",
      () => rig.gaps.allDeliveredAfter(balancedAt),
    );
    const gaps = rig.gaps.longest();
    const stalled = stalledPartitions(gaps);
    const others = [...gaps.keys()].filter((p) => !deadHeld.includes(p));
    console.log(
      `kill -9 + replacement: all held ${Math.round(heldAt - killedAt)} ms and balanced ` +
        `${Math.round(balancedAt - killedAt)} ms after the kill; ${stalled.length} of ` +
        `${PARTITIONS} partitions stalled (the dead member held ${deadHeld.length}); longest ` +
        `gap per partition (ms), dead member's: ${describeGaps(gaps, deadHeld)}; others: ` +
        describeGaps(gaps, others),
    );
    assert(
      stalled.every((p) => deadHeld.includes(p)),
      `only the dead member's partitions ${deadHeld} may stall, stalled: ${stalled}`,
    );
    assert(heldAt - killedAt <= LEASE_TTL_MS + BEAT_MS, "every partition held again in time");
  },
);

testRig(
  "a paused member is given no partitions, and gets partitions again once it beats",
  async (rig) => {
    await rig.join("s");
    const paused = rig.spawn("p");
    const pausedHeld = await consumingHalf(rig.store, "p");
    const survivorHeld = byHolder(await rig.holders()).get("s") ?? [];
    paused.kill("SIGSTOP");
    rig.gaps.start(performance.now(), PARTITIONS);
    // Ids sort p < r < s. Once "p" missed two beats (before its leases end), a member joining
    // is assigned the partitions over r and s only: the survivor keeps all of its own.
    await waitFor(
      "the paused member to miss two beats",
      async () => (await silentForMs(rig, "p")) > BEAT_MS * 2.5,
    );
    await rig.join("r");
    const given: string[] = [];
    await waitFor("the paused member's leases to end", async () => {
      const holders = await rig.holders();
      for (const p of survivorHeld) if (holders[p] !== "s") given.push(`${p} to ${holders[p]}`);
      return !holders.includes("p");
    }, { timeoutMs: 20_000, intervalMs: 10 });
    assertEquals(given, [], "the survivor gave none of its partitions away");
    await rig.balanced(["r", "s"]);
    assertEquals(
      byHolder(await rig.holders()).get("s"),
      survivorHeld,
      "the survivor kept its own",
    );
    const gaps = rig.gaps.longest();
    const stalled = stalledPartitions(gaps);
    assert(
      stalled.every((p) => pausedHeld.includes(p)),
      `only the paused member's partitions ${pausedHeld} may stall, stalled: ${stalled}`,
    );

    paused.kill("SIGCONT");
    const resumedAt = performance.now();
    const rejoinedMs = (await rig.balanced(["p", "r", "s"])) - resumedAt;
    console.log(
      `pause: ${stalled.length} partitions stalled (the paused member held ` +
        `${pausedHeld.length}); back after the pause, it held its share again ` +
        `${Math.round(rejoinedMs)} ms after it resumed`,
    );
  },
);
