/**
 * Moved to `src/processing/dead_letters.ts`. This re-export keeps the old path
 * for `daemon.ts` and `src/cli/commands/_projection_text.ts` until their
 * imports point there.
 *
 * @module
 */
export type { DeadLetter } from "../processing/dead_letters.ts";
