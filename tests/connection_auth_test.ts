/**
 * The connection path production runs: a server URL with a password. In CI
 * that is the SCRAM-SHA-256 role `.ci/scram.sh` creates, so these tests (and
 * every other integration test) authenticate the way a deployed store does.
 */
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema } from "./_backends.ts";
import { event, Expected, RillflowError, Store } from "../mod.ts";

// With CI=true and no URL, importing ./_backends.ts already fails the run.
const url = Deno.env.get("RILLFLOW_TEST_DATABASE_URL");

/** Whether a server URL carries a password ("password URL") or not ("trust URL"). */
function hasPassword(serverUrl: string): boolean {
  try {
    return new URL(serverUrl).password !== "";
  } catch {
    return false;
  }
}

if (!url) {
  console.warn(
    "connection_auth_test: RILLFLOW_TEST_DATABASE_URL is not set; the connection tests need " +
      "a PostgreSQL server and are ignored.",
  );
}

const withPassword = !!url && hasPassword(url);

Deno.test({
  name: url
    ? `Store.connect with the ${withPassword ? "password" : "trust"} URL appends and reads back ` +
      "[postgres]"
    : "Store.connect with a server URL appends and reads back (ignored: no server URL)",
  ignore: !url,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const store = await Store.connect(url!, { schema: freshSchema("auth"), autoMigrate: true });
    try {
      const streamId = crypto.randomUUID();
      const appended = await store.events.append(streamId, Expected.noStream, [
        event("Registered", { name: "Ada" }),
        event("Renamed", { name: "Ada L." }),
      ]);
      assertEquals(appended.streamVersion, 2);
      const read = await store.events.readStream(streamId);
      assertEquals(read.map((e) => [e.type, e.data]), [
        ["Registered", { name: "Ada" }],
        ["Renamed", { name: "Ada L." }],
      ]);
    } finally {
      await dropSchemaAndClose(store);
    }
  },
});

Deno.test({
  name: withPassword
    ? "a wrong password is a CONNECTION_ERROR naming host and database, not the password " +
      "[postgres, password URL]"
    : `a wrong password is a CONNECTION_ERROR (ignored: ${
      url ? "the configured URL has no password" : "no server URL"
    })`,
  ignore: !withPassword,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const right = new URL(url!);
    const wrong = new URL(url!);
    wrong.password = `wrong-${crypto.randomUUID().slice(0, 8)}`;
    const error = await assertRejects(
      () => Store.connect(wrong.href, { connectTimeoutMs: 5000 }),
      RillflowError,
    );
    assertEquals(error.code, "CONNECTION_ERROR");
    const database = decodeURIComponent(right.pathname.slice(1));
    assert(error.message.includes(right.hostname), error.message);
    assert(error.message.includes(`"${database}"`), error.message);
    for (const secret of [wrong.password, right.password]) {
      assert(!error.message.includes(secret), "the message contains a password");
      assert(!error.message.includes(decodeURIComponent(secret)), "the message has a password");
    }
  },
});
