import { assert, assertEquals } from "./_assert.ts";
import { dropSchemaAndClose, freshSchema, testServer } from "./_backends.ts";
import { waitFor } from "./_wait.ts";
import { TcpProxy } from "./_tcp_proxy.ts";
import { event, Expected, Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { NotifyListener } from "../src/db/notify_listener.ts";

const channel = () => `rf_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;

testServer("a listener whose connection is killed listens again and wakes", async (url) => {
  const store = await Store.connect(url);
  const { executor } = contextOf(store);
  const name = channel();
  let wakes = 0;
  const listener = await NotifyListener.start(executor, {
    channel: name,
    accept: (payload) => payload === "mine",
    onWake: () => wakes++,
  });
  try {
    await executor.query("select pg_notify($1, 'theirs'), pg_notify($1, 'mine')", [name]);
    await waitFor("the notification", () => wakes === 1);
    const [backend] = await executor.query<{ pid: number }>(
      "select pid from pg_stat_activity where query = $1",
      [`listen "${name}"`],
    );
    assert(backend, "the listening backend is visible");
    await executor.query("select pg_terminate_backend($1)", [backend.pid]);
    await waitFor("the listener to reconnect", () => listener.reconnects === 1);
    assertEquals(wakes, 2, "reconnecting wakes the worker to catch up");
    await executor.query("select pg_notify($1, 'mine')", [name]);
    await waitFor("a notification after the reconnect", () => wakes === 3);
    assert(listener.listening);
  } finally {
    await listener.close();
    await store.close();
  }
});

testServer("a listener survives the database going away and coming back", async (url) => {
  const proxy = await TcpProxy.start(url);
  const store = await Store.connect(proxy.url(url), { connectTimeoutMs: 2_000 });
  const direct = await Store.connect(url);
  const { executor } = contextOf(store);
  const name = channel();
  let wakes = 0;
  const listener = await NotifyListener.start(executor, {
    channel: name,
    accept: (payload) => payload === "mine",
    onWake: () => wakes++,
    probeIntervalMs: 50,
    probeTimeoutMs: 100,
  });
  try {
    proxy.cut();
    await waitFor("the watchdog to notice", async () => {
      await listener.check();
      return !listener.listening;
    });
    await proxy.restore();
    await waitFor("listening again", async () => {
      await listener.check();
      return listener.listening && listener.reconnects > 0;
    });
    const before = wakes;
    await contextOf(direct).executor.query("select pg_notify($1, 'mine')", [name]);
    await waitFor("a notification after the outage", () => wakes > before);
  } finally {
    await listener.close();
    proxy.close();
    await direct.close();
    await store.close();
  }
});

testServer(
  "a daemon whose connections are cut is woken by NOTIFY again, not by its poll",
  async (url) => {
    const proxy = await TcpProxy.start(url);
    const schema = freshSchema();
    const setup = await Store.connect(url, { schema, autoMigrate: true });
    const store = await Store.connect(proxy.url(url), { schema, connectTimeoutMs: 2_000 });
    const applied: number[] = [];
    // A poll interval far beyond the test: whatever applies the events below was woken by NOTIFY
    // (or, once, by the listener's reconnect, which wakes the daemon to catch up).
    const daemon = store.projections({ pollIntervalMs: 600_000 }).register("woken", {
      eventTypes: ["Ping"],
      apply: (envelope) => Promise.resolve(void applied.push(envelope.globalSeq)),
    });
    const stop = new AbortController();
    const running = daemon.run({ signal: stop.signal, useNotify: true });
    const appendAndWait = async (what: string) => {
      const [seq] = (await setup.events.append(crypto.randomUUID(), Expected.any, [
        event("Ping", {}),
      ])).globalSeqs;
      await waitFor(what, () => applied.includes(seq!));
    };
    try {
      await waitFor("the daemon to listen", () => daemon.notifyState === "listening");
      await appendAndWait("an event applied by NOTIFY");
      proxy.cut();
      // The port is free again once the closed listener has let go of it.
      await waitFor("the proxy to accept again", async () => (await proxy.restore(), true));
      // The first event after the cut may be applied by the reconnect's own wake-up; the second,
      // appended after that, only by a NOTIFY on the new LISTEN connection.
      await appendAndWait("the first event after the cut");
      await appendAndWait("the second event after the cut");
      assertEquals(daemon.notifyState, "listening");
    } finally {
      stop.abort();
      await running;
      proxy.close();
      await store.close();
      await dropSchemaAndClose(setup);
    }
  },
);
