import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { healthHandler, RillflowError, type Store, type Subscription } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { type EventSettings, eventSettings } from "../src/events/settings.ts";
import { appendOne, setCategory, take } from "./_subscriptions.ts";
import { waitFor } from "./_wait.ts";

testBoth("filters by event type, stream and category", async (store) => {
  const orders = crypto.randomUUID();
  const users = crypto.randomUUID();
  await appendOne(store, orders, "OrderPlaced", { n: 1 });
  await appendOne(store, users, "UserJoined", { n: 2 });
  await appendOne(store, orders, "OrderShipped", { n: 3 });
  await appendOne(store, users, "OrderPlaced", { n: 4 });
  await setCategory(store, orders, "orders");
  await setCategory(store, users, "users");

  const feeds = {
    byType: { eventTypes: ["OrderPlaced"] },
    byStream: { streamIds: [users] },
    byCategory: { categories: ["orders"] },
    combined: { eventTypes: ["OrderPlaced"], categories: ["users"] },
    all: {},
  };
  const expected = {
    byType: [1, 4],
    byStream: [2, 4],
    byCategory: [1, 3],
    combined: [4],
    all: [1, 2, 3, 4],
  };
  for (const [name, filter] of Object.entries(feeds)) {
    await store.subscriptions.create(name, filter);
    const sub = await store.subscriptions.subscribe(name, {
      stopWhenCaughtUp: true,
      useNotify: false,
    });
    const seen = [];
    for await (const envelope of sub) seen.push((envelope.data as { n: number }).n);
    assertEquals(seen, expected[name as keyof typeof expected], name);
  }
});

testBoth("resumes from the stored checkpoint after close, not from startFrom", async (store) => {
  const stream = crypto.randomUUID();
  const first = await appendOne(store, stream, "E", { n: 1 });
  for (let n = 2; n <= 5; n++) await appendOne(store, stream, "E", { n });
  await store.subscriptions.create("resume", { startFrom: first });
  const sub = await store.subscriptions.subscribe("resume", { batchSize: 2, useNotify: false });
  const seen: number[] = [];
  for await (const envelope of sub) {
    seen.push((envelope.data as { n: number }).n);
    if (seen.length === 2) break;
  }
  assertEquals(seen, [2, 3]);
  await appendOne(store, stream, "E", { n: 6 });
  // Changing the filter keeps the checkpoint.
  await store.subscriptions.create("resume", { eventTypes: ["E"], startFrom: 0 });
  const again = await store.subscriptions.subscribe("resume", {
    stopWhenCaughtUp: true,
    useNotify: false,
  });
  const rest = [];
  for await (const envelope of again) rest.push((envelope.data as { n: number }).n);
  assertEquals(rest, [4, 5, 6]);
  const status = await store.subscriptions.groupStatus("resume", "default");
  assertEquals(status.lag, 0);
  assertEquals(status.members, []);
});

testBoth("manual mode redelivers events not acknowledged before a restart", async (store) => {
  const stream = crypto.randomUUID();
  for (let n = 1; n <= 4; n++) await appendOne(store, stream, "E", { n });
  await store.subscriptions.create("manual");
  const sub = await store.subscriptions.subscribe("manual", {
    ackMode: "manual",
    useNotify: false,
  });
  const got = await take(sub, 4);
  await sub.ack(got[0]!.globalSeq);
  await sub.ack(got[2]!.globalSeq); // out of order: 2 stays un-acked
  await sub.close();
  const again = await store.subscriptions.subscribe("manual", {
    ackMode: "manual",
    stopWhenCaughtUp: true,
    useNotify: false,
  });
  const redelivered = [];
  for await (const envelope of again) {
    redelivered.push((envelope.data as { n: number }).n);
    await again.ack(envelope.globalSeq);
  }
  assertEquals(redelivered, [2, 4]);
  const status = await store.subscriptions.groupStatus("manual", "default");
  assertEquals(status.checkpoint, got[3]!.globalSeq);
});

testBoth("unknown subscriptions and bad input raise typed errors", async (store) => {
  await assertRejects(
    () => store.subscriptions.subscribe("nope"),
    RillflowError,
    "Unknown subscription",
  );
  await assertRejects(() => store.subscriptions.create("bad name"), TypeError, "subscription name");
  await assertRejects(
    () => store.subscriptions.create("s", { streamIds: ["x"] }),
    TypeError,
    "UUID",
  );
  await assertRejects(() => store.subscriptions.create("s", { startFrom: -1 }), RangeError);
  assertEquals(await store.subscriptions.list(), []);
  await store.subscriptions.create("s");
  const error = await assertRejects(
    () =>
      store.subscriptions.subscribe("s", { members: "shared", group: "g" }).then((s) => s.close())
        .then(() => store.subscriptions.subscribe("s", { group: "g" })),
    RillflowError,
  );
  assert(error.code === "INVALID_INPUT", error.message);
});

