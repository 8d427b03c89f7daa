import assert from "node:assert/strict";
import * as mod from "./mod.ts";

// The public runtime surface is deliberate: changing it is a conscious act, recorded in
// CHANGELOG.md. (Type-only exports are checked by `deno doc --lint mod.ts`.)
Deno.test("mod.ts exports exactly the public runtime names", () => {
  assert.deepEqual(Object.keys(mod).sort(), [
    "AggregateRepository",
    "DUPLICATED_FIELD_TYPES",
    "DuplicatedField",
    "ERROR_CODES",
    "EventSchemas",
    "Expected",
    "Predicate",
    "RillflowError",
    "SchemaConfig",
    "Snapshotter",
    "Store",
    "TENANT_NAME_PATTERN",
    "UpcasterRegistry",
    "defineConfig",
    "defineUpcaster",
    "event",
    "eventsChannel",
    "healthHandler",
    "isRillflowError",
    "metricsRegistry",
    "multiStreamProjection",
    "runAllTenants",
    "viewProjection",
    "whileServingHealth",
  ]);
});
