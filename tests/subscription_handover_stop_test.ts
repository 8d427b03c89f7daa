/**
 * Handover in a shared group after a graceful stop: stopping a member through
 * its signal ends its loop only once its leases are released (or the release
 * failed and was reported to `onError`), and closing a store closes the
 * members open on it first.
 */
import { assert, assertEquals } from "./_assert.ts";
import { freshSchema, testBoth, testServer } from "./_backends.ts";
import {
  consume,
  consumingHalf,
  HANDOVER,
  handoverMember,
  leaseHolders,
  SteadyLoad,
  streamPerPartition,
} from "./_subscriptions.ts";
import { waitFor } from "./_wait.ts";
import { Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

/** A member of "work"/"g" iterated in the background, its signal and what it reported. */
async function member(store: Store, memberId: string) {
  const controller = new AbortController();
  const errors: string[] = [];
  const sub = await store.subscriptions.subscribe("work", {
    ...handoverMember,
    memberId,
    signal: controller.signal,
    onError: (_, { during }) => errors.push(during),
  });
  return { sub, loop: consume(sub, () => {}), stop: () => controller.abort(), errors };
}

/** Leases held by `member`, expired or not (a lease left behind shows here until taken). */
async function leasesOf(store: Store, member: string): Promise<number> {
  const { executor, table } = contextOf(store);
  const [row] = await executor.query<{ n: number }>(
    `select count(*)::int as n from ${table("subscription_leases")} where lease_owner = $1`,
    [member],
  );
  return row!.n;
}

/** Makes every release of a lease fail from now on (a trigger refuses it). */
async function refuseReleases(store: Store): Promise<void> {
  const { executor, schema, table } = contextOf(store);
  await executor.query(
    `create function "${schema}".refuse_release() returns trigger language plpgsql
       as $$ begin raise exception 'release refused'; end $$`,
  );
  await executor.query(
    `create trigger refuse_release before update on ${table("subscription_leases")}
       for each row when (new.lease_owner is null) execute function "${schema}".refuse_release()`,
  );
}

/** Waits until `member` holds every partition; returns when that was. */
async function allHeldBy(store: Store, member: string): Promise<number> {
  await waitFor(`${member} to hold every partition`, async () => {
    return (await leaseHolders(store, "work", "g")).every((h) => h === member);
  }, { timeoutMs: 10_000, intervalMs: 10 });
  return performance.now();
}

/** Runs `fn` with a store on a fresh schema and a second store on it, whose close is tested. */
function testTwoStores(name: string, fn: (store: Store, other: Store) => Promise<void>): void {
  testServer(name, async (url) => {
    const schema = freshSchema();
    const store = await Store.connect(url, { schema, autoMigrate: true, maxConnections: 16 });
    const other = await Store.connect(url, { schema });
    try {
      await store.subscriptions.create("work");
      await fn(store, other);
    } finally {
      await other.close();
      // Closing the store ends its members' loops; the schema goes afterwards.
      await store.close();
      const dropper = await Store.connect(url);
      await contextOf(dropper).executor.query(`drop schema if exists "${schema}" cascade`);
      await dropper.close();
    }
  });
}

testTwoStores(
  "graceful stop under load: the loop ends with the leases released, the survivor takes them within a beat",
  async (store, leaving) => {
    const load = new SteadyLoad(store, await streamPerPartition(store, HANDOVER.partitions), 40);
    try {
      await member(store, "s");
      const stopping = await member(leaving, "a");
      await consumingHalf(store, "a");

      stopping.stop();
      const abortedAt = performance.now();
      await stopping.loop;
      const endedAt = performance.now();
      assertEquals(await leasesOf(store, "a"), 0, "no lease is left when the loop ends");
      await leaving.close();
      assertEquals(await leasesOf(store, "a"), 0, "closing the store right after leaves none");
      const movedMs = (await allHeldBy(store, "s")) - endedAt;
      console.log(
        `graceful stop: the loop ended ${Math.round(endedAt - abortedAt)} ms after the abort, ` +
          `leases released; the survivor held all ${HANDOVER.partitions} partitions ` +
          `${Math.round(movedMs)} ms later (beat ${HANDOVER.beatMs} ms)`,
      );
      // One beat interval, plus the beat's own statements and the polling here.
      assert(movedMs <= HANDOVER.beatMs * 1.5, `the survivor took ${movedMs} ms to take over`);
      assertEquals(stopping.errors, []);
    } finally {
      await load.stop();
    }
  },
);

testBoth(
  "stopping through the signal ends the loop once the leases are released",
  async (store) => {
    await store.subscriptions.create("work");
    const stopping = await member(store, "a");
    const staying = await member(store, "s");
    await waitFor("both members to hold their half", async () => {
      const holders = await leaseHolders(store, "work", "g");
      return holders.filter((h) => h === "a").length === HANDOVER.partitions / 2 &&
        holders.filter((h) => h === "s").length === HANDOVER.partitions / 2;
    });
    stopping.stop();
    await stopping.loop;
    assertEquals(await leasesOf(store, "a"), 0);
    assertEquals(
      (await store.subscriptions.groupStatus("work", "g")).members.map((m) => m.memberId),
      ["s"],
    );
    await allHeldBy(store, "s");
    await staying.sub.close();
    await staying.loop;
    assertEquals([...stopping.errors, ...staying.errors], []);
  },
);

testBoth(
  "a release that fails on stop is reported to onError, and the loop ends",
  async (store) => {
    await store.subscriptions.create("work");
    const stopping = await member(store, "a");
    await refuseReleases(store);
    stopping.stop();
    await stopping.loop;
    assert(stopping.errors.includes("close on abort"), `reported: ${stopping.errors}`);
  },
);

testTwoStores(
  "closing a store closes its open members first: their leases are released",
  async (store, closing) => {
    const iterated = await member(closing, "a");
    // A member nobody iterates is closed too.
    const idle = await closing.subscriptions.subscribe("work", {
      ...handoverMember,
      memberId: "b",
    });
    await waitFor("both members to hold partitions", async () => {
      const holders = await leaseHolders(store, "work", "g");
      return holders.includes("a") && holders.includes("b");
    });
    await closing.close();
    await iterated.loop;
    assertEquals(await leasesOf(store, "a") + await leasesOf(store, "b"), 0);
    assertEquals((await store.subscriptions.groupStatus("work", "g")).members, []);
    assertEquals(iterated.errors, []);
    await idle.close();
  },
);

testTwoStores(
  "a member whose close fails when the store closes reports it to onError; the store closes",
  async (store, closing) => {
    const failing = await member(closing, "a");
    await refuseReleases(store);
    await closing.close();
    await failing.loop;
    assert(
      failing.errors.includes("close (the store is closing)"),
      `reported: ${failing.errors}`,
    );
  },
);