testBoth("pause holds delivery; resume and reset take effect on running members", async (store) => {
  const stream = crypto.randomUUID();
  const first = await appendOne(store, stream, "E", { n: 1 });
  await store.subscriptions.create("ops");
  const sub = await store.subscriptions.subscribe("ops", {
    ackMode: "manual",
    useNotify: false,
    pollIntervalMs: 20,
    leaseTtlMs: 400,
  });
  const [one] = await take(sub, 1);
  await sub.ack(one!.globalSeq);
  await store.subscriptions.pause("ops");
  assertEquals((await store.subscriptions.status("ops")).paused, true);
  await appendOne(store, stream, "E", { n: 2 });
  const iterator = sub[Symbol.asyncIterator]();
  const pending = iterator.next();
  // A bounded negative check: the member polls every 20 ms while paused.
  const early = await Promise.race([
    pending.then(() => "delivered"),
    new Promise((resolve) => setTimeout(() => resolve("held"), 250)),
  ]);
  assertEquals(early, "held");
  await store.subscriptions.resume("ops");
  const two = (await pending).value!;
  assertEquals(two.data, { n: 2 });
  await sub.ack(two.globalSeq);

  // Reset to the start: the running member is evicted, rejoins and delivers again.
  await store.subscriptions.reset("ops", 0);
  const again = await take(sub, 2);
  assertEquals(again.map((e) => e.globalSeq), [first, two.globalSeq]);
  await Promise.all(again.map((e) => sub.ack(e.globalSeq)));
  const status = await store.subscriptions.status("ops");
  assertEquals(status.groups[0]!.checkpoint, two.globalSeq);
  assertEquals(status.head, two.globalSeq);
  await sub.close();
  await store.subscriptions.delete("ops");
  await assertRejects(() => store.subscriptions.status("ops"), RillflowError);
});

testBoth("every delivered envelope passes through the store's upcaster", async (store) => {
  const settings = eventSettings(contextOf(store)) as { upcast: EventSettings["upcast"] };
  const original = settings.upcast;
  settings.upcast = (envelopes) =>
    Promise.resolve(envelopes.map((e) => ({ ...e, data: { upcast: true, was: e.data } })));
  try {
    await appendOne(store, crypto.randomUUID(), "Old", { v: 1 });
    await store.subscriptions.create("up");
    const sub = await store.subscriptions.subscribe("up", {
      stopWhenCaughtUp: true,
      useNotify: false,
    });
    const seen = [];
    for await (const envelope of sub) seen.push(envelope.data);
    assertEquals(seen, [{ upcast: true, was: { v: 1 } }]);
  } finally {
    settings.upcast = original;
  }
});

testBoth(
  "metrics: deliveries, acks, in-flight and lag per subscription and group on /metrics",
  async (store) => {
    const stream = crypto.randomUUID();
    await appendOne(store, stream, "E");
    await appendOne(store, stream, "E");
    await store.subscriptions.create("metered");
    const sub = await store.subscriptions.subscribe("metered", {
      group: "mg",
      ackMode: "manual",
      useNotify: false,
      pollIntervalMs: 20,
      leaseTtlMs: 200,
    });
    try {
      await checkMetrics(store, sub);
    } finally {
      await sub.close();
    }
  },
);

async function checkMetrics(store: Store, sub: Subscription): Promise<void> {
  const [a, b] = await take(sub, 2);
  await sub.ack(a!.globalSeq);
  const handler = healthHandler(store);
  const labels = `schema="${contextOf(store).schema}",tenant="",subscription="metered",group="mg"`;
  const value = (text: string, name: string) =>
    Number(
      text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels))?.split(" ")
        .pop(),
    );
  await waitFor("the gauges to show one event in flight and a lag of one", async () => {
    const text = await (await handler(new Request("http://x/metrics"))).text();
    return value(text, "rillflow_subscription_pending") === 1 &&
      value(text, "rillflow_subscription_lag") === b!.globalSeq - a!.globalSeq;
  });
  const text = await (await handler(new Request("http://x/metrics"))).text();
  assertEquals(value(text, "rillflow_subscription_events_delivered_total"), 2);
  assertEquals(value(text, "rillflow_subscription_events_acked_total"), 1);
}

testBoth("a running member applies a changed filter from its next read", async (store) => {
  const stream = crypto.randomUUID();
  await store.subscriptions.create("refilter", { eventTypes: ["A"] });
  const sub = await store.subscriptions.subscribe("refilter", {
    useNotify: false,
    pollIntervalMs: 20,
    leaseTtlMs: 400,
  });
  try {
    await appendOne(store, stream, "A", { n: 1 });
    assertEquals((await take(sub, 1))[0]!.data, { n: 1 });
    await store.subscriptions.create("refilter", { eventTypes: ["B"] });
    await appendOne(store, stream, "A", { n: 2 });
    await appendOne(store, stream, "B", { n: 3 });
    assertEquals((await take(sub, 1))[0]!.data, { n: 3 });
  } finally {
    await sub.close();
  }
});
