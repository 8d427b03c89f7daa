import assert from "node:assert/strict";
import { type CatalogSnapshot, diffCatalogs } from "./catalog.ts";

const snapshot = (
  tables: Record<string, Record<string, string>>,
  indexes: Record<string, string>,
): CatalogSnapshot => ({
  tables: new Map(Object.entries(tables).map(([t, c]) => [t, new Map(Object.entries(c))])),
  indexes: new Map(Object.entries(indexes)),
});

Deno.test("catalog diff reports missing, extra and altered objects of migration tables only", () => {
  const expected = snapshot(
    { docs: { id: "uuid not null", doc: "jsonb not null" }, events: { seq: "bigint not null" } },
    { docs_pkey: "CREATE UNIQUE INDEX docs_pkey ON docs USING btree (id)" },
  );
  const actual = snapshot(
    { docs: { id: "uuid not null", doc: "jsonb", extra: "text" }, orders: { id: "uuid" } },
    {
      docs_extra: "CREATE INDEX docs_extra ON docs USING btree (extra)",
      orders_pkey: "CREATE INDEX orders_pkey ON orders USING btree (id)",
    },
  );
  const found = diffCatalogs(expected, actual).map((d) => `${d.kind} ${d.object}`).sort();
  assert.deepEqual(found, [
    "column-type docs.doc",
    "extra-column docs.extra",
    "extra-index docs_extra",
    "missing-index docs_pkey",
    "missing-table events",
  ]);
  const ignored = diffCatalogs(expected, actual, new Set(["docs.extra", "docs_extra"]));
  assert.deepEqual(ignored.map((d) => d.kind).sort(), [
    "column-type",
    "missing-index",
    "missing-table",
  ]);
});
