/**
 * Health and metrics over HTTP: a web-standard `(req: Request) => Response`
 * handler ({@linkcode healthHandler}), served with `Deno.serve` by
 * `rillflow projections run-loop --health-bind` ({@linkcode whileServingHealth})
 * or by a program of yours.
 *
 * - `GET /` — JSON health: status, database, projections with lag and state.
 * - `GET /health/live` — 200 while the process runs.
 * - `GET /health/ready` — 200 when the database answers, else 503.
 * - `GET /metrics` — Prometheus text format.
 *
 * @module
 */
import { contextOf, type StoreContext, type StoreRef } from "../_context.ts";
import type { ProjectionDaemon } from "../projections/daemon.ts";
import type { ProjectionStatus } from "../projections/admin.ts";
import { metricsRegistry, setConnectionGauges } from "../telemetry/metrics.ts";

/** Options of {@linkcode healthHandler}. */
export interface HealthHandlerOptions {
  /** The daemon whose projections to report (all projections of the schema are listed). */
  daemon?: ProjectionDaemon;
  /**
   * The running daemons by tenant (the all-tenants runner): `/` then lists each tenant's
   * projections under `tenants`, and `/metrics` refreshes every tenant's gauges.
   */
  tenantDaemons?: () => ReadonlyMap<string, ProjectionDaemon>;
  /** How long the database may take to answer before it counts as unreachable (default 2 000 ms). */
  readyTimeoutMs?: number;
}

/** Where to serve. */
export interface HealthServeOptions {
  /** The interface (default `0.0.0.0`). */
  hostname?: string;
  /** The port; 0 picks a free one (see `onListen`). */
  port: number;
  /** Called with the bound address once listening. */
  onListen?: (address: { hostname: string; port: number }) => void;
}

const started = Date.now();

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });

const text = (body: string, status = 200) =>
  new Response(body + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });

const describeProjection = (p: ProjectionStatus) => ({
  name: p.name,
  state: p.state,
  checkpoint: p.checkpoint,
  head: p.head,
  lag: p.lag,
  deadLetters: p.deadLetters,
  leaseOwner: p.leaseOwner,
  lastError: p.lastError,
});

const describeDaemon = (daemon: ProjectionDaemon) => ({
  node: daemon.node,
  notify: daemon.notifyState,
});

/**
 * Builds the handler for a store context (the daemon uses its own context).
 *
 * @param context The store context.
 * @param options The daemon to report and the readiness timeout.
 * @returns The handler.
 */
export function createHealthHandler(
  context: StoreContext,
  options: HealthHandlerOptions = {},
): (request: Request) => Promise<Response> {
  const timeoutMs = options.readyTimeoutMs ?? 2_000;
  const ping = async (): Promise<{ ok: boolean; latencyMs: number; error?: string }> => {
    const start = performance.now();
    try {
      await withTimeout(context.executor.query("select 1"), timeoutMs, "The database");
      return { ok: true, latencyMs: Math.round((performance.now() - start) * 10) / 10 };
    } catch (error) {
      return {
        ok: false,
        latencyMs: Math.round(performance.now() - start),
        error: error instanceof Error ? error.message : String(error),
      };
    }
  };
  const projections = (): Promise<ProjectionStatus[]> =>
    options.daemon
      ? withTimeout(options.daemon.list(), timeoutMs, "The projection status query")
      : Promise.resolve([]);
  const tenantProjections = () =>
    Promise.all(
      [...(options.tenantDaemons?.() ?? [])].map(async ([tenant, daemon]) => ({
        tenant,
        daemon: describeDaemon(daemon),
        // One tenant failing (dropped meanwhile) leaves the others listed.
        projections: await withTimeout(daemon.list(), timeoutMs, "The projection status query")
          .then((list) => list.map(describeProjection), () => []),
      })),
    );

  const health = async () => {
    const database = await ping();
    const list = database.ok ? await projections().catch(() => []) : [];
    const tenants = database.ok && options.tenantDaemons
      ? await tenantProjections().catch(() => [])
      : [];
    const degraded = [...list.map(describeProjection), ...tenants.flatMap((t) => t.projections)]
      .some((p) => p.state === "backoff" || p.deadLetters > 0);
    const status = !database.ok ? "unavailable" : degraded ? "degraded" : "ok";
    return json({
      status,
      database: { url: context.executor.description, schema: context.schema, ...database },
      projections: list.map(describeProjection),
      ...(options.daemon ? { daemon: describeDaemon(options.daemon) } : {}),
      ...(options.tenantDaemons ? { tenants } : {}),
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
    }, database.ok ? 200 : 503);
  };

  const metrics = async () => {
    // Refresh the gauges that live in the database; serve what we have when it is away.
    await projections().catch(() => {});
    await tenantProjections().catch(() => {});
    await withTimeout(
      context.executor.query<{ state: string; n: number }>(
        `select coalesce(state, 'unknown') as state, count(*)::int as n from pg_stat_activity
          where datname = current_database() and backend_type = 'client backend' group by 1`,
      ),
      timeoutMs,
      "The database",
    ).then((rows) =>
      setConnectionGauges(
        context.executor.maxConnections,
        Object.fromEntries(rows.map((r) => [r.state, r.n])),
      )
    ).catch(() => {});
    return new Response(await metricsRegistry.metrics(), {
      headers: { "content-type": metricsRegistry.contentType, "cache-control": "no-store" },
    });
  };

  return async (request) => {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text("Method not allowed", 405);
    }
    switch (pathname) {
      case "/":
        return await health();
      case "/health/live":
        return text("live");
      case "/health/ready": {
        const database = await ping();
        return database.ok ? text("ready") : text(`not ready: ${database.error}`, 503);
      }
      case "/metrics":
        return await metrics();
      default:
        return text("Not found: try /, /health/live, /health/ready or /metrics", 404);
    }
  };
}

