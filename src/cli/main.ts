/**
 * The `rillflow` command line: global options, command groups, exit codes.
 *
 * @module
 */
import { Command, CommanderError } from "commander";
import denoJson from "../../deno.json" with { type: "json" };
import { CliContext, EXIT, exitFor } from "./context.ts";
import type { CliIo } from "./io.ts";
import { registerSchemaCommands } from "./commands/schema.ts";
import { registerHealthCommands } from "./commands/health.ts";
import { registerTenantCommands } from "./commands/tenants.ts";
import { registerDocsCommands } from "./commands/docs.ts";
import { registerUpcasterCommands } from "./commands/upcasters.ts";
import { registerSnapshotCommands } from "./commands/snapshots.ts";
import { registerProjectionCommands } from "./commands/projections.ts";
import { registerSubscriptionCommands } from "./commands/subscriptions.ts";
import { registerStreamsCommands } from "./commands/streams.ts";

const defaultIo: CliIo = {
  out: (text) => void Deno.stdout.writeSync(new TextEncoder().encode(text)),
  err: (text) => void Deno.stderr.writeSync(new TextEncoder().encode(text)),
  env: (name) => Deno.env.get(name),
  errIsTerminal: () => Deno.stderr.isTerminal(),
};

function buildProgram(cli: CliContext): Command {
  const program = new Command("rillflow")
    .description("Rillflow: document and event store on PostgreSQL")
    .version(denoJson.version)
    .option("--database-url <url>", "database URL (default: $DATABASE_URL)")
    .option(
      "--pooler <mode>",
      'a pooler in front of the server: "none" or "transaction" (PgBouncer)',
    )
    .option(
      "--direct-url <url>",
      "URL straight to the server, for LISTEN behind a transaction pooler (default: $DIRECT_DATABASE_URL)",
    )
    .option("--schema <name>", "schema holding Rillflow's tables", "public")
    .option("--json", "print machine-readable JSON")
    .option("--config <path>", "config module with projections, upcasters, …", "rillflow.config.ts")
    .option("--tenant <name>", "run the command in this tenant's schema (schema-per-tenant)")
    .showSuggestionAfterError()
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => cli.io.out(s), writeErr: (s) => cli.io.err(s) });
  registerSchemaCommands(program, cli);
  registerHealthCommands(program, cli);
  registerTenantCommands(program, cli);
  registerDocsCommands(program, cli);
  registerUpcasterCommands(program, cli);
  registerSnapshotCommands(program, cli);
  registerProjectionCommands(program, cli);
  registerSubscriptionCommands(program, cli);
  registerStreamsCommands(program, cli);
  for (const command of allCommands(program)) {
    command.exitOverride().configureOutput({
      writeOut: (s) => cli.io.out(s),
      writeErr: (s) => cli.io.err(s),
    }).showSuggestionAfterError();
    if (command.commands.length > 0 && command !== program) {
      command.action(() => {
        command.outputHelp();
        cli.exitCode = EXIT.usage;
      });
    }
  }
  return program;
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

/**
 * Runs the CLI.
 *
 * @param args The arguments after the program name.
 * @param io Where to write; the process's streams by default.
 * @returns The exit code: 0 success, 1 domain error, 2 usage error, 3 connection error.
 */
export async function main(args: string[], io: CliIo = defaultIo): Promise<number> {
  const cli = new CliContext(io);
  const program = buildProgram(cli);
  if (args.length === 0) {
    program.outputHelp();
    return EXIT.usage;
  }
  try {
    await program.parseAsync(args, { from: "user" });
    return cli.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === "commander.helpDisplayed" || error.code === "commander.version" ||
          error.code === "commander.help"
        ? EXIT.ok
        : EXIT.usage;
    }
    const { code, message } = exitFor(error);
    io.err(message + "\n");
    return code;
  }
}
