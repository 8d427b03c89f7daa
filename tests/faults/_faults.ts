/**
 * What the fault tests share: the second cluster they restart
 * (`.ci/fault_cluster.sh`, URL in `RILLFLOW_FAULT_DATABASE_URL`), retries of
 * work that meets the outage, and a count of them (proof that a fault hit).
 */
import { RillflowError, Store } from "../../mod.ts";

const URL_VAR = "RILLFLOW_FAULT_DATABASE_URL";
/** The main test server, for faults made with a proxy in front of it. */
export const TEST_URL: string | undefined = Deno.env.get("RILLFLOW_TEST_DATABASE_URL");
const FAULT_URL = Deno.env.get(URL_VAR);
const CLUSTER = Deno.env.get("RILLFLOW_FAULT_CLUSTER") ?? "rillflow_faults";

if (!FAULT_URL && Deno.env.get("CI") === "true") {
  throw new Error(`CI=true needs ${URL_VAR} (run .ci/fault_cluster.sh)`);
}
if (!FAULT_URL) console.log(`%cfault tests ignored: set ${URL_VAR}`, "color: yellow");

export function faultTest(name: string, fn: (url: string) => Promise<void>): void {
  Deno.test({
    name,
    ignore: !FAULT_URL,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      // Up, whatever an earlier run left behind ("already running" is fine).
      await cluster("start");
      await fn(FAULT_URL!);
    },
  });
}

/** Runs `pg_ctlcluster ACTION` on the fault cluster. */
async function cluster(...action: string[]): Promise<{ success: boolean; stderr: string }> {
  const version = [...Deno.readDirSync("/etc/postgresql")].map((e) => e.name).sort().at(-1)!;
  const result = await new Deno.Command("pg_ctlcluster", {
    args: ["--skip-systemctl-redirect", version, CLUSTER, ...action],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { success: result.success, stderr: new TextDecoder().decode(result.stderr) };
}

/** Restarts the fault cluster (fast shutdown: open transactions are cut). */
export async function restartServer(): Promise<void> {
  const result = await cluster("restart", "-m", "fast");
  if (!result.success) throw new Error(`restart failed: ${result.stderr}`);
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How many attempts failed with a retryable error so far (proof that the fault hit the work). */
let retried = 0;

/** The retries so far. */
export function retries(): number {
  return retried;
}

/** Runs `work` until it succeeds, retrying retryable errors (the server is away) for 60 s. */
export async function retrying<T>(work: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    try {
      return await work();
    } catch (error) {
      const retryable = error instanceof RillflowError && error.retryable;
      if (!retryable || performance.now() > deadline) throw error;
      retried++;
      await pause(100);
    }
  }
}

export async function openStore(url: string, schema: string): Promise<Store> {
  return await retrying(() =>
    Store.connect(url, { schema, autoMigrate: true, connectTimeoutMs: 2_000, maxConnections: 12 })
  );
}
