/**
 * An example config module: the projections `rillflow projections …` runs.
 *
 *   deno task daemon                       # run-loop on this config (health on :8080)
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test deno task daemon
 *   deno run -A cli.ts --config examples/rillflow.config.ts projections list
 *
 * Without DATABASE_URL (or --database-url) it uses an embedded database in
 * `.rillflow/daemon`, which only one process can open at a time.
 */
import { defineConfig, multiStreamProjection, viewProjection } from "../mod.ts";

/** Per customer: orders placed and revenue, from OrderPlaced events of every order stream. */
export const orderTotals = viewProjection({
  table: "order_totals",
  eventTypes: ["OrderPlaced"],
  key: "customerId",
  count: "orders",
  sums: { revenue: "amount" },
});

export interface CustomerActivity {
  placed: number;
  shipped: number;
  lastOrderId: string | null;
}

/** Per customer: a JSON summary folded from order and shipment events. */
export const customerActivity = multiStreamProjection<CustomerActivity>({
  table: "customer_activity",
  eventTypes: ["OrderPlaced", "OrderShipped"],
  key: "customerId",
  initial: () => ({ placed: 0, shipped: 0, lastOrderId: null }),
  evolve: (state, event) => {
    const data = event.data as { orderId: string };
    return event.type === "OrderPlaced"
      ? { ...state, placed: state.placed + 1, lastOrderId: data.orderId }
      : { ...state, shipped: state.shipped + 1 };
  },
});

export default defineConfig({
  databaseUrl: Deno.env.get("DATABASE_URL") ?? "pglite:.rillflow/daemon",
  projections: {
    order_totals: orderTotals,
    customer_activity: customerActivity,
  },
  daemon: {
    batchSize: 500,
    leaseTtlMs: 30_000,
    backoff: { baseMs: 500, maxMs: 60_000, maxAttempts: 5 },
  },
});
