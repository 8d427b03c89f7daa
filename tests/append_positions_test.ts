/**
 * An append reports the global positions its events took, also when another
 * writer drew positions between them (they are then not consecutive).
 */
import { assertEquals } from "./_assert.ts";
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
