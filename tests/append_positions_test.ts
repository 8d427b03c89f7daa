/**
 * An append reports the global positions its events took, also when another
 * writer drew positions between them (they are then not consecutive).
 */
import { assert, assertEquals } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { event, Expected } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

testBoth("positions that are not consecutive are reported as taken", async (store) => {
  const { executor, table, schema } = contextOf(store);
  // Stands for another writer: a position drawn while this event is inserted.
  await executor.query(`create function "${schema}".draw() returns trigger language plpgsql as
    $$ begin if new.data ? 'gap' then perform nextval('${table("events_global_seq")}'); end if;
       return new; end $$`);
  await executor.query(`create trigger draw before insert on ${table("events")}
    for each row execute function "${schema}".draw()`);
  const batch = () => [event("A", {}), event("B", { gap: true }), event("C", {})];
  const check = async (stream: string, result: { globalSeqs: number[] }) => {
    const read = await store.events.readStream(stream);
    const taken = read.slice(-3).map((e) => e.globalSeq);
    assertEquals(result.globalSeqs, taken);
    assertEquals(taken[2]! - taken[1]!, 2, "a position was drawn in between");
  };
  const fresh = crypto.randomUUID();
  await check(fresh, await store.events.append(fresh, Expected.any, batch()));
  await check(fresh, await store.events.append(fresh, Expected.any, batch()));
  const created = crypto.randomUUID();
  await check(created, await store.events.append(created, Expected.noStream, batch()));
});

testBoth(
  "positions are reported exactly when another statement drew from the sequence in between",
  async (store) => {
    const { executor, table, schema } = contextOf(store);
    // A trigger that draws a position per inserted row: the append's own positions skip numbers.
    await executor.query(`create function "${schema}".burn() returns trigger language plpgsql as
    $$ begin perform nextval('"${schema}".events_global_seq'); return new; end $$`);
    await executor.query(`create trigger burn before insert on ${table("events")}
    for each row execute function "${schema}".burn()`);
    const s = crypto.randomUUID();
    const batch = await store.events.append(s, Expected.noStream, [
      event("A", {}),
      event("B", {}),
      event("C", {}),
    ]);
    const combined = await Promise.all(
      Array.from(
        { length: 4 },
        (_, i) => store.events.append(s, Expected.any, [event("D", { i })]),
      ),
    );
    const read = await store.events.readStream(s);
    assertEquals(
      batch.globalSeqs,
      read.slice(0, 3).map((e) => e.globalSeq),
    );
    assert(batch.globalSeqs[2]! - batch.globalSeqs[0]! > 2, "positions are not consecutive");
    for (const result of combined) {
      const mine = read.find((e) => e.globalSeq === result.globalSeqs[0]);
      assertEquals(mine?.streamSeq, result.streamVersion);
    }
    assertEquals(new Set(combined.map((r) => r.streamVersion)), new Set([4, 5, 6, 7]));
  },
);
