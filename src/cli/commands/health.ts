/**
 * `rillflow health …`: checks an operator runs.
 *
 * @module
 */
import type { Command } from "commander";
import { type CliContext, EXIT, UsageError } from "../context.ts";
import type { DriftReport } from "../../schema/schema_manager.ts";

function describe(report: DriftReport, who: string): string {
  return report.ok ? `${who}: no drift.` : [
    `${who}: ${report.items.length} difference(s):`,
    ...report.items.map((item) => `  ${item.kind} ${item.object}: ${item.detail}`),
  ].join("\n");
}

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
    .option("--tenant <name>", "check one tenant's schema")
    .option("--all-tenants", "check every tenant's schema")
    .action(async (flags: { allTenants?: boolean }, command: Command) => {
      // The root parses --tenant wherever it stands, so the global option carries this one too.
      const options = { ...flags, tenant: cli.tenant(command) };
      if (options.tenant && options.allTenants) {
        throw new UsageError("Pass either --tenant or --all-tenants, not both");
      }
      if (!options.tenant && !options.allTenants) {
        const report = await cli.withStore(command, (store) => store.schema.drift());
        if (!report.ok) cli.exitCode = EXIT.domain;
        cli.print(command, report, () => describe(report, `Schema "${report.schema}"`));
        return;
      }
      const reports = await cli.withTenants(command, async (store) => {
        const names = options.tenant ? [options.tenant] : await store.tenants.list();
        const out: Array<{ tenant: string; exists: boolean; report: DriftReport | null }> = [];
        for (const tenant of names) {
          const status = await store.tenants.status(tenant);
          out.push({ tenant, exists: status.exists, report: status.drift });
        }
        return out;
      });
      if (reports.some((r) => !r.report?.ok)) cli.exitCode = EXIT.domain;
      cli.print(
        command,
        { tenants: reports },
        () =>
          reports.length === 0
            ? "No tenants."
            : reports.map((r) =>
              r.report
                ? describe(r.report, `Tenant "${r.tenant}"`)
                : `Tenant "${r.tenant}": does not exist.`
            ).join("\n"),
      );
    });
}
