/**
 * The store-wide settings the events layer reads, beyond the neutral ones of
 * `StoreSettings`: upcasting, event schemas and inline projections. The store
 * makes every context with them (`store.ts`); parts read them through
 * {@linkcode eventSettings}, so the context itself imports nothing from the
 * events layer above it.
 *
 * @module
 */
import type { StoreContext, StoreSettings } from "../_context.ts";
import type { EventEnvelope } from "./envelope.ts";
import type { EventSchemas } from "./event_schemas.ts";
import type { Projection } from "./projection.ts";
import type { UpcasterRegistry } from "./upcast_registry.ts";

/** Every setting a store context carries: the neutral ones and the events layer's. */
export interface EventSettings extends StoreSettings {
  /**
   * Brings stored envelopes to their current shape. Every read path (streams,
   * global reads, aggregates, projections, subscriptions) passes its envelopes
   * through it. The identity unless upcasters are configured.
   */
  readonly upcast: (envelopes: EventEnvelope[]) => Promise<EventEnvelope[]>;
  /**
   * The registry behind `upcast`, when configured: appends read the current
   * version of a type from it, and readers filtering by type select the stored
   * types renamed into the wanted ones (`storedTypesFor`).
   */
  readonly upcasters?: UpcasterRegistry;
  /** Projections run inside every append's transaction, by name. */
  readonly inlineProjections: ReadonlyMap<string, Projection>;
  /** JSON Schemas that appended event data must satisfy, when configured. */
  readonly eventSchemas?: EventSchemas;
}

/**
 * The settings of a store context, the events layer's included (`store.ts`
 * makes every context with {@linkcode EventSettings}).
 *
 * @param context The store context.
 * @returns Its settings.
 */
export function eventSettings(context: StoreContext): EventSettings {
  return context.settings as EventSettings;
}
