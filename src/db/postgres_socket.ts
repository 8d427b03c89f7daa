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
 * @module
 */
import net from "node:net";

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
    const failed = (error: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(
      () => failed(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once("error", failed);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.off("error", failed);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/**
 * A postgres.js `socket` factory: tries each host of the URL in turn, as
 * postgres.js itself would, and resolves with the first socket that connects.
 *
 * @param timeoutMs How long one host may take to accept the connection.
 * @returns The factory.
 */
export function noDelaySocket(timeoutMs: number): (options: SocketTarget) => Promise<net.Socket> {
  return async (options) => {
    if (options.path) return await connectOne({ path: options.path }, timeoutMs);
    let lastError: unknown;
    for (let i = 0; i < options.host.length; i++) {
      try {
        return await connectOne(
          { host: options.host[i], port: options.port[i] ?? options.port[0] },
          timeoutMs,
        );
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  };
}
