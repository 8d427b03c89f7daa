/**
 * What every CLI command shares: global options, output, exit codes and a
 * connected store.
 *
 * @module
 */
import type { Command } from "commander";
import { Store } from "../store.ts";
import { RillflowError } from "../errors.ts";
import { loadConfig, type RillflowConfig } from "../config.ts";

/** Exit codes (STYLE.md): success, domain error, usage error, connection error. */
export const EXIT = { ok: 0, domain: 1, usage: 2, connection: 3 } as const;

/** Where the CLI writes. */
export interface CliIo {
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** The environment (for `DATABASE_URL`). */
  env(name: string): string | undefined;
  /** Whether standard error is a terminal (progress is shown only then). */
  errIsTerminal?(): boolean;
}

/** The global options every command accepts. */
export interface GlobalOptions {
  databaseUrl?: string;
  schema: string;
  json?: boolean;
  config?: string;
}

/** A usage error: bad flags or arguments (exit code 2). */
export class UsageError extends Error {
  /** @param message What is wrong and how to fix it. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The state a command run shares with its actions. */
export class CliContext {
  /** The exit code actions may raise to `domain` (1) without throwing. */
  exitCode: number = EXIT.ok;

  /** @param io Where to write and read the environment. */
  constructor(readonly io: CliIo) {}

  /** The global options as seen by `command`. */
  globals(command: Command): GlobalOptions {
    return command.optsWithGlobals() as GlobalOptions;
  }

  /** Prints `value` as JSON when `--json` is set, else the human text. */
  print(command: Command, value: unknown, human: () => string): void {
    if (this.globals(command).json) this.io.out(JSON.stringify(value, null, 2) + "\n");
    else this.io.out(human() + "\n");
  }

  /** Loads the config module named by `--config` (default `rillflow.config.ts`). */
  config(command: Command): Promise<RillflowConfig> {
    return loadConfig(this.globals(command).config ?? "rillflow.config.ts");
  }

  /**
   * Connects with the global options, runs `work` and closes the store.
   *
   * @param command The running command.
   * @param work What to do with the store.
   * @param config A loaded config module, whose databaseUrl/schema apply when the flags are absent.
   */
  async withStore<T>(
    command: Command,
    work: (store: Store) => Promise<T>,
    config?: RillflowConfig,
  ): Promise<T> {
    const options = this.globals(command);
    const schemaSource = command.getOptionValueSourceWithGlobals("schema");
    const schema = schemaSource === "default" && config?.schema ? config.schema : options.schema;
    const url = options.databaseUrl ?? this.io.env("DATABASE_URL") ?? config?.databaseUrl;
    if (!url) throw new UsageError("No database: pass --database-url URL or set DATABASE_URL");
    const store = await Store.connect(url, { schema, autoMigrate: false });
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  }
}

/**
 * Maps an error thrown by a command to its exit code and message.
 *
 * @param error The thrown value.
 * @returns The exit code and the line to print on stderr.
 */
export function exitFor(error: unknown): { code: number; message: string } {
  if (error instanceof RillflowError) {
    return {
      code: error.code === "CONNECTION_ERROR" ? EXIT.connection : EXIT.domain,
      message: `error[${error.code}]: ${error.message}`,
    };
  }
  if (error instanceof UsageError || error instanceof TypeError || error instanceof RangeError) {
    return { code: EXIT.usage, message: `error: ${error.message}` };
  }
  return {
    code: EXIT.domain,
    message: `error: ${error instanceof Error ? error.message : String(error)}`,
  };
}
