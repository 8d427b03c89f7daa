/**
 * Moved to `src/processing/lease.ts`. This re-export keeps the old path for
 * `daemon.ts` until its import points there.
 *
 * @module
 */
export { releaseLease } from "../processing/lease.ts";
