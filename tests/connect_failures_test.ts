/**
 * A failed connect is reported once, as a typed error, and leaves nothing
 * behind that could end the process later (issue #24): no unhandled
 * rejection, no timer, no socket. Deno's test sanitizers fail a test that
 * leaks any of them, and an uncaught error fails the run.
 */
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { event, Expected, RillflowError, Store } from "../mod.ts";
import { dropSchemaAndClose, freshSchema, testServer } from "./_backends.ts";
import { TcpProxy } from "./_tcp_proxy.ts";
import { contextOf } from "../src/_context.ts";

/** A local port whose connections are accepted, then handled by `onConn` (no PostgreSQL). */
function fakeServer(onConn: (conn: Deno.Conn) => void) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.push(conn);
        onConn(conn);
      }
    } catch { /* closed */ }
  })();
  return {
    url: `postgres://postgres@127.0.0.1:${(listener.addr as Deno.NetAddr).port}/test`,
    async close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed by the client */ }
      }
      await accepting;
    },
  };
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("a server that accepts and never answers: CONNECTION_ERROR within the timeout, nothing left behind", async () => {
  const server = fakeServer(() => {});
  try {
    const started = performance.now();
    const error = await assertRejects(
      () => Store.connect(server.url, { connectTimeoutMs: 300 }),
      RillflowError,
    );
    assertEquals(error.code, "CONNECTION_ERROR");
    assert(error.message.includes("no answer within 300 ms"), error.message);
    assert(performance.now() - started < 2_000, "reported within the timeout");
    // Whatever the driver still had in flight settles here, after the caller caught the error.
    await settle(1_000);
  } finally {
    await server.close();
  }
});

Deno.test("a server that hangs up at once: CONNECTION_ERROR, nothing left behind", async () => {
  const server = fakeServer((conn) => conn.close());
  try {
    const error = await assertRejects(
      () => Store.connect(server.url, { connectTimeoutMs: 2_000 }),
      RillflowError,
    );
    assertEquals(error.code, "CONNECTION_ERROR");
    await settle(500);
  } finally {
    await server.close();
  }
});

Deno.test("nothing listens on the port: CONNECTION_ERROR, nothing left behind", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const error = await assertRejects(
    () => Store.connect(`postgres://postgres@127.0.0.1:${port}/test`, { connectTimeoutMs: 1_000 }),
    RillflowError,
  );
  assertEquals(error.code, "CONNECTION_ERROR");
  assert(error.message.includes(`127.0.0.1:${port}`), error.message);
  await settle(300);
});

testServer(
  "an append while the server hangs up on every connection fails with CONNECTION_ERROR, and works again after",
  async (url) => {
    const proxy = await TcpProxy.start(url);
    const schema = freshSchema();
    const setup = await Store.connect(url, { schema, autoMigrate: true });
    const store = await Store.connect(proxy.url(url), {
      schema,
      connectTimeoutMs: 1_000,
      maxConnections: 2,
    });
    const stream = crypto.randomUUID();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await store.events.append(stream, Expected.noStream, [event("Before", {})]);
      proxy.hangUp();
      const hung = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("the append did not settle within 10 s")),
          10_000,
        );
      });
      const error = await Promise.race([
        assertRejects(
          () => store.events.append(stream, Expected.exact(1), [event("During", {})]),
          RillflowError,
        ),
        hung,
      ]);
      assertEquals(error.code, "CONNECTION_ERROR");
      assert(error.retryable, "a lost server is worth retrying");
      await proxy.restore();
      // The same append, retried, lands exactly once.
      for (let attempt = 0;; attempt++) {
        try {
          await store.events.append(stream, Expected.exact(1), [event("During", {})]);
          break;
        } catch (retry) {
          if (attempt > 50 || !(retry instanceof RillflowError) || !retry.retryable) throw retry;
          await settle(100);
        }
      }
      assertEquals((await setup.events.readStream(stream)).map((e) => e.type), [
        "Before",
        "During",
      ]);
    } finally {
      clearTimeout(timer);
      proxy.close();
      await store.close();
      await dropSchemaAndClose(setup);
    }
  },
);

testServer(
  "a transaction whose connection is cut while its callback waits fails with CONNECTION_ERROR, and nothing is written to the dead connection",
  async (url) => {
    // postgres.js 3.4 writes a transaction's COMMIT or ROLLBACK even when its connection has
    // closed; the write is deferred to a timer, which then throws on the closed socket and ends
    // the process. The store must not let a callback settle the transaction after the loss.
    const proxy = await TcpProxy.start(url);
    const store = await Store.connect(proxy.url(url), {
      connectTimeoutMs: 1_000,
      maxConnections: 2,
    });
    const { executor } = contextOf(store);
    try {
      for (const settleAs of ["return", "throw", "savepoint"] as const) {
        const error = await assertRejects(
          () =>
            executor.transaction(async (tx) => {
              await tx.query("select 1");
              if (settleAs === "savepoint") {
                return await tx.savepoint(async (inner) => {
                  await inner.query("select 2");
                  proxy.cut();
                  await settle(200);
                  return "done";
                });
              }
              proxy.cut();
              await settle(200);
              if (settleAs === "throw") throw new Error("the callback's own failure");
              return "done";
            }),
          RillflowError,
        );
        assertEquals(error.code, "CONNECTION_ERROR");
        assert(error.retryable, "a lost connection is worth retrying");
        // A write on the dead connection would throw from the driver's timer within this wait.
        await settle(300);
        await proxy.restore();
      }
      assertEquals(await executor.query<{ one: number }>("select 1 as one"), [{ one: 1 }]);
    } finally {
      proxy.close();
      await store.close();
    }
  },
);
