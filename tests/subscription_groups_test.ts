import { assert, assertEquals } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, testBoth, testServer } from "./_backends.ts";
import { event, Expected, Store } from "../mod.ts";
import type { EventEnvelope, Subscription } from "../mod.ts";
import { appendOne, take } from "./_subscriptions.ts";
import { waitFor } from "./_wait.ts";

async function openServerStore(url: string): Promise<Store> {
  return await Store.connect(url, { schema: freshSchema(), autoMigrate: true, maxConnections: 12 });
}

/** Appends `perStream` events to each of `streams` new streams (50 per call). */
async function appendMany(store: Store, streams: number, perStream: number): Promise<string[]> {
  const ids = Array.from({ length: streams }, () => crypto.randomUUID());
  await Promise.all(ids.map(async (id) => {
    for (let from = 1; from <= perStream; from += 50) {
      const batch = Array.from(
        { length: Math.min(50, perStream - from + 1) },
        (_, i) => event("Work", { seq: from + i }),
      );
      await store.events.append(id, Expected.any, batch);
    }
  }));
  return ids;
}

testServer(
  "competing members: 10,000 events over 200 streams, once each, in stream order",
  async (url) => {
    const store = await openServerStore(url);
    try {
      await appendMany(store, 200, 50);
      await store.subscriptions.create("work");
      const options = {
        group: "workers",
        members: "shared",
        ackMode: "manual",
        batchSize: 200,
        leaseTtlMs: 1_200,
        pollIntervalMs: 50,
        useNotify: false,
      } as const;
      const members = await Promise.all(
        [1, 2, 3].map((n) =>
          store.subscriptions.subscribe("work", { ...options, memberId: `m${n}` })
        ),
      );
      const handled: Array<{ member: string; env: EventEnvelope }> = [];
      const byMember = new Map<string, number>();
      let total = 0;
      let leaver: Subscription | undefined;
      await Promise.all(members.map(async (sub) => {
        for await (const env of sub) {
          handled.push({ member: sub.memberId, env });
          byMember.set(sub.memberId, (byMember.get(sub.memberId) ?? 0) + 1);
          await sub.ack(env.globalSeq);
          total++;
          // One member leaves halfway: the others take its streams over.
          if (sub.memberId === "m3" && total >= 5_000 && !leaver) {
            leaver = sub;
            break;
          }
          if (total >= 10_000) break;
        }
        if (sub !== leaver) await Promise.all(members.map((m) => m.close()));
      }));

      assertEquals(handled.length, 10_000, "every event handled once");
      assertEquals(new Set(handled.map((h) => h.env.globalSeq)).size, 10_000);
      const lastSeq = new Map<string, number>();
      const owner = new Map<string, string>();
      let moves = 0;
      for (const { member, env } of handled) {
        assertEquals(env.streamSeq, (lastSeq.get(env.streamId) ?? 0) + 1, "per-stream order");
        lastSeq.set(env.streamId, env.streamSeq);
        if (owner.has(env.streamId) && owner.get(env.streamId) !== member) moves++;
        owner.set(env.streamId, member);
      }
      assert(moves > 0, "streams moved between members on join and leave");
      for (const name of ["m1", "m2", "m3"]) {
        assert(
          (byMember.get(name) ?? 0) >= 500,
          `member ${name} starved: ${JSON.stringify([...byMember])}`,
        );
      }
      // The members stopped as soon as the last event was acknowledged, before scanning past
      // the other partitions' remaining positions: a member catching up moves every partition's
      // checkpoint to the head, and finds nothing left to deliver.
      const catchUp = await store.subscriptions.subscribe("work", {
        ...options,
        memberId: "m4",
        stopWhenCaughtUp: true,
      });
      let redelivered = 0;
      for await (const _ of catchUp) redelivered++;
      await catchUp.close();
      assertEquals(redelivered, 0, "nothing acknowledged is delivered again");
      const status = await store.subscriptions.groupStatus("work", "workers");
      assertEquals(status.lag, 0);
      assertEquals(status.partitionCount, 16);
    } finally {
      await dropSchemaAndClose(store);
    }
  },
);

