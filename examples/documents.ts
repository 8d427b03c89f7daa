/**
 * The document store tour from README.md, runnable:
 * `deno run -A examples/documents.ts` (embedded database) or with DATABASE_URL.
 */
import {
  type CompiledQuery,
  type DocumentQuery,
  DuplicatedField,
  Predicate,
  RillflowError,
  SchemaConfig,
  Store,
} from "../mod.ts";

type Customer = {
  email: string;
  tier: "free" | "pro";
  age: number;
  profile?: { name?: string; age?: number };
  tags?: string[];
};

class ProCustomersOver implements CompiledQuery<Customer> {
  constructor(readonly minAge: number) {}
  configure(q: DocumentQuery<unknown>): DocumentQuery<Customer> {
    return (q as DocumentQuery<Customer>).filter(Predicate.eq("tier", "pro"))
      .filter(Predicate.gt("age", this.minAge)).orderBy("age", "desc");
  }
}

async function main(): Promise<void> {
  await using store = await Store.connect(Deno.env.get("DATABASE_URL") ?? "pglite://memory", {
    autoMigrate: true,
  });

  // Versioned CRUD and patches.
  const customers = store.docs<Customer>("customers"); // table created on first use
  const id = crypto.randomUUID();
  const v1 = await customers.put(id, { email: "ada@example.com", tier: "free", age: 36 });
  const v2 = await customers.update(id, v1, (c) => void (c.tier = "pro"));
  const v3 = await customers.patch(id, v2, "profile.name", "Ada"); // keeps profile's siblings
  await customers.patchFields(id, v3, [["profile.age", 36], ["tags", ["vip"]]]);
  await customers.increment(id, null, "age", 1);
  console.log(await customers.get(id));
  try {
    await customers.put(id, { email: "stale@example.com", tier: "free", age: 1 }, v1);
  } catch (error) {
    if (error instanceof RillflowError) console.log(error.code); // DOCUMENT_VERSION_CONFLICT
  }

  // Bulk load (COPY), then queries.
  await customers.bulkInsert(Array.from({ length: 100 }, (_, i) => ({
    id: crypto.randomUUID(),
    doc: { email: `user${i}@example.com`, tier: i % 3 ? "free" : "pro", age: 18 + (i % 60) },
  })));
  const page = await customers.query()
    .filter(Predicate.eq("tier", "pro")).filter(Predicate.gt("age", 25))
    .orderBy("age", "desc").page(1, 5).fetchAll();
  console.log(page.map((c) => c.age));
  console.log(await customers.query().filter(Predicate.contains("tags", ["vip"])).count());
  console.log(customers.query().filter(Predicate.eq("tier", "pro")).toSql().text);

  // Duplicated fields: a typed, indexed column kept in sync; queries use it.
  await store.schema.sync(
    SchemaConfig.singleTenant()
      .addDuplicatedField("customers", new DuplicatedField("age", "age", "integer"))
      .addDuplicatedField(
        "customers",
        new DuplicatedField("email", "email", "text").withTransform("lower({value})"),
      ),
  );
  console.log(await customers.query().filter(Predicate.eq("email", "ADA@example.com")).count()); // 1

  // Compiled queries: SQL built once per class.
  console.log((await customers.executeCompiled(new ProCustomersOver(70))).length);

  // Full-text search, ranked.
  const notes = store.docs<{ title: string; body: string }>("notes");
  await notes.put(crypto.randomUUID(), { title: "Trail", body: "Running shoes for trails" });
  console.log(await notes.query().search("run", { language: "english" }).fetchAll());

  // Session: identity map, one transaction.
  const session = store.session({ user: "support-7" });
  const loaded = (await session.load<Customer>("customers", id))!;
  loaded.tier = "free";
  session.store("customers", id, loaded);
  session.store("notes", crypto.randomUUID(), { title: "Downgrade", body: `customer ${id}` });
  await session.saveChanges();
  console.log((await customers.getWithMetadata(id))?.metadata.lastModifiedBy); // support-7
}

if (import.meta.main) await main();
