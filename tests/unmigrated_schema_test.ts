/**
 * A store on a schema that was never migrated says how to fix it (issue #17):
 * the error names `rillflow schema-sync` and `autoMigrate`, not a missing
 * function or relation alone.
 */
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, testBoth } from "./_backends.ts";
import { event, Expected, RillflowError } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { RILLFLOW_RELATIONS } from "../src/db/_pg_errors.ts";

Deno.test("the relations the errors recognise are the ones the migrations create", async () => {
  const created = new Set<string>(["rillflow_migrations"]);
  for await (const entry of Deno.readDir(new URL("../sql/", import.meta.url))) {
    if (entry.name.endsWith(".down.sql")) continue;
    const text = await Deno.readTextFile(new URL(`../sql/${entry.name}`, import.meta.url));
    for (
      const [, name] of text.matchAll(
        /create (?:table|sequence) (?:if not exists )?(?!if\b)([a-z_]+)/gi,
      )
    ) {
      created.add(name!.toLowerCase());
    }
  }
  assertEquals([...RILLFLOW_RELATIONS].sort(), [...created].sort());
});

testBoth("a store on a schema that was never migrated names the fix", async (migrated, backend) => {
  // Another schema of the same database, created but never migrated.
  const schema = freshSchema("bare");
  await contextOf(migrated).executor.query(`create schema "${schema}"`);
  const store = await backend.open({ schema, autoMigrate: false });
  try {
    for (
      const attempt of [
        () => store.events.append(crypto.randomUUID(), Expected.any, [event("E", {})]),
        () => store.docs("customers").put(crypto.randomUUID(), { a: 1 }),
        () => store.events.readAll(),
      ]
    ) {
      const error = await assertRejects(attempt, RillflowError);
      assertEquals(error.code, "DATABASE_ERROR");
      assert(error.message.includes("rillflow schema-sync"), error.message);
      assert(error.message.includes("autoMigrate"), error.message);
      assertEquals(error.details.hint, "schema-sync");
    }
  } finally {
    await dropSchemaAndClose(store);
  }
});
