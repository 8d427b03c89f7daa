import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { eventCount } from "./_counts.ts";
import { testBoth } from "./_backends.ts";
import {
  type Aggregate,
  AggregateRepository,
  defineUpcaster,
  event,
  Expected,
  RillflowError,
  UpcasterRegistry,
} from "../mod.ts";

interface Account {
  balance: number;
  deposits: number;
}

const AccountAggregate: Aggregate<Account> = {
  name: "account",
  initialState: () => ({ balance: 0, deposits: 0 }),
  evolve(state, e) {
    const { amount } = e.data as { amount: number };
    switch (e.type) {
      case "Deposited":
        return { balance: state.balance + amount, deposits: state.deposits + 1 };
      case "Withdrawn":
        return { ...state, balance: state.balance - amount };
      default:
        return state;
    }
  },
};

const noOverdraft = (state: Account) => {
  if (state.balance < 0) throw new Error(`balance would be ${state.balance}`);
};

testBoth("load folds the stream and reports the stream version", async (store) => {
  const accounts = new AggregateRepository(store, AccountAggregate);
  const id = crypto.randomUUID();
  assertEquals(await accounts.load(id), { state: { balance: 0, deposits: 0 }, version: 0 });
  const first = await accounts.commit(id, Expected.noStream, [
    event("Deposited", { amount: 10 }),
    event("Deposited", { amount: 5 }),
  ]);
  assertEquals(first.streamVersion, 2);
  const loaded = await accounts.load(id);
  assertEquals(loaded, { state: { balance: 15, deposits: 2 }, version: 2 });
  const next = await accounts.commitFor(id, loaded, [event("Withdrawn", { amount: 4 })]);
  assertEquals(next.streamVersion, 3);
  assertEquals(await accounts.load(id), { state: { balance: 11, deposits: 2 }, version: 3 });
  assertEquals(await accounts.loadWithSnapshot(id), await accounts.load(id));
});

testBoth("commitFor with a stale state conflicts and writes nothing", async (store) => {
  const accounts = new AggregateRepository(store, AccountAggregate);
  const id = crypto.randomUUID();
  const stale = await accounts.load(id);
  await accounts.commitFor(id, stale, [event("Deposited", { amount: 1 })]);
  const error = await assertRejects(
    () => accounts.commitFor(id, stale, [event("Deposited", { amount: 2 })]),
    RillflowError,
  );
  assertEquals(error.code, "CONCURRENCY_CONFLICT");
  assertEquals([error.details.expected, error.details.actual], [0, 1]);
  assertEquals(await eventCount(store, id), 1);
});

testBoth("a validator rejection is INVALID_INPUT and writes nothing", async (store) => {
  const accounts = new AggregateRepository(store, AccountAggregate, { validator: noOverdraft });
  const id = crypto.randomUUID();
  await accounts.commit(id, Expected.any, [event("Deposited", { amount: 10 })]);
  const loaded = await accounts.load(id);
  const attempts = [
    () => accounts.commit(id, Expected.any, [event("Withdrawn", { amount: 11 })]),
    () => accounts.commit(id, Expected.exact(1), [event("Withdrawn", { amount: 11 })]),
    () => accounts.commitFor(id, loaded, [event("Withdrawn", { amount: 11 })]),
    () =>
      accounts.commitAndSnapshot(id, loaded, [event("Withdrawn", { amount: 11 })], { every: 1 }),
  ];
  for (const attempt of attempts) {
    const error = await assertRejects(attempt, RillflowError, "balance would be -1");
    assertEquals(error.code, "INVALID_INPUT");
    assertEquals(error.retryable, false);
    assert(error.cause instanceof Error);
    assert(error.message.includes(`Aggregate "account" rejected the commit to stream "${id}"`));
  }
  assertEquals(await eventCount(store, id), 1);
  assertEquals(await accounts.loadWithSnapshot(id), loaded, "no snapshot was written");
  // The validator sees the state after ALL the new events: a deposit in the same commit helps.
  await accounts.commitFor(id, loaded, [
    event("Deposited", { amount: 5 }),
    event("Withdrawn", { amount: 11 }),
  ]);
  assertEquals((await accounts.load(id)).state, { balance: 4, deposits: 2 });
});

