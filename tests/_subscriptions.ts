/** Helpers for subscription tests. */
import { event, Expected, type Store } from "../mod.ts";
import type { EventEnvelope, SubscribeOptions, Subscription } from "../mod.ts";
import { waitFor } from "./_wait.ts";
import { contextOf } from "../src/_context.ts";

/** Appends one event of `type` to `streamId` and returns its position. */
export async function appendOne(
  store: Store,
  streamId: string,
  type: string,
  data: Record<string, unknown> = {},
): Promise<number> {
  const result = await store.events.append(streamId, Expected.any, [event(type, data)]);
  return result.globalSeqs[0]!;
}

/** Sets a stream's category directly (the event store fills it from aliases). */
export async function setCategory(store: Store, streamId: string, category: string) {
  const context = contextOf(store);
  await context.executor.query(
    `insert into ${context.table("streams")} (stream_id, category) values ($1, $2)
     on conflict (stream_id) do update set category = excluded.category`,
    [streamId, category],
  );
}

/** Takes `count` events from a subscription, failing after `timeoutMs`. */
export async function take(
  sub: Subscription,
  count: number,
  timeoutMs = 10_000,
  onEvent?: (envelope: EventEnvelope) => Promise<void> | void,
): Promise<EventEnvelope[]> {
  const taken: EventEnvelope[] = [];
  if (count === 0) return taken;
  const iterator = sub[Symbol.asyncIterator]();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${timeoutMs} ms with ${taken.length}/${count}`)),
      timeoutMs,
    );
  });
  try {
    while (taken.length < count) {
      const result = await Promise.race([iterator.next(), timeout]);
      if (result.done) break;
      taken.push(result.value);
      await onEvent?.(result.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return taken;
}

/** One new stream per partition of a shared group of `partitions` (the group's stream hash). */
export async function streamPerPartition(store: Store, partitions: number): Promise<string[]> {
  const { executor } = contextOf(store);
  const streams: Array<string | undefined> = Array.from({ length: partitions });
  while (streams.includes(undefined)) {
    const ids = Array.from({ length: partitions * 4 }, () => crypto.randomUUID());
    const rows = await executor.query<{ id: string; partition: number }>(
      `select id::text, (hashtext(id::uuid::text) & 2147483647) % $2 as partition
         from unnest($1::text[]) as id`,
      [ids, partitions],
    );
    for (const row of rows) streams[row.partition] ??= row.id;
  }
  return streams as string[];
}

/** A steady load: one event on each stream every `intervalMs`, until stopped. */
export class SteadyLoad {
  #running = true;
  readonly #loop: Promise<number>;

  constructor(store: Store, streams: readonly string[], intervalMs: number) {
    this.#loop = (async () => {
      let rounds = 0;
      while (this.#running) {
        const started = performance.now();
        await Promise.all(
          streams.map((id) => store.events.append(id, Expected.any, [event("Tick", { rounds })])),
        );
        rounds++;
        // Pacing, not an assertion: the load is a rate.
        const rest = intervalMs - (performance.now() - started);
        if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
      }
      return rounds;
    })();
  }

  /** Stops appending; resolves with the rounds appended. */
  stop(): Promise<number> {
    this.#running = false;
    return this.#loop;
  }
}

/** Per partition, the longest time without a delivery since observing started. */
export class DeliveryGaps {
  readonly #last = new Map<number, number>();
  readonly #longest = new Map<number, number>();
  #observing = false;

  /** Starts observing at `at` (every partition counts as just delivered). */
  start(at: number, partitions: number): void {
    for (let p = 0; p < partitions; p++) {
      this.#last.set(p, at);
      this.#longest.set(p, 0);
    }
    this.#observing = true;
  }

  /** Records a delivery of `partition` now. */
  delivered(partition: number, at = performance.now()): void {
    if (!this.#observing) return;
    const last = this.#last.get(partition)!;
    this.#longest.set(partition, Math.max(this.#longest.get(partition)!, at - last));
    this.#last.set(partition, at);
  }

  /** Whether every partition had a delivery after `at`. */
  allDeliveredAfter(at: number): boolean {
    return [...this.#last.values()].every((last) => last > at);
  }

  /** The longest gap of each partition, up to now. */
  longest(now = performance.now()): Map<number, number> {
    return new Map(
      [...this.#longest].map(([p, gap]) => [p, Math.max(gap, now - this.#last.get(p)!)]),
    );
  }
}

/** Iterates a member in the background, calling `onEvent` for each event (auto acks). */
export function consume(
  sub: Subscription,
  onEvent: (envelope: EventEnvelope) => void,
): Promise<void> {
  return (async () => {
    for await (const envelope of sub) onEvent(envelope);
  })();
}

/** The holder of each partition's unexpired lease (null: none), by partition. */
export async function leaseHolders(
  store: Store,
  subscription: string,
  group: string,
): Promise<Array<string | null>> {
  const status = await store.subscriptions.groupStatus(subscription, group);
  return status.leases.map((lease) => lease.owner);
}

/** The shared group of the handover tests: 16 partitions, a 2 s lease, so a beat every 500 ms. */
export const HANDOVER = { partitions: 16, leaseTtlMs: 2_000, beatMs: 500 } as const;

/** Options of a member of the handover tests' group "g" of subscription "work". */
export const handoverMember: SubscribeOptions = {
  group: "g",
  members: "shared",
  partitions: HANDOVER.partitions,
  leaseTtlMs: HANDOVER.leaseTtlMs,
  batchSize: 50,
  pollIntervalMs: 100,
};

/** Waits until `member` holds half of the partitions and acknowledged events in each of them. */
export async function consumingHalf(store: Store, member: string): Promise<number[]> {
  return await waitFor(`${member} to consume its half`, async () => {
    const status = await store.subscriptions.groupStatus("work", "g");
    const held = status.leases.filter((l) => l.owner === member);
    return held.length === HANDOVER.partitions / 2 && held.every((l) => l.checkpoint > 0) &&
      held.map((l) => l.partition);
  }, { timeoutMs: 30_000, intervalMs: 20 });
}
