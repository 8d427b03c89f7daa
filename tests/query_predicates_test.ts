import { assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { testBoth } from "./_backends.ts";
import { type Documents, Predicate, type Store } from "../mod.ts";

type Person = {
  name: string;
  age?: number | string | null;
  tags?: string[];
  address?: { city: string; zip?: number };
  items?: Array<{ sku: string; qty: number }>;
  active?: boolean;
  joined?: string;
};

const PEOPLE: Person[] = [
  {
    name: "ada",
    age: 36,
    tags: ["math", "code"],
    address: { city: "London", zip: 1 },
    active: true,
    joined: "2020-01-05T00:00:00.000Z",
    items: [{ sku: "a", qty: 1 }],
  },
  {
    name: "bob",
    age: 9,
    tags: ["code"],
    address: { city: "Paris", zip: 20 },
    active: false,
    joined: "2021-06-01T12:00:00.000Z",
    items: [{ sku: "b", qty: 5 }],
  },
  {
    name: "cy",
    age: 100,
    tags: [],
    address: { city: "london" },
    active: true,
    joined: "2019-12-31T23:59:59.000Z",
  },
  { name: "dee", age: "40", address: { city: "Oslo", zip: 3 } },
  { name: "eve", age: null },
  { name: "fay" },
];

async function seed(store: Store): Promise<Documents<Person>> {
  const people = store.docs<Person>("people");
  await people.bulkInsert(PEOPLE.map((doc) => ({ id: crypto.randomUUID(), doc })));
  return people;
}

async function names(people: Documents<Person>, p: Predicate): Promise<string[]> {
  return (await people.query().filter(p).fetchAll()).map((d) => d.name).sort();
}

testBoth(
  "eq and ne on strings, numbers, booleans, null, nested paths and arrays",
  async (store) => {
    const people = await seed(store);
    assertEquals(await names(people, Predicate.eq("name", "bob")), ["bob"]);
    assertEquals(await names(people, Predicate.eq("age", 36)), ["ada"]);
    assertEquals(await names(people, Predicate.eq("age", 36.0)), ["ada"]);
    assertEquals(await names(people, Predicate.eq("age", "40")), ["dee"], "no cast between types");
    assertEquals(await names(people, Predicate.eq("active", false)), ["bob"]);
    assertEquals(await names(people, Predicate.eq("age", null)), ["eve", "fay"]);
    assertEquals(await names(people, Predicate.eq("address.city", "London")), ["ada"]);
    assertEquals(
      await names(people, Predicate.eq("tags", ["code"])),
      ["bob"],
      "arrays compare whole",
    );
    assertEquals(await names(people, Predicate.eq("address", { city: "london" })), ["cy"]);
    assertEquals(await names(people, Predicate.eq("items[0].qty", 5)), ["bob"]);
    assertEquals(await names(people, Predicate.eq("joined", new Date("2020-01-05T00:00:00Z"))), [
      "ada",
    ]);
    assertEquals(await names(people, Predicate.ne("active", true)), ["bob", "dee", "eve", "fay"]);
    assertEquals(await names(people, Predicate.ne("age", null)), ["ada", "bob", "cy", "dee"]);
  },
);

testBoth(
  "gt, ge, lt, le and between compare numbers as numbers, strings as strings",
  async (store) => {
    const people = await seed(store);
    assertEquals(
      await names(people, Predicate.gt("age", 10)),
      ["ada", "cy"],
      "100 > 10, '40' is not a number",
    );
    assertEquals(await names(people, Predicate.ge("age", 36)), ["ada", "cy"]);
    assertEquals(await names(people, Predicate.lt("age", 36)), ["bob"]);
    assertEquals(await names(people, Predicate.le("age", 36)), ["ada", "bob"]);
    assertEquals(await names(people, Predicate.between("age", 9, 36)), ["ada", "bob"]);
    assertEquals(await names(people, Predicate.gt("age", "35")), ["dee"], "string against strings");
    assertEquals(await names(people, Predicate.gt("name", "cy")), ["dee", "eve", "fay"]);
    assertEquals(await names(people, Predicate.lt("address.zip", 10)), ["ada", "dee"]);
    assertEquals(await names(people, Predicate.gt("joined", new Date("2020-01-01T00:00:00Z"))), [
      "ada",
      "bob",
    ]);
    assertEquals(await names(people, Predicate.gt("active", false)), ["ada", "cy"]);
    assertEquals(await names(people, Predicate.gt("items[0].qty", 1)), ["bob"]);
    assertThrows(() => Predicate.gt("age", null as never), TypeError);
    assertThrows(() => Predicate.gt("age", NaN), RangeError);
    assertThrows(() => Predicate.between("age", 1, "9"), TypeError);
  },
);

testBoth("in, contains, exists, regex and iregex", async (store) => {
  const people = await seed(store);
  assertEquals(await names(people, Predicate.in("name", ["ada", "eve", "zed"])), ["ada", "eve"]);
  assertEquals(await names(people, Predicate.in("age", [9, 100])), ["bob", "cy"]);
  assertEquals(await names(people, Predicate.in("age", [36, null])), ["ada", "eve", "fay"]);
  assertEquals(await names(people, Predicate.in("age", [])), []);
  assertEquals(await names(people, Predicate.contains("tags", ["code"])), ["ada", "bob"]);
  assertEquals(await names(people, Predicate.contains("tags", ["code", "math"])), ["ada"]);
  // A scalar: held by an array, or equal to a scalar field (found by the query fuzzer).
  assertEquals(await names(people, Predicate.contains("tags", "code")), ["ada", "bob"]);
  assertEquals(await names(people, Predicate.contains("name", "ada")), ["ada"]);
  assertEquals(await names(people, Predicate.contains("address", { zip: 20 })), ["bob"]);
  assertEquals(await names(people, Predicate.contains("items", [{ sku: "a" }])), ["ada"]);
  assertEquals(await names(people, Predicate.contains("items[0]", { qty: 5 })), ["bob"]);
  assertEquals(await names(people, Predicate.exists("age")), ["ada", "bob", "cy", "dee", "eve"]);
  assertEquals(await names(people, Predicate.exists("address.zip")), ["ada", "bob", "dee"]);
  assertEquals(await names(people, Predicate.regex("address.city", "^L")), ["ada"]);
  assertEquals(await names(people, Predicate.iregex("address.city", "^l")), ["ada", "cy"]);
  assertEquals(await names(people, Predicate.regex("age", "4")), ["dee"], "only strings match");
  const bad = await assertRejects(
    () => people.query().filter(Predicate.regex("name", "(")).fetchAll(),
    Error,
  );
  assertEquals((bad as { code?: string }).code, "INVALID_INPUT");
});

testBoth("and, or and not combine, and not is null-safe", async (store) => {
  const people = await seed(store);
  assertEquals(
    await names(people, Predicate.and(Predicate.eq("active", true), Predicate.gt("age", 50))),
    ["cy"],
  );
  assertEquals(
    await names(people, Predicate.or(Predicate.eq("name", "fay"), Predicate.lt("age", 10))),
    ["bob", "fay"],
  );
  assertEquals(await names(people, Predicate.not(Predicate.gt("age", 10))), [
    "bob",
    "dee",
    "eve",
    "fay",
  ]);
  assertEquals(await names(people, Predicate.and()), ["ada", "bob", "cy", "dee", "eve", "fay"]);
  assertEquals(await names(people, Predicate.or()), []);
  const chained = await people.query().filter(Predicate.exists("address")).filter(
    Predicate.eq("active", true),
  ).fetchAll();
  assertEquals(chained.map((p) => p.name).sort(), ["ada", "cy"]);
  assertThrows(() => Predicate.and({} as never), TypeError);
});

testBoth(
  "queries are immutable and inspectable; every value and path is a parameter",
  async (store) => {
    const people = await seed(store);
    const base = people.query();
    const filtered = base.filter(Predicate.eq("name", "ada")).orderBy("age", "desc").limit(3);
    assertEquals((await base.fetchAll()).length, 6, "the base query is unchanged");
    const { text, params } = filtered.toSql();
    assertEquals(params, ['{"name":"ada"}', ["age"], 3]);
    assertEquals(
      text.replace(/\s+/g, " "),
      `select d.doc as doc from "${
        (store as unknown as { schema: { schemaName: string } }).schema.schemaName
      }"."people" d where d.deleted_at is null and d.doc @> $1::jsonb order by d.doc #> $2::text[] desc, d.id asc limit $3`,
    );
  },
);
