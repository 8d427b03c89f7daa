import { assertEquals } from "../../tests/_assert.ts";
import type { EventEnvelope } from "../events/envelope.ts";
import { DeliveryTracker, type FetchedEvent } from "./tracker.ts";

function fetched(seq: number, stream: string, partition = 0, extra: Partial<FetchedEvent> = {}) {
  const envelope = { globalSeq: seq, streamId: stream } as EventEnvelope;
  return { envelope, partition, attempts: 0, dueAtMs: 0, requeued: false, ...extra };
}

Deno.test("delivers in order and moves the checkpoint only past acknowledged events", () => {
  const tracker = new DeliveryTracker();
  tracker.addPartition(0, 10);
  tracker.addFetched([0], [fetched(11, "a"), fetched(12, "b"), fetched(13, "a")], 20);
  const first = tracker.nextDeliverable(0)!;
  assertEquals(first.envelope.globalSeq, 11);
  first.state = "delivered";
  const second = tracker.nextDeliverable(0)!;
  assertEquals(second.envelope.globalSeq, 12);
  second.state = "delivered";
  assertEquals(tracker.checkpoints(), [10]);
  tracker.remove(12); // acked out of order: 11 still holds the checkpoint
  assertEquals(tracker.checkpoints(), [10]);
  tracker.remove(11);
  assertEquals(tracker.checkpoints(), [12], "13 is queued, so not past it");
  tracker.remove(13);
  assertEquals(tracker.checkpoints(), [20], "up to the scan frontier");
});

Deno.test("a waiting event holds back later events of its stream only", () => {
  const tracker = new DeliveryTracker();
  tracker.addPartition(0, 0);
  tracker.addFetched([0], [
    fetched(1, "a", 0, { dueAtMs: 1_000 }),
    fetched(2, "a"),
    fetched(3, "b"),
  ], 3);
  assertEquals(tracker.nextDeliverable(500)?.envelope.globalSeq, 3);
  assertEquals(tracker.nextDueAtMs(), 1_000);
  assertEquals(tracker.nextDeliverable(1_000)?.envelope.globalSeq, 1, "due: delivered first");
  tracker.get(1)!.state = "delivered";
  assertEquals(tracker.nextDeliverable(1_000)?.envelope.globalSeq, 2);
});

Deno.test("requeued dead letters never hold the checkpoint or their stream", () => {
  const tracker = new DeliveryTracker();
  tracker.addPartition(0, 50);
  tracker.addFetched([0], [fetched(60, "a")], 70);
  tracker.addFetched([], [fetched(5, "a", 0, { requeued: true })], 0);
  assertEquals(tracker.nextDeliverable(0)?.envelope.globalSeq, 5, "requeued first, by position");
  assertEquals(tracker.checkpoints(), [59]);
});

Deno.test("handing over: queued events are dropped and the frontier moves back below them", () => {
  const tracker = new DeliveryTracker();
  tracker.addPartition(0, 0);
  tracker.addPartition(1, 0);
  tracker.addFetched([0, 1], [fetched(1, "a", 0), fetched(2, "b", 1), fetched(3, "c", 1)], 9);
  tracker.get(2)!.state = "delivered";
  tracker.dropQueued(new Set([1]));
  assertEquals(tracker.checkpoints([1]), [1], "below delivered 2 (and dropped 3)");
  assertEquals(tracker.hasOutstanding(1), true);
  assertEquals(tracker.nextDeliverable(0, new Set([1]))?.envelope.globalSeq, 1);
  const lost = tracker.removePartition(1);
  assertEquals(lost.map((t) => t.envelope.globalSeq), [2]);
  assertEquals(tracker.partitions, [0]);
});

Deno.test("restore puts back an event whose ack failed", () => {
  const tracker = new DeliveryTracker();
  tracker.addPartition(0, 0);
  tracker.addFetched([0], [fetched(1, "a"), fetched(2, "a")], 2);
  const event = tracker.get(1)!;
  event.state = "delivered";
  tracker.remove(1);
  assertEquals(tracker.checkpoints(), [1]);
  tracker.restore(event);
  assertEquals(tracker.checkpoints(), [0]);
  assertEquals(tracker.nextDeliverable(0)?.envelope.globalSeq, 2);
});