/**
 * The health and metrics handler of a store, to serve with `Deno.serve` or mount in an app.
 *
 * @example Serve health and metrics (port 0: any free port; 8080 in production)
 * ```ts
 * import { healthHandler, Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory");
 * const daemon = store.projections();
 * const server = Deno.serve({ port: 0, onListen() {} }, healthHandler(store, { daemon }));
 * const { port } = server.addr as Deno.NetAddr;
 * console.log((await fetch(`http://localhost:${port}/health/live`)).status); // 200
 * await server.shutdown();
 * ```
 *
 * @param store The store to check.
 * @param options The daemon to report and the readiness timeout.
 * @returns A `(request) => Promise<Response>` handler.
 */
export function healthHandler(
  store: StoreRef,
  options: HealthHandlerOptions = {},
): (request: Request) => Promise<Response> {
  return createHealthHandler(contextOf(store), options);
}

/**
 * Serves a handler with `Deno.serve` until `signal` aborts. It binds at once,
 * so a daemon that serves health starts no work when it cannot.
 *
 * @param handler The handler.
 * @param options Where to listen, and the stop signal.
 * @returns The server (`finished` resolves after shutdown).
 * @throws {Deno.errors.AddrInUse} Naming the address, when something else listens there.
 */
export function serveHealth(
  handler: (request: Request) => Promise<Response>,
  options: HealthServeOptions & { signal?: AbortSignal },
): Deno.HttpServer {
  const hostname = options.hostname ?? "0.0.0.0";
  try {
    return Deno.serve({
      hostname,
      port: options.port,
      signal: options.signal,
      onListen: (address) => options.onListen?.({ hostname: address.hostname, port: address.port }),
    }, handler);
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    const address = hostname.includes(":")
      ? `[${hostname}]:${options.port}`
      : `${hostname}:${options.port}`;
    throw new Deno.errors.AddrInUse(
      `Cannot serve health and metrics on ${address}: something else already listens there ` +
        "(choose another --health-bind)",
      { cause: error },
    );
  }
}

/**
 * Runs `work` while a health server answers, when `options` asks for one. The
 * server is bound before `work` starts, so a taken address stops everything
 * before any work (a daemon takes no lease); it stops with `options.signal`,
 * or at once when `work` fails.
 *
 * @example A daemon with its health server
 * ```ts
 * import { healthHandler, Store, whileServingHealth } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory");
 * const daemon = store.projections();
 * const signal = AbortSignal.timeout(100);
 * await whileServingHealth(
 *   () => healthHandler(store, { daemon }),
 *   { hostname: "127.0.0.1", port: 0, signal },
 *   () => daemon.run({ signal }),
 * );
 * ```
 *
 * @param handler Builds the handler (called only when serving).
 * @param options Where to listen and the stop signal, or `undefined` to serve nothing.
 * @param work The work to run while serving.
 * @returns What `work` returned, once the server has shut down.
 * @throws {Deno.errors.AddrInUse} Naming the address, before `work` starts.
 */
export async function whileServingHealth<T>(
  handler: () => (request: Request) => Promise<Response>,
  options: (HealthServeOptions & { signal?: AbortSignal }) | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const server = options ? serveHealth(handler(), options) : null;
  try {
    return await work();
  } catch (error) {
    await server?.shutdown();
    throw error;
  } finally {
    await server?.finished;
  }
}

/**
 * Parses `host:port` (`0.0.0.0:8080`, `[::1]:9090`, `:8080`).
 *
 * @param bind The address.
 * @returns Hostname and port.
 * @throws {TypeError} When it is not `host:port` with a port from 0 to 65535.
 */
export function parseBind(bind: string): { hostname: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(bind.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65_535) {
    throw new TypeError(`Invalid bind address "${bind}": expected host:port, e.g. 0.0.0.0:8080`);
  }
  return { hostname: match[1] ?? (match[2] || "0.0.0.0"), port };
}
