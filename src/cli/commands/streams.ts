/**
 * `rillflow streams …`: stream aliases and metadata.
 *
 * @module
 */
import type { Command } from "commander";
import { type CliContext, EXIT } from "../context.ts";
import type { StreamInfo } from "../../events/streams.ts";

function describeInfo(info: StreamInfo): string {
  return [
    `Stream ${info.streamId}`,
    `  version:  ${info.version}`,
    `  category: ${info.category ?? "(none)"}`,
    `  archived: ${info.archived ? "yes" : "no"}`,
    `  aliases:  ${info.aliases.length ? info.aliases.join(", ") : "(none)"}`,
    `  created:  ${info.createdAt.toISOString()}`,
    `  updated:  ${info.updatedAt.toISOString()}`,
  ].join("\n");
}

/**
 * Registers the streams commands.
 *
 * @param program The root command.
 * @param cli The shared CLI context.
 */
export function registerStreamsCommands(program: Command, cli: CliContext): void {
  const streams = program.command("streams").description("stream aliases and metadata");
  streams.command("resolve")
    .description("print the stream id of an alias, creating it on first use")
    .argument("<alias>", 'the alias, e.g. "orders:42" (category: the part before ":")')
    .action(async (alias: string, _options, command: Command) => {
      const streamId = await cli.withStore(command, (store) => store.streams.resolve(alias));
      cli.print(command, { alias, streamId }, () => streamId);
    });
  streams.command("show")
    .description("show a stream's version, category, archived flag and aliases (exit 1 if unknown)")
    .argument("<stream>", "a stream id or alias (an unknown alias is not created)")
    .action(async (stream: string, _options, command: Command) => {
      const info = await cli.withStore(command, (store) => store.streams.describe(stream));
      if (!info) {
        cli.exitCode = EXIT.domain;
        cli.io.err(`error: no stream with id or alias ${JSON.stringify(stream)}\n`);
        return;
      }
      cli.print(command, info, () => describeInfo(info));
    });
}
