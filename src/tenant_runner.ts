/**
 * The all-tenants supervisor: one projection daemon per tenant of a
 * schema-per-tenant store (each with its own checkpoints in its tenant's
 * `projections` table), tenants provisioned while it runs picked up, tenants
 * dropped while it runs stopped, one health server for all.
 *
 * @module
 */
import {
  healthHandler,
  type HealthServeOptions,
  whileServingHealth,
} from "./observability/health_server.ts";
import { Wakeup } from "./db/notify_listener.ts";
import type { Store } from "./store.ts";
import type { ProjectionDaemon } from "./projections/daemon.ts";
import {
  type ProjectionDaemonOptions,
  resolveDaemonOptions,
} from "./projections/daemon_options.ts";

/** Options of {@linkcode runAllTenants}. */
export interface RunAllTenantsOptions {
  /** Stops every tenant's daemon (current batches finish, leases are released). */
  signal: AbortSignal;
  /** LISTEN for appends (default `true`): one listening connection per tenant. */
  useNotify?: boolean;
  /** How often to look for tenants provisioned or dropped meanwhile (default 5 000 ms). */
  discoverIntervalMs?: number;
  /** Options of every tenant's daemon (batch size, lease, backoff, polling, node, onError). */
  daemon?: ProjectionDaemonOptions;
  /**
   * Apply a tenant's pending migrations (`tenants.ensure`) before starting it. Without it a
   * tenant with pending migrations is reported once and skipped until they are applied.
   */
  migrate?: boolean;
  /** Serve one health server for every tenant: `/` lists projections per tenant. */
  health?: HealthServeOptions;
  /** Called when a tenant's daemon starts. */
  onTenantStart?: (tenant: string, daemon: ProjectionDaemon) => void;
  /** Called when a tenant's daemon has stopped (shutdown, or the tenant was dropped). */
  onTenantStop?: (tenant: string) => void;
}

interface Running {
  readonly daemon: ProjectionDaemon;
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

/** The supervisor's state: running daemons by tenant, tenants skipped for pending migrations. */
class TenantRunner {
  readonly running = new Map<string, Running>();
  readonly #skipped = new Set<string>();
  readonly #onError: NonNullable<ProjectionDaemonOptions["onError"]>;

  constructor(
    readonly store: Store,
    readonly register: (daemon: ProjectionDaemon, tenant: string) => void,
    readonly options: RunAllTenantsOptions,
  ) {
    this.#onError = resolveDaemonOptions(options.daemon).onError;
  }

  /** Starts daemons for new tenants and stops those of tenants that are gone. */
  async discover(): Promise<void> {
    let tenants: string[];
    try {
      tenants = await this.store.tenants.list();
    } catch (error) {
      this.#onError(error, { during: "listing tenants" });
      return;
    }
    const present = new Set(tenants);
    for (const [tenant, running] of this.running) {
      if (!present.has(tenant)) running.controller.abort();
    }
    for (const tenant of tenants) {
      if (this.options.signal.aborted) return;
      if (!this.running.has(tenant)) await this.#start(tenant);
    }
  }

  async #start(tenant: string): Promise<void> {
    const view = this.store.forTenant(tenant);
    try {
      if (this.options.migrate) await this.store.tenants.ensure(tenant);
      const pending = await view.schema.plan();
      if (pending.length > 0) {
        if (!this.#skipped.has(tenant)) {
          this.#skipped.add(tenant);
          this.#onError(
            new Error(
              `Tenant "${tenant}" has ${pending.length} pending migration(s): run ` +
                `"rillflow tenants ensure ${tenant}" (or run with --migrate); skipped until then`,
            ),
            { during: `starting tenant "${tenant}"` },
          );
        }
        return;
      }
    } catch (error) {
      // Dropped between listing and starting, or the database is away: the next round retries.
      this.#onError(error, { during: `starting tenant "${tenant}"` });
      return;
    }
    this.#skipped.delete(tenant);
    const daemon = view.projections(this.options.daemon);
    this.register(daemon, tenant);
    const controller = new AbortController();
    const stop = () => controller.abort();
    this.options.signal.addEventListener("abort", stop, { once: true });
    const done = daemon.run({ signal: controller.signal, useNotify: this.options.useNotify })
      .catch((error) => this.#onError(error, { during: `running tenant "${tenant}"` }))
      .finally(() => {
        this.options.signal.removeEventListener("abort", stop);
        this.running.delete(tenant);
        this.options.onTenantStop?.(tenant);
      });
    this.running.set(tenant, { daemon, controller, done });
    this.options.onTenantStart?.(tenant, daemon);
  }

  /** Stops every running daemon and waits for them. */
  async stopped(): Promise<void> {
    for (const running of this.running.values()) running.controller.abort();
    while (this.running.size > 0) {
      await Promise.all([...this.running.values()].map((r) => r.done));
    }
  }
}

/**
 * Runs every registered projection for every tenant until `signal` aborts: one
 * daemon per tenant (`store.forTenant(t).projections(options.daemon)`), so each
 * tenant has its own checkpoints, leases and dead letters. Every
 * `discoverIntervalMs` it lists the tenants again: new ones start, dropped ones
 * stop. Resolves once every daemon has stopped and released its leases.
 *
 * @example Run two projections for every tenant until Ctrl-C
 * ```ts ignore
 * import { runAllTenants, Store } from "@rillflow/rillflow";
 *
 * const store = await Store.connect(Deno.env.get("DATABASE_URL")!, {
 *   tenancy: { strategy: "schema-per-tenant" },
 * });
 * const controller = new AbortController();
 * Deno.addSignalListener("SIGINT", () => controller.abort());
 * await runAllTenants(store, (daemon) => {
 *   daemon.register("order_totals", { apply: async () => {} });
 * }, { signal: controller.signal, discoverIntervalMs: 5_000 });
 * await store.close();
 * ```
 *
 * @param store A schema-per-tenant store.
 * @param register Registers the projections on each tenant's daemon.
 * @param options The stop signal, notification use, discovery interval, daemon options,
 *   migration and an optional health server.
 * @throws {RillflowError} `INVALID_INPUT` when the store is not schema-per-tenant.
 * @throws {RangeError} For a non-positive discovery interval or out-of-range daemon options.
 */
export async function runAllTenants(
  store: Store,
  register: (daemon: ProjectionDaemon, tenant: string) => void,
  options: RunAllTenantsOptions,
): Promise<void> {
  const discoverIntervalMs = options.discoverIntervalMs ?? 5_000;
  if (!Number.isSafeInteger(discoverIntervalMs) || discoverIntervalMs < 1) {
    throw new RangeError(
      `discoverIntervalMs must be a positive integer, got ${options.discoverIntervalMs}`,
    );
  }
  resolveDaemonOptions(options.daemon);
  // Fails fast (INVALID_INPUT) on a single-tenant store; any valid name serves the check.
  store.forTenant("probe");
  const runner = new TenantRunner(store, register, options);
  const sleeper = new Wakeup();
  await whileServingHealth(
    () =>
      healthHandler(store, {
        tenantDaemons: () => new Map([...runner.running].map(([t, r]) => [t, r.daemon])),
      }),
    options.health && { ...options.health, signal: options.signal },
    async () => {
      try {
        while (!options.signal.aborted) {
          await runner.discover();
          await sleeper.wait(discoverIntervalMs, options.signal);
        }
      } finally {
        await runner.stopped();
      }
    },
  );
}
