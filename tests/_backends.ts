/**
 * Test backends: every integration test runs on a fresh schema against
 * PostgreSQL (RILLFLOW_TEST_DATABASE_URL; required in CI) and on
 * embedded PGlite. Tests that need several connections or processes run on
 * PostgreSQL only, and say why when it is absent.
 */
import { Store, type StoreOptions } from "../mod.ts";
import { storeOnSchema } from "../src/store.ts";
import { contextOf } from "../src/_context.ts";

const CI = Deno.env.get("CI") === "true";

/** The PostgreSQL URL for tests, or undefined when none is configured (never in CI). */
export const SERVER_URL: string | undefined = Deno.env.get("RILLFLOW_TEST_DATABASE_URL");

// CI runs the password path production runs; a trust-auth default would quietly test another.
if (CI && !SERVER_URL) {
  throw new Error(
    "CI=true but RILLFLOW_TEST_DATABASE_URL is not set: .ci/run sets it to the password URL " +
      "that .ci/scram.sh prints",
  );
}

if (!SERVER_URL) {
  console.warn(
    "RILLFLOW_TEST_DATABASE_URL is not set: integration tests run on embedded PGlite only; " +
      "tests that need a PostgreSQL server (several connections or processes) are ignored.",
  );
}

/** A backend a test can run on. */
export interface Backend {
  /** "postgres" or "pglite". */
  readonly name: "postgres" | "pglite";
  /** Opens a store on a fresh schema (migrated unless `autoMigrate: false`). */
  open(options?: StoreOptions): Promise<Store>;
}

/** A unique schema name for one test. */
export function freshSchema(prefix = "t"): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
}

let pgliteStore: Promise<Store> | undefined;

/** One PGlite database per test file (it takes seconds to start); schemas isolate tests. */
function sharedPglite(): Promise<Store> {
  pgliteStore ??= Store.connect("pglite://memory", { autoMigrate: false });
  return pgliteStore;
}

const postgres: Backend = {
  name: "postgres",
  open: (options = {}) =>
    Store.connect(SERVER_URL!, { schema: freshSchema(), autoMigrate: true, ...options }),
};

const pglite: Backend = {
  name: "pglite",
  async open(options = {}) {
    const store = storeOnSchema(await sharedPglite(), options.schema ?? freshSchema(), options);
    if (options.autoMigrate ?? true) await store.schema.sync();
    return store;
  },
};

/** The backends available in this run. */
export const BACKENDS: readonly Backend[] = SERVER_URL ? [postgres, pglite] : [pglite];

/**
 * Registers one test per available backend: `name [postgres]`, `name [pglite]`.
 * The store is closed (and its schema dropped) afterwards.
 */
export function testBoth(
  name: string,
  fn: (store: Store, backend: Backend) => Promise<void>,
  options: StoreOptions = {},
): void {
  perBackend(name, async (backend) => {
    const store = await backend.open(options);
    try {
      await fn(store, backend);
    } finally {
      await dropSchemaAndClose(store);
    }
  });
}

/** Registers `name [backend]` for every available backend. */
function perBackend(name: string, run: (backend: Backend) => Promise<void>): void {
  for (const backend of BACKENDS) {
    Deno.test({
      name: `${name} [${backend.name}]`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: () => run(backend),
    });
  }
}

/** Registers a test that needs a real server; without one it is ignored with a printed reason. */
export function testServer(name: string, fn: (url: string) => Promise<void>): void {
  Deno.test({
    name: `${name} [postgres]`,
    ignore: !SERVER_URL,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => fn(SERVER_URL!),
  });
}

/** Drops the store's schema and closes it. */
export async function dropSchemaAndClose(store: Store): Promise<void> {
  const { executor, schema } = contextOf(store);
  await executor.query(`drop schema if exists "${schema}" cascade`);
  await store.close();
}

let pgliteTenantStore: Promise<Store> | undefined;

/** The backends for schema-per-tenant tests: a store per backend, shared per file. */
export function testTenancy(
  name: string,
  fn: (store: Store, tenant: () => string) => Promise<void>,
  options: StoreOptions = {},
): void {
  perBackend(name, async (backend) => {
    const tenancy = { strategy: "schema-per-tenant" as const, ...options.tenancy };
    const store = backend.name === "postgres"
      ? await Store.connect(SERVER_URL!, { ...options, tenancy })
      : options.tenancy
      ? await Store.connect("pglite://memory", { ...options, tenancy })
      : await (pgliteTenantStore ??= Store.connect("pglite://memory", { tenancy }));
    const created: string[] = [];
    const tenant = () => {
      const t = `t${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
      created.push(t);
      return t;
    };
    try {
      await fn(store, tenant);
    } finally {
      const { executor } = contextOf(store);
      for (const t of created) {
        await executor.query(`drop schema if exists "tenant_${t}" cascade`);
      }
      if (backend.name === "postgres" || options.tenancy) await store.close();
    }
  });
}
