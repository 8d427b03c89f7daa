/**
 * `rillflow tenants …`: schema-per-tenant lifecycle.
 *
 * @module
 */
import type { Command } from "commander";
import { type CliContext, EXIT, UsageError } from "../context.ts";
import type { TenantStatus } from "../../tenancy/tenants.ts";

const label = (m: { version: number; name: string }) =>
  `${String(m.version).padStart(4, "0")}_${m.name}`;

/**
 * Describes a tenant's status for people.
 *
 * @param status The status.
 * @returns Lines of text.
 */
export function describeTenantStatus(status: TenantStatus): string {
  if (!status.exists) return `Tenant "${status.tenant}" (schema ${status.schema}) does not exist.`;
  const lines = [
    `Tenant "${status.tenant}" (schema ${status.schema})`,
    `  migrations applied: ${status.applied.map(label).join(", ") || "none"}`,
    `  pending: ${status.pending.map(label).join(", ") || "none"}`,
    `  drift: ${status.drift?.ok ? "none" : `${status.drift?.items.length} difference(s)`}`,
  ];
  for (const item of status.drift?.ok ? [] : status.drift?.items ?? []) {
    lines.push(`    ${item.kind} ${item.object}: ${item.detail}`);
  }
  return lines.join("\n");
}

/**
 * Registers the tenants commands.
 *
 * @param program The root command.
 * @param cli The shared CLI context.
 */
export function registerTenantCommands(program: Command, cli: CliContext): void {
  const tenants = program.command("tenants").description("schema-per-tenant lifecycle");

  tenants.command("ensure <name>")
    .description("provision a tenant: create its schema and apply migrations (idempotent)")
    .action(async (name: string, _options, command: Command) => {
      const applied = await cli.withTenants(command, (store) => store.tenants.ensure(name));
      cli.print(
        command,
        { tenant: name, applied },
        () =>
          applied.length === 0
            ? `Tenant "${name}" is provisioned and up to date.`
            : `Provisioned tenant "${name}": applied ${applied.map(label).join(", ")}.`,
      );
    });

  tenants.command("list")
    .description("list provisioned tenants")
    .action(async (_options, command: Command) => {
      const names = await cli.withTenants(command, (store) => store.tenants.list());
      cli.print(
        command,
        { tenants: names },
        () => names.length === 0 ? "No tenants." : names.join("\n"),
      );
    });

  tenants.command("status <name>")
    .description(
      "schema present, migrations applied and pending, drift (exit 1 when absent or drifting)",
    )
    .action(async (name: string, _options, command: Command) => {
      const status = await cli.withTenants(command, (store) => store.tenants.status(name));
      if (!status.exists || status.pending.length > 0 || !status.drift?.ok) {
        cli.exitCode = EXIT.domain;
      }
      cli.print(command, status, () => describeTenantStatus(status));
    });

  tenants.command("archive <name>")
    .description("write a tenant's tables as JSON Lines with a manifest of counts and checksums")
    .requiredOption("--output <dir>", "directory to write")
    .action(async (name: string, options: { output: string }, command: Command) => {
      const manifest = await cli.withTenants(
        command,
        (store) => store.tenants.archive(name, options.output),
      );
      cli.print(command, manifest, () =>
        [
          `Archived tenant "${name}" to ${options.output}:`,
          ...manifest.tables.map((t) => `  ${t.name}: ${t.rows} row(s)`),
        ].join("\n"));
    });

  tenants.command("restore <name>")
    .description("load an archive into a fresh tenant (verifies checksums and counts)")
    .requiredOption("--input <dir>", "archive directory")
    .action(async (name: string, options: { input: string }, command: Command) => {
      const manifest = await cli.withTenants(
        command,
        (store) => store.tenants.restore(name, options.input),
      );
      cli.print(command, manifest, () =>
        [
          `Restored tenant "${name}" from ${options.input}:`,
          ...manifest.tables.map((t) => `  ${t.name}: ${t.rows} row(s)`),
        ].join("\n"));
    });

  tenants.command("drop <name>")
    .description("drop a tenant's schema and all its data (irreversible; needs --force)")
    .option("--force", "confirm that the tenant's data is destroyed")
    .action(async (name: string, options: { force?: boolean }, command: Command) => {
      if (!options.force) {
        throw new UsageError(`tenants drop destroys tenant "${name}": pass --force to confirm`);
      }
      await cli.withTenants(command, (store) => store.tenants.drop(name));
      cli.print(command, { tenant: name, dropped: true }, () => `Dropped tenant "${name}".`);
    });
}
