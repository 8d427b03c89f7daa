import assert from "node:assert/strict";
import { isUniqueViolation, mapDatabaseError } from "./_pg_errors.ts";
import { RillflowError } from "../errors.ts";

const driverError = (fields: Record<string, string>) =>
  Object.assign(new Error(fields.message), fields);

Deno.test("SQLSTATEs map to typed codes with details", () => {
  const unique = mapDatabaseError(
    driverError({ code: "23505", message: "duplicate key", constraint_name: "docs_pkey" }),
  );
  assert.equal(unique.code, "DATABASE_ERROR");
  assert(isUniqueViolation(unique, "docs_pkey"));
  assert(!isUniqueViolation(unique, "other"));
  assert.equal(
    mapDatabaseError(driverError({ code: "40001", message: "x" })).code,
    "CONCURRENCY_CONFLICT",
  );
  assert.equal(
    mapDatabaseError(driverError({ code: "22P02", message: "x" })).code,
    "INVALID_INPUT",
  );
  const lost = mapDatabaseError(driverError({ code: "57P01", message: "terminating" }));
  assert.equal(lost.code, "CONNECTION_ERROR");
  assert(lost.retryable);
  assert.equal(
    mapDatabaseError(driverError({ code: "ECONNREFUSED", message: "x" })).code,
    "CONNECTION_ERROR",
  );
  assert.equal(
    mapDatabaseError(driverError({ code: "PGLITE_CONSTRAINT", message: "x", constraint: "c" }))
      .details.constraint,
    "c",
  );
});

Deno.test("typed errors pass through; caller bugs are rethrown as they are", () => {
  const typed = new RillflowError("LEASE_LOST", "deposed");
  assert.equal(mapDatabaseError(typed), typed);
  assert.throws(() => mapDatabaseError(new TypeError("bug")), TypeError);
  assert.equal(mapDatabaseError("weird").code, "DATABASE_ERROR");
});

Deno.test("a missing Rillflow relation or function names the migration; a user's own does not", () => {
  const missing = (code: string, message: string) =>
    mapDatabaseError(driverError({ code, message }));
  for (
    const [code, message] of [
      ["42P01", 'relation "app.events" does not exist'],
      ["42P01", 'relation "subscription_members" does not exist'],
      ["42883", "function public.rillflow_ensure_collection(unknown) does not exist"],
    ]
  ) {
    const error = missing(code!, message!);
    assert.equal(error.code, "DATABASE_ERROR");
    assert.equal(error.details.hint, "schema-sync");
    assert.match(error.message, /rillflow schema-sync/);
    assert.equal(error.retryable, false);
  }
  const own = missing("42P01", 'relation "order_totals" does not exist');
  assert.equal(own.details.hint, undefined);
  assert.match(own.message, /^Database error 42P01/);
});
