/**
 * `rillflow upcasters list | path`: inspect the upcaster registry of the config module.
 *
 * @module
 */
import type { Command } from "commander";
import { type CliContext, EXIT, UsageError } from "../context.ts";
import { UpcasterRegistry } from "../../events/upcast_registry.ts";
import { nodeLabel } from "../../events/upcaster.ts";

interface PathOptions {
  fromType: string;
  fromVersion: string;
  toType: string;
  toVersion: string;
}

function version(value: string, flag: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < 1) {
    throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  }
  return parsed;
}

async function registryOf(cli: CliContext, command: Command): Promise<UpcasterRegistry> {
  return (await cli.config(command)).upcasters ?? new UpcasterRegistry();
}

/**
 * Registers the upcaster commands.
 *
 * @param program The root command.
 * @param cli The shared CLI context.
 */
export function registerUpcasterCommands(program: Command, cli: CliContext): void {
  const upcasters = program.command("upcasters")
    .description("inspect the upcasters of the config module (no database needed)");

  upcasters.command("list")
    .description("list the registered upcasters")
    .action(async (_options, command: Command) => {
      const described = (await registryOf(cli, command)).describe();
      cli.print(
        command,
        { upcasters: described },
        () =>
          described.length === 0 ? "No upcasters registered." : [
            `${described.length} upcaster(s):`,
            ...described.map((d) =>
              `  ${nodeLabel([d.fromType, d.fromVersion])} → ${
                nodeLabel([d.toType, d.toVersion])
              }  ${d.async ? "async" : "sync"}${d.description ? `  ${d.description}` : ""}`
            ),
          ].join("\n"),
      );
    });

  upcasters.command("path")
    .description("show the shapes an event goes through from one (type, version) to another")
    .requiredOption("--from-type <type>", "the stored event type")
    .requiredOption("--from-version <n>", "the stored version")
    .requiredOption("--to-type <type>", "the wanted event type")
    .requiredOption("--to-version <n>", "the wanted version")
    .action(async (options: PathOptions, command: Command) => {
      const from: [string, number] = [
        options.fromType,
        version(options.fromVersion, "--from-version"),
      ];
      const to: [string, number] = [options.toType, version(options.toVersion, "--to-version")];
      const path = (await registryOf(cli, command)).findPath(from, to);
      if (!path) cli.exitCode = EXIT.domain;
      cli.print(
        command,
        { from, to, path },
        () =>
          path
            ? `${path.map(nodeLabel).join(" → ")} (${path.length - 1} step(s))`
            : `No upcasting path from ${nodeLabel(from)} to ${nodeLabel(to)}.`,
      );
    });
}
