import assert from "node:assert/strict";
import { ident, joinSql, sql, trusted } from "./sql.ts";
import { IDENTIFIER_PATTERN, qualify, quoteIdent, validateIdentifier } from "./identifiers.ts";

Deno.test("sql binds every value as a numbered parameter", () => {
  const email = "'; drop table docs; --";
  const q = sql`select * from ${ident("docs")} where doc->>'email' = ${email} and n > ${3}`
    .compile();
  assert.equal(q.text, `select * from "docs" where doc->>'email' = $1 and n > $2`);
  assert.deepEqual(q.params, [email, 3]);
});

Deno.test("nested fragments and joins renumber parameters", () => {
  const conditions = [sql`a = ${1}`, sql`b = ${"x"}`, sql`c ${trusted("is null")}`];
  const q = sql`select 1 where ${joinSql(conditions, " and ")} limit ${10}`.compile();
  assert.equal(q.text, "select 1 where a = $1 and b = $2 and c is null limit $3");
  assert.deepEqual(q.params, [1, "x", 10]);
  assert.deepEqual(joinSql([]).compile(), { text: "", params: [] });
});

Deno.test("identifiers are validated against the rule and quoted", () => {
  assert.equal(quoteIdent("orders_2"), `"orders_2"`);
  assert.equal(qualify("tenant_a", "events"), `"tenant_a"."events"`);
  for (
    const bad of [`"; drop table x; --`, "Orders", "9lives", "a b", "", "é", "x".repeat(64), 3]
  ) {
    assert.throws(() => validateIdentifier(bad, "collection"), (error: unknown) => {
      assert(error instanceof TypeError);
      assert(error.message.includes("Invalid collection name"));
      assert(error.message.includes(String(IDENTIFIER_PATTERN)));
      return true;
    });
  }
  assert.throws(() => ident("bad-name"), TypeError);
});
