/**
 * A TCP proxy in front of the test server that a test can cut and restore,
 * to make the database "go away" for one store without touching the shared
 * server.
 */

/** A cuttable TCP proxy. */
export class TcpProxy {
  #listener: Deno.Listener | null = null;
  readonly #connections = new Set<Deno.Conn>();
  #port = 0;
  #hangingUp = false;

  private constructor(readonly target: { hostname: string; port: number }) {}

  /** Starts a proxy to the server of `url` on a free local port. */
  static async start(url: string): Promise<TcpProxy> {
    const parsed = new URL(url);
    const proxy = new TcpProxy({
      hostname: parsed.hostname || "127.0.0.1",
      port: Number(parsed.port || "5432"),
    });
    await proxy.restore();
    return proxy;
  }

  /** `url` with host and port replaced by the proxy's. */
  url(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = "127.0.0.1";
    parsed.port = String(this.#port);
    return parsed.href;
  }

  /** Closes every connection and refuses new ones. */
  cut(): void {
    this.#listener?.close();
    this.#listener = null;
    this.#closeAll();
  }

  /**
   * Closes every connection, then accepts new ones only to close them at once
   * (a balancer in front of a server that went away).
   */
  hangUp(): void {
    this.#hangingUp = true;
    this.#closeAll();
  }

  #closeAll(): void {
    for (const conn of this.#connections) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    this.#connections.clear();
  }

  /** Accepts connections again, on the same port (and serves them again after `hangUp`). */
  restore(): Promise<void> {
    this.#hangingUp = false;
    if (this.#listener) return Promise.resolve();
    const listener = Deno.listen({ hostname: "127.0.0.1", port: this.#port });
    this.#port = (listener.addr as Deno.NetAddr).port;
    this.#listener = listener;
    (async () => {
      try {
        for await (const client of listener) this.#pipe(client);
      } catch { /* listener closed */ }
    })();
    return Promise.resolve();
  }

  async #pipe(client: Deno.Conn): Promise<void> {
    this.#connections.add(client);
    if (this.#hangingUp) {
      this.#connections.delete(client);
      client.close();
      return;
    }
    let server: Deno.Conn;
    try {
      server = await Deno.connect(this.target);
    } catch {
      client.close();
      return;
    }
    this.#connections.add(server);
    const close = () => {
      for (const conn of [client, server]) {
        this.#connections.delete(conn);
        try {
          conn.close();
        } catch { /* already closed */ }
      }
    };
    // Either direction ending (or failing) ends the pair.
    await Promise.race([
      client.readable.pipeTo(server.writable, { preventClose: true }),
      server.readable.pipeTo(client.writable, { preventClose: true }),
    ]).catch(() => {}).finally(close);
  }

  /** Stops the proxy. */
  close(): void {
    this.cut();
  }
}
