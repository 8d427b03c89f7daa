/**
 * The TCP sockets postgres.js connects through: with Nagle's algorithm off,
 * and with a connect timeout of our own.
 *
 * postgres.js 3.4 leaves Nagle's algorithm on. Whenever it writes twice
 * without a reply in between (COPY's data and its end, then the `CopyFail` it
 * sends when its stream is destroyed), the kernel holds the second write until
 * the server's delayed ACK, ≈ 40 ms each: a 10-row COPY in a transaction took
 * 88 ms, and takes 1.5 ms with Nagle off (docs/documents.md). postgres.js's
 * own connect timeout does not fire for an unreachable host under Deno, so
 * ours does. And with sockets it did not open itself, postgres.js fails the
 * waiting statement when the server hangs up during startup, where it
 * otherwise reconnected without end and the statement never settled (a
 * balancer in front of a server that went away; tests/connect_failures_test.ts).
 *
 * A connection attempt that fails must still hand postgres.js a socket: when
 * a socket factory rejects, postgres.js 3.4 fails the waiting statement but
 * leaves that pool slot "connecting" for good, and once every slot is lost so,
 * statements wait forever (tests/faults/cut_fault.ts found it). The stand-in
 * ({@linkcode failedSocket}) fails as a socket that never connected does,
 * `error` then `close`, which returns the slot to the pool.
 *
 * @module
 */
import net from "node:net";
import { Duplex } from "node:stream";

/** What postgres.js passes to a socket factory (its parsed options). */
interface SocketTarget {
  host: string[];
  port: number[];
  path?: string | false;
}

function connectOne(
  target: { path?: string; host?: string; port?: number },
  timeoutMs: number,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = target.path
      ? net.connect(target.path)
      : net.connect(target.port ?? 5432, target.host ?? "localhost");
    let settled = false;
    // Kept until the socket connects: Deno's socket can report a failed connect more than once,
    // and an `error` nobody listens to would end the process.
    const failed = (error: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(
      () => failed(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("error", failed);
    socket.once("connect", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off("error", failed);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/**
 * A stand-in for a socket that could not connect. postgres.js writes its
 * startup message into it from a deferred write; only after that write has
 * returned does the stand-in fail, with `error` and then `close`. Failing
 * earlier would cancel that deferred write in a way that leaves postgres.js
 * unable to schedule another on this pool slot (its write timer is cleared but
 * not reset).
 *
 * @param error Why no host accepted the connection.
 * @returns The stand-in.
 */
export function failedSocket(error: Error): Duplex {
  let failed = false;
  const fail = () => {
    if (failed) return;
    failed = true;
    clearTimeout(unused);
    socket.destroy(error);
  };
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
      queueMicrotask(fail);
    },
  });
  // Should postgres.js never write (it always does), fail anyway.
  const unused = setTimeout(fail, 1_000);
  return socket;
}

/**
 * A postgres.js `socket` factory: tries each host of the URL in turn, as
 * postgres.js itself would, and resolves with the first socket that connects,
 * or with a {@linkcode failedSocket} carrying the last host's error.
 *
 * @param timeoutMs How long one host may take to accept the connection.
 * @returns The factory.
 */
export function noDelaySocket(
  timeoutMs: number,
): (options: SocketTarget) => Promise<net.Socket | Duplex> {
  return async (options) => {
    const targets = options.path
      ? [{ path: options.path }]
      : options.host.map((host, i) => ({ host, port: options.port[i] ?? options.port[0] }));
    let lastError: unknown;
    for (const target of targets) {
      try {
        return await connectOne(target, timeoutMs);
      } catch (error) {
        lastError = error;
      }
    }
    return failedSocket(lastError instanceof Error ? lastError : new Error(String(lastError)));
  };
}
