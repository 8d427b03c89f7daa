/**
 * Subscription metrics, in Rillflow's one registry ({@linkcode metricsRegistry},
 * served at `/metrics` by the health server): deliveries, acks, nacks and dead
 * letters as counters; in-flight events, checkpoint and lag as gauges; all
 * labelled by schema, tenant (empty under the single strategy), subscription
 * and group.
 *
 * @module
 */
import { Counter, Gauge } from "prom-client";
import { promRegistry } from "./metrics.ts";

const registers = [promRegistry];
const labelNames = ["schema", "tenant", "subscription", "group"] as const;

const delivered = new Counter({
  name: "rillflow_subscription_events_delivered_total",
  help: "Events delivered to subscription members (redeliveries included)",
  labelNames,
  registers,
});
const acked = new Counter({
  name: "rillflow_subscription_events_acked_total",
  help: "Events acknowledged (explicitly, in a transaction, or by auto mode)",
  labelNames,
  registers,
});
const nacked = new Counter({
  name: "rillflow_subscription_events_nacked_total",
  help: "Events negatively acknowledged (scheduled for retry or dead-lettered)",
  labelNames,
  registers,
});
const deadLettered = new Counter({
  name: "rillflow_subscription_events_dead_lettered_total",
  help: "Events parked in a subscription's dead-letter queue",
  labelNames,
  registers,
});
const pending = new Gauge({
  name: "rillflow_subscription_pending",
  help: "Events a group's members hold in flight (delivered or reserved, not acknowledged)",
  labelNames,
  registers,
});
const lag = new Gauge({
  name: "rillflow_subscription_lag",
  help: "Global positions between a group's checkpoint and the head",
  labelNames,
  registers,
});
const checkpoint = new Gauge({
  name: "rillflow_subscription_checkpoint",
  help: "A group's checkpoint (global position)",
  labelNames,
  registers,
});

/** The labels of one group's series. */
export interface SubscriptionLabels {
  /** The store's schema. */
  readonly schema: string;
  /** The tenant (schema-per-tenant), or `""` under the single strategy. */
  readonly tenant: string;
  /** The subscription. */
  readonly subscription: string;
  /** The consumer group. */
  readonly group: string;
}

/** The kinds of event counted per group. */
export type SubscriptionCount = "delivered" | "acked" | "nacked" | "deadLettered";

const counters: Record<SubscriptionCount, Counter<typeof labelNames[number]>> = {
  delivered,
  acked,
  nacked,
  deadLettered,
};

/**
 * Counts events delivered, acknowledged, nacked or dead-lettered.
 *
 * @param labels The group.
 * @param kind What happened.
 * @param count How many events (default 1).
 */
export function countSubscriptionEvents(
  labels: SubscriptionLabels,
  kind: SubscriptionCount,
  count = 1,
): void {
  if (count > 0) counters[kind].inc({ ...labels }, count);
}

/**
 * Sets a group's gauges.
 *
 * @param labels The group.
 * @param figures Events in flight, the group's checkpoint and the head.
 */
export function setSubscriptionGauges(
  labels: SubscriptionLabels,
  figures: { inFlight: number; checkpoint: number; head: number },
): void {
  pending.set({ ...labels }, figures.inFlight);
  checkpoint.set({ ...labels }, figures.checkpoint);
  lag.set({ ...labels }, Math.max(0, figures.head - figures.checkpoint));
}
