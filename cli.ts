/**
 * The `rillflow` command line. Run `deno run -A cli.ts --help`.
 *
 * @module
 */
import { main } from "./src/cli/main.ts";

export { main };
export type { CliIo } from "./src/cli/io.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