testServer(
  "maxInFlight is never exceeded, and a runtime bound applies without a restart",
  async (url) => {
    const store = await openServerStore(url);
    const settling: Promise<void>[] = [];
    try {
      await appendMany(store, 30, 40);
      await store.subscriptions.create("bounded");
      const bound = { value: 6 };
      let inFlight = 0;
      let peak = 0;
      let peakAfterLowering = 0;
      let lowered = false;
      let acked = 0;
      const members = await Promise.all(
        [1, 2, 3].map((n) =>
          store.subscriptions.subscribe("bounded", {
            group: "g",
            members: "shared",
            ackMode: "manual",
            maxInFlight: 6,
            batchSize: 20,
            leaseTtlMs: 1_500,
            pollIntervalMs: 20,
            useNotify: false,
            memberId: `b${n}`,
          })
        ),
      );
      await Promise.all(members.map(async (sub) => {
        for await (const env of sub) {
          inFlight++;
          peak = Math.max(peak, inFlight);
          assert(inFlight <= bound.value, `in flight ${inFlight} above the bound ${bound.value}`);
          if (lowered) {
            peakAfterLowering = Math.max(peakAfterLowering, inFlight);
          }
          // Settle later, so the member keeps pulling while events are in flight.
          settling.push((async () => {
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 6));
            inFlight--;
            await sub.ack(env.globalSeq);
            acked++;
            if (acked === 400) {
              await store.subscriptions.setGroupMaxInFlight("bounded", "g", 2);
              // Events already out, and credits members reserved before (delivered later
              // without a new reservation), may exceed the new bound until they are settled:
              // from when the group's credits are within it, deliveries are too.
              await waitFor(
                "the group's credits to drain to the new bound",
                async () => (await store.subscriptions.groupStatus("bounded", "g")).inFlight <= 2,
              );
              bound.value = 2;
              lowered = true;
            }
            if (acked === 900) {
              await store.subscriptions.setGroupMaxInFlight("bounded", "g", null);
              lowered = false;
              bound.value = 6;
            }
            if (acked === 1_200) await Promise.all(members.map((m) => m.close()));
          })());
        }
      }));
      await Promise.all(settling);
      assertEquals(acked, 1_200);
      assertEquals(peak > 2, true, "the bound of 6 was used");
      assert(peakAfterLowering <= 2, `peak after lowering ${peakAfterLowering}`);
      const status = await store.subscriptions.groupStatus("bounded", "g");
      assertEquals(status.maxInFlight, null);
      assertEquals(status.inFlight, 0);
    } finally {
      // A failed assertion leaves acks running: they end before the schema goes, so the
      // failure reported is the assertion, not an ack against a dropped table.
      await Promise.allSettled(settling);
      await dropSchemaAndClose(store);
    }
  },
);

testBoth(
  "exclusive group: a standby takes over at once when the active member closes",
  async (store) => {
    const stream = crypto.randomUUID();
    await store.subscriptions.create("ha");
    const options = {
      group: "g",
      leaseTtlMs: 1_000,
      pollIntervalMs: 20,
      useNotify: false,
    } as const;
    const active = await store.subscriptions.subscribe("ha", { ...options, memberId: "active" });
    const standby = await store.subscriptions.subscribe("ha", { ...options, memberId: "standby" });
    const status = await store.subscriptions.groupStatus("ha", "g");
    assertEquals(status.leases.map((l) => l.owner), ["active"]);
    assertEquals(status.members.map((m) => m.memberId), ["active", "standby"]);
    await appendOne(store, stream, "E", { n: 1 });
    const [first] = await take(active, 1);
    assertEquals(first!.data, { n: 1 });
    await active.close();
    const closedAt = Date.now();
    await appendOne(store, stream, "E", { n: 2 });
    const [second] = await take(standby, 1, 5_000);
    assertEquals(
      second!.data,
      { n: 2 },
      "the standby resumes after the closed member's checkpoint",
    );
    assert(Date.now() - closedAt < 1_000, "takeover well within the lease TTL");
    await standby.close();
  },
);
