/**
 * Pins the SQL text of every append statement variant (docs/internals/append.md):
 * a change to a statement shows in review as a change to
 * `tests/snapshots/append_sql.snap`. After an intended change, rewrite the snapshot with
 * `UPDATE_SNAPSHOTS=1 deno test -A tests/append_sql_test.ts` and read the diff.
 * (ordering_test.ts runs every variant against PostgreSQL.)
 */
import { assertEquals } from "./_assert.ts";
import { StoreContext, type StoreSettings } from "../src/_context.ts";
import type { Executor } from "../src/db/executor.ts";
import { APPEND_SHAPES, buildAppendSql } from "../src/events/append_sql.ts";

const SNAPSHOT = new URL("./snapshots/append_sql.snap", import.meta.url);

function rendered(tenant: string | null): string {
  // Building a statement reads only the schema, the tenant and table names.
  const context = new StoreContext({} as Executor, "app", {} as StoreSettings, tenant);
  return APPEND_SHAPES.map((shape) => {
    const { text, names } = buildAppendSql(context, shape);
    const flags = Object.entries(shape).map(([k, v]) => `${k}=${v}`).join(" ");
    return `-- ${flags}\n-- binds: ${names.join(", ")}\n${text};\n`;
  }).join("\n");
}

Deno.test("every append statement variant is pinned", async () => {
  const actual = rendered(null);
  if (Deno.env.get("UPDATE_SNAPSHOTS") === "1") await Deno.writeTextFile(SNAPSHOT, actual);
  assertEquals(actual, await Deno.readTextFile(SNAPSHOT));
});

Deno.test("a tenant's statements differ only in the tenant literal", () => {
  assertEquals(rendered("acme").replaceAll("'acme'::text", "null::text"), rendered(null));
});
