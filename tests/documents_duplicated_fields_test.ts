import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { planOf } from "./_explain.ts";
import { DuplicatedField, Predicate, RillflowError, SchemaConfig, type Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

type Person = {
  email: string;
  age: number;
  profile: { address: { city: string } };
  tags: string[];
  joined: string;
  vip?: boolean;
};

const config = SchemaConfig.singleTenant()
  .addDuplicatedField("people", new DuplicatedField("age", "age", "integer"))
  .addDuplicatedField(
    "people",
    new DuplicatedField("email", "email", "text").withTransform("lower({value})"),
  )
  .addDuplicatedField("people", new DuplicatedField("profile.address.city", "city", "text"))
  .addDuplicatedField("people", new DuplicatedField("tags", "tags", "jsonb"))
  .addDuplicatedField("people", new DuplicatedField("joined", "joined", "timestamptz"))
  .addDuplicatedField("people", new DuplicatedField("vip", "vip", "boolean").withIndexed(false));

function person(i: number): Person {
  return {
    email: `User${i}@Example.com`,
    age: 20 + (i % 50),
    profile: { address: { city: ["Oslo", "Lima", "Rome"][i % 3]! } },
    tags: i % 2 ? ["odd"] : ["even"],
    joined: new Date(Date.UTC(2020, 0, 1 + i)).toISOString(),
    ...(i % 5 === 0 ? { vip: true } : {}),
  };
}

async function columns(store: Store, id: string) {
  const { executor, table } = contextOf(store);
  const [row] = await executor.query(
    `select age, email, city, tags, joined, vip from ${table("people")} where id = $1`,
    [id],
  );
  return row;
}

const QUERIES = [
  Predicate.eq("age", 30),
  Predicate.gt("age", 60),
  Predicate.between("age", 25, 27),
  Predicate.in("age", [21, 22, 69]),
  Predicate.ne("age", 20),
  Predicate.eq("profile.address.city", "Lima"),
  Predicate.regex("profile.address.city", "^R"),
  Predicate.contains("tags", ["odd"]),
  Predicate.eq("tags", ["even"]),
  Predicate.gt("joined", new Date(Date.UTC(2020, 1, 1))),
  Predicate.eq("vip", true),
  Predicate.eq("vip", null),
];

testBoth(
  "sync adds columns, backfills existing rows, and queries match the JSONB path",
  async (store) => {
    const people = store.docs<Person>("people");
    const ids = Array.from({ length: 120 }, () => crypto.randomUUID());
    await people.bulkInsert(ids.map((id, i) => ({ id, doc: person(i) })));
    const before = [];
    for (const q of QUERIES) {
      before.push(
        (await people.query().filter(q).orderBy("email").fetchAll()).map((p) => p.email),
      );
    }

    await store.schema.sync(config);
    assertEquals(await columns(store, ids[4]!), {
      age: 24,
      email: "user4@example.com",
      city: "Lima",
      tags: ["even"],
      joined: new Date(Date.UTC(2020, 0, 5)),
      vip: null,
    });
    for (const [i, q] of QUERIES.entries()) {
      assert(people.query().filter(q).toSql().text.includes(`d."`), `query ${i} uses a column`);
      const after = (await people.query().filter(q).orderBy("email").fetchAll()).map((p) =>
        p.email
      );
      assertEquals(after, before[i], `query ${i} returns the same rows`);
    }
    const report = await store.schema.drift();
    assertEquals(report.items, [], "duplicated columns and indexes are not drift");
  },
);

testBoth("writes after sync keep the columns in sync through the trigger", async (store) => {
  await store.schema.sync(config);
  const people = store.docs<Person>("people");
  const id = crypto.randomUUID();
  await people.put(id, person(7));
  await people.patch(id, 1, "profile.address.city", "Kyiv");
  await people.increment(id, 2, "age", 3);
  const row = await columns(store, id);
  assertEquals([row?.age, row?.city, row?.email], [30, "Kyiv", "user7@example.com"]);
  const found = await people.query().filter(Predicate.eq("profile.address.city", "Kyiv"))
    .fetchAll();
  assertEquals(found.length, 1);
});

testBoth("a transform applies to compared values too", async (store) => {
  await store.schema.sync(config);
  const people = store.docs<Person>("people");
  await people.put(crypto.randomUUID(), person(1));
  const hit = await people.query().filter(Predicate.eq("email", "USER1@EXAMPLE.COM")).fetchAll();
  assertEquals(hit.map((p) => p.email), ["User1@Example.com"]);
  const { text } = people.query().filter(Predicate.eq("email", "x")).toSql();
  assert(text.includes(`d."email" = lower($1::text)`), text);
});

testBoth("a duplicated field equality uses its btree index (EXPLAIN)", async (store) => {
  await store.schema.sync(config);
  const people = store.docs<Person>("people");
  await people.bulkInsert(
    Array.from({ length: 200 }, (_, i) => ({ id: crypto.randomUUID(), doc: person(i) })),
  );
  const plan = await planOf(store, people.query().filter(Predicate.eq("age", 30)).toSql());
  assert(plan.includes("people_age_idx"), plan);
  const cityPlan = await planOf(
    store,
    people.query().filter(Predicate.eq("profile.address.city", "Oslo")).orderBy("age").toSql(),
  );
  assert(cityPlan.includes("people_city_idx"), cityPlan);
});

testBoth("JSONB filters use the collection's GIN index (EXPLAIN)", async (store) => {
  const docs = store.docs("people");
  await docs.bulkInsert(
    Array.from({ length: 200 }, (_, i) => ({ id: crypto.randomUUID(), doc: person(i) })),
  );
  for (
    const p of [Predicate.contains("tags", ["odd"]), Predicate.eq("profile.address.city", "Lima")]
  ) {
    const plan = await planOf(store, docs.query().filter(p).toSql());
    assert(plan.includes("people_doc_gin"), plan);
  }
});

testBoth("sync is idempotent, and a changed field is rebuilt and backfilled", async (store) => {
  const people = store.docs<Person>("people");
  const id = crypto.randomUUID();
  await people.put(id, person(3));
  await store.schema.sync(config);
  await store.schema.sync(config);
  const changed = SchemaConfig.singleTenant().addDuplicatedField(
    "people",
    new DuplicatedField("age", "age", "numeric"),
  );
  await store.schema.sync(changed);
  const { executor, table } = contextOf(store);
  const [row] = await executor.query<{ t: string; age: string }>(
    `select pg_typeof(age)::text as t, age::text from ${table("people")} where id = $1`,
    [id],
  );
  assertEquals(row, { t: "numeric", age: "23" });
  assert((await store.schema.drift()).ok);
});

testBoth(
  "a backfill that cannot cast a value fails without marking the field ready",
  async (store) => {
    const people = store.docs("people");
    await people.put(crypto.randomUUID(), { age: "not a number" });
    const error = await assertRejects(() => store.schema.sync(config), RillflowError);
    assertEquals(error.code, "INVALID_INPUT");
    const text = people.query().filter(Predicate.eq("age", 3)).toSql().text;
    assert(!text.includes(`d."age"`), "queries keep the JSONB path while the field is pending");
  },
);

Deno.test("duplicated field definitions are validated", () => {
  assertThrows(() => new DuplicatedField("a", "Bad", "text"), TypeError, "column");
  assertThrows(() => new DuplicatedField("a", "doc", "text"), TypeError, "built-in");
  assertThrows(() => new DuplicatedField("a", "a", "varchar" as never), TypeError, "type");
  assertThrows(() => new DuplicatedField("a..b", "a", "text"), TypeError, "JSON path");
  for (
    const t of [
      "lower(x)",
      "lower({value}); drop table docs",
      "'{value}'",
      "{value} -- x",
      "a/*{value}*/",
    ]
  ) {
    assertThrows(
      () => new DuplicatedField("a", "a", "text").withTransform(t),
      TypeError,
      "transform",
    );
  }
  assertThrows(
    () =>
      SchemaConfig.singleTenant().addDuplicatedField("Bad", new DuplicatedField("a", "a", "text")),
    TypeError,
  );
  assertThrows(() => SchemaConfig.singleTenant().withSearchLanguage("docs", "x;y"), TypeError);
});
