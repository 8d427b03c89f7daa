/**
 * `rillflow health …`: checks an operator runs.
 *
 * @module
 */
import type { Command } from "commander";
import { type CliContext, EXIT } from "../context.ts";

/**
 * Registers the health commands.
 *
 * @param program The root command.
 * @param cli The shared CLI context.
 */
export function registerHealthCommands(program: Command, cli: CliContext): void {
  const health = program.command("health").description("health checks");
  health.command("schema")
    .description("compare applied migrations and the catalog with this version's (exit 1 on drift)")
    .action(async (_options, command: Command) => {
      const report = await cli.withStore(command, (store) => store.schema.drift());
      if (!report.ok) cli.exitCode = EXIT.domain;
      cli.print(command, report, () =>
        report.ok ? `Schema "${report.schema}": no drift.` : [
          `Schema "${report.schema}": ${report.items.length} difference(s):`,
          ...report.items.map((item) => `  ${item.kind} ${item.object}: ${item.detail}`),
        ].join("\n"));
    });
}
