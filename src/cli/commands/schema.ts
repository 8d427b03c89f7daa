/**
 * `rillflow schema-plan | schema-sync | schema-down`.
 *
 * @module
 */
import type { Command } from "commander";
import { type CliContext, UsageError } from "../context.ts";
import type { MigrationRef } from "../../schema/schema_manager.ts";
import { archiveSchema } from "../../tenancy/archive.ts";
import { contextOf } from "../../_context.ts";

const label = (m: MigrationRef) => `${String(m.version).padStart(4, "0")}_${m.name}`;

/**
 * Registers the schema commands.
 *
 * @param program The root command.
 * @param cli The shared CLI context.
 */
export function registerSchemaCommands(program: Command, cli: CliContext): void {
  program.command("schema-plan")
    .description("list the migrations not yet applied to the schema (empty when up to date)")
    .action(async (_options, command: Command) => {
      const { schema } = cli.globals(command);
      const pending = await cli.withStore(command, (store) => store.schema.plan());
      cli.print(
        command,
        { schema, pending },
        () =>
          pending.length === 0 ? `Schema "${schema}" is up to date: no pending migrations.` : [
            `${pending.length} pending migration(s) for schema "${schema}":`,
            ...pending.map((m) => `  ${label(m)}`),
          ]
            .join("\n"),
      );
    });

  program.command("schema-sync")
    .description("apply every pending migration (safe to run concurrently)")
    .action(async (_options, command: Command) => {
      const { schema } = cli.globals(command);
      const applied = await cli.withStore(command, (store) => store.schema.sync());
      cli.print(
        command,
        { schema, applied },
        () =>
          applied.length === 0 ? `Schema "${schema}" is up to date: nothing to apply.` : [
            `Applied ${applied.length} migration(s) to schema "${schema}":`,
            ...applied.map((m) => `  ${label(m)}`),
          ]
            .join("\n"),
      );
    });

  program.command("schema-down")
    .description("revert applied migrations, newest first (destroys data; needs --force)")
    .option("--to <version>", "keep migrations up to this version (0 reverts all)", "0")
    .option("--force", "confirm that data may be destroyed")
    .action(async (options: { to: string; force?: boolean }, command: Command) => {
      if (!options.force) {
        throw new UsageError("schema-down destroys data: pass --force to confirm");
      }
      const to = Number(options.to);
      if (!Number.isInteger(to) || to < 0) {
        throw new UsageError(`--to must be a non-negative integer, got "${options.to}"`);
      }
      const { schema } = cli.globals(command);
      const reverted = await cli.withStore(command, (store) => store.schema.down(to));
      cli.print(
        command,
        { schema, reverted },
        () =>
          reverted.length === 0 ? `Nothing to revert in schema "${schema}".` : [
            `Reverted ${reverted.length} migration(s) in schema "${schema}":`,
            ...reverted.map((m) => `  ${label(m)}`),
          ]
            .join("\n"),
      );
    });

  program.command("schema-archive")
    .description(
      "write every table of the schema as JSON Lines with a manifest (restorable into a tenant)",
    )
    .requiredOption("--output <dir>", "directory to write")
    .action(async (options: { output: string }, command: Command) => {
      let schema = "";
      const manifest = await cli.withStore(command, (store) => {
        // Under --tenant the view's schema is the tenant's.
        schema = store.schema.schemaName;
        return archiveSchema(contextOf(store).executor, schema, schema, options.output);
      });
      cli.print(command, manifest, () =>
        [
          `Archived schema "${schema}" to ${options.output}:`,
          ...manifest.tables.map((t) => `  ${t.name}: ${t.rows} row(s)`),
        ].join("\n"));
    });
}
