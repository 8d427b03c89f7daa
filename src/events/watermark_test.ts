import assert from "node:assert/strict";
import { lockNamespace } from "./watermark.ts";

Deno.test("lock namespaces are stable, in range and differ between schemas", () => {
  const names = ["public", "tenant_acme", "tenant_globex", "t_1", "t_2"];
  const spaces = names.map(lockNamespace);
  for (const n of spaces) assert(Number.isInteger(n) && n >= 1 && n <= 32767);
  assert.deepEqual(names.map(lockNamespace), spaces);
  assert.equal(new Set(spaces).size, names.length);
});