testBoth("a validator's own RillflowError passes through unchanged", async (store) => {
  const own = new RillflowError("DOCUMENT_NOT_FOUND", "No such customer");
  const accounts = new AggregateRepository(store, AccountAggregate, {
    validator: () => {
      throw own;
    },
  });
  const id = crypto.randomUUID();
  const error = await assertRejects(
    () => accounts.commit(id, Expected.noStream, [event("Deposited", { amount: 1 })]),
    RillflowError,
  );
  assert(error === own);
  assertEquals(await eventCount(store, id), 0);
});

testBoth("a validated commit checks the expectation against the loaded version", async (store) => {
  const accounts = new AggregateRepository(store, AccountAggregate, { validator: noOverdraft });
  const id = crypto.randomUUID();
  await accounts.commit(id, Expected.noStream, [event("Deposited", { amount: 1 })]);
  for (const expected of [Expected.noStream, Expected.exact(5)]) {
    const error = await assertRejects(
      () => accounts.commit(id, expected, [event("Deposited", { amount: 1 })]),
      RillflowError,
    );
    assertEquals(error.code, "CONCURRENCY_CONFLICT");
    assertEquals(error.details.actual, 1);
  }
  const missing = crypto.randomUUID();
  const error = await assertRejects(
    () => accounts.commit(missing, Expected.streamExists, [event("Deposited", { amount: 1 })]),
    RillflowError,
  );
  assertEquals(error.code, "CONCURRENCY_CONFLICT");
  assertEquals(await eventCount(store, id), 1);
});

testBoth("validated commits with Expected.any reload after losing a race", async (store) => {
  const accounts = new AggregateRepository(store, AccountAggregate, { validator: noOverdraft });
  const id = crypto.randomUUID();
  await Promise.all([
    accounts.commit(id, Expected.any, [event("Deposited", { amount: 1 })]),
    accounts.commit(id, Expected.any, [event("Deposited", { amount: 2 })]),
  ]);
  assertEquals(await accounts.load(id), { state: { balance: 3, deposits: 2 }, version: 2 });
});

const renames = new UpcasterRegistry().register(defineUpcaster({
  fromType: "Credited",
  fromVersion: 1,
  toType: "Deposited",
  toVersion: 2,
  upcast: (data) => ({ amount: (data as { cents: number }).cents / 100 }),
}));
testBoth("aggregates fold upcast events", async (store) => {
  const accounts = new AggregateRepository(store, AccountAggregate);
  const id = crypto.randomUUID();
  await store.events.append(id, Expected.noStream, [
    event("Credited", { cents: 250 }, { version: 1 }),
    event("Deposited", { amount: 1 }),
  ]);
  assertEquals(await accounts.load(id), { state: { balance: 3.5, deposits: 2 }, version: 2 });
}, { upcasters: renames });

testBoth("malformed aggregates and arguments are caller bugs", async (store) => {
  assertThrows(
    () => new AggregateRepository(store, { name: "", initialState: () => 0 } as never),
    TypeError,
    "name",
  );
  assertThrows(
    () => new AggregateRepository(store, { ...AccountAggregate, schemaVersion: 0 }),
    TypeError,
    "schemaVersion",
  );
  const accounts = new AggregateRepository(store, AccountAggregate);
  const id = crypto.randomUUID();
  await assertRejects(() => accounts.load("nope"), TypeError, "stream id");
  await assertRejects(() => accounts.commit(id, Expected.any, []), TypeError, "at least one");
  await assertRejects(
    () =>
      accounts.commitAndSnapshot(id, { state: accounts.aggregate.initialState(), version: 0 }, [
        event("Deposited", { amount: 1 }),
      ], { every: 0 }),
    RangeError,
    "every",
  );
  assertEquals(await eventCount(store, id), 0);
});
